"""Where each piece of a dataset lives, relative to the store root.

    datasets/<name>/DATASET                        creation record (JSON, holds the name as written)
    datasets/<name>/DELETED                        soft-delete marker (JSON)
    datasets/<name>/HEAD                           the latest version id
    datasets/<name>/versions/<version_id>.json     one manifest per version
    datasets/<name>/objects/<sha[:2]>/<sha[2:]>    file contents, by sha256
    curators/<curator>/start.json                  a curator's first-deployment start (JSON, write-once)
    curators/<curator>/grid.json                   a curator's dataset and grid history (JSON ref, CAS)
    curators/<curator>/spec.json                   a registered curator's definition (JSON ref, CAS)

``<name>`` and ``<curator>`` are keys (:func:`curation_pipeline.names.name_key`):
a name that is not a valid key (``My Data``) lives under its key (``my-data``).
"""

from __future__ import annotations

from curation_pipeline.names import name_key

DATASETS = "datasets/"
CURATORS = "curators/"


def dataset_prefix(name: str) -> str:
    """The folder holding everything of dataset ``name`` (under its key)."""
    return f"{DATASETS}{name_key(name)}/"


def created_key(name: str) -> str:
    """The creation record: a dataset exists iff this key does."""
    return f"{dataset_prefix(name)}DATASET"


def deleted_key(name: str) -> str:
    """The soft-delete marker."""
    return f"{dataset_prefix(name)}DELETED"


def head_key(name: str) -> str:
    """The ref holding the latest version id."""
    return f"{dataset_prefix(name)}HEAD"


def versions_prefix(name: str) -> str:
    """The folder of manifests."""
    return f"{dataset_prefix(name)}versions/"


def manifest_key(name: str, version_id: str) -> str:
    """The manifest of one version."""
    return f"{versions_prefix(name)}{version_id}.json"


def objects_prefix(name: str) -> str:
    """The folder of content-addressed objects."""
    return f"{dataset_prefix(name)}objects/"


def object_key(name: str, sha256: str) -> str:
    """The object holding the content whose sha256 is ``sha256``."""
    return f"{objects_prefix(name)}{sha256[:2]}/{sha256[2:]}"


def sha_from_object_key(name: str, key: str) -> str:
    """Inverse of :func:`object_key`."""
    return key[len(objects_prefix(name)) :].replace("/", "", 1)


def version_from_manifest_key(name: str, key: str) -> str:
    """Inverse of :func:`manifest_key`."""
    return key[len(versions_prefix(name)) :].removesuffix(".json")


def curator_start_key(curator: str) -> str:
    """The write-once record of when curator ``curator`` starts (see :mod:`curation_pipeline.store.starts`)."""
    return f"{CURATORS}{name_key(curator)}/start.json"


def curator_grid_key(curator: str) -> str:
    """The ref holding curator ``curator``'s dataset and grid history (see :mod:`curation_pipeline.store.grids`)."""
    return f"{CURATORS}{name_key(curator)}/grid.json"


def curator_spec_key(curator: str) -> str:
    """The registry entry of a curator created through the Python API (see :mod:`curation_pipeline.registry`)."""
    return f"{CURATORS}{name_key(curator)}/spec.json"
