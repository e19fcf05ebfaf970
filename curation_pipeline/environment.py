"""Every environment variable the project reads, and the defaults behind them.

Only names and readers live here; nothing is read at import time. Each reader
takes an optional mapping (``os.environ`` when None) so callers and tests can
pass their own environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from curation_pipeline.errors import CurationError

#: Where the store (datasets and streams) lives: ``s3://bucket/prefix``, ``file:///path`` or a path.
STORE_URL_ENV = "CURATION_STORE_URL"
#: The store used when neither an argument nor :data:`STORE_URL_ENV` names one.
DEFAULT_STORE_URL = "./.curation"

#: An S3-compatible endpoint (MinIO, LocalStack, moto) for ``s3://`` stores.
S3_ENDPOINT_URL_ENV = "CURATION_S3_ENDPOINT_URL"
#: The region of the store's bucket.
S3_REGION_ENV = "CURATION_S3_REGION"

#: AWS's own settings, read after the project's (boto3 and the AWS CLI read them too).
AWS_ENDPOINT_URL_S3_ENV = "AWS_ENDPOINT_URL_S3"
AWS_ENDPOINT_URL_ENV = "AWS_ENDPOINT_URL"
AWS_REGION_ENV = "AWS_REGION"
AWS_DEFAULT_REGION_ENV = "AWS_DEFAULT_REGION"

#: Seconds one S3 request keeps being retried before it fails (see ``curation_pipeline.location.S3Limits``).
S3_DEADLINE_ENV = "CURATION_S3_DEADLINE"

#: The S3 endpoint: the first of these that is set wins.
S3_ENDPOINT_ENVS: tuple[str, ...] = (S3_ENDPOINT_URL_ENV, AWS_ENDPOINT_URL_S3_ENV, AWS_ENDPOINT_URL_ENV)
#: The S3 region: the first of these that is set wins.
S3_REGION_ENVS: tuple[str, ...] = (S3_REGION_ENV, AWS_REGION_ENV, AWS_DEFAULT_REGION_ENV)

#: A YAML file of curators replacing the built-in catalogue.
CURATORS_FILE_ENV = "CURATION_CURATORS_FILE"
#: Windows per run of a backfill (``BackfillPolicy.multi_run``).
PARTITIONS_PER_RUN_ENV = "CURATION_BACKFILL_PARTITIONS_PER_RUN"
#: The author recorded on dataset versions (else the OS user name).
AUTHOR_ENV = "CURATION_AUTHOR"
#: Dagster's instance folder, where `curation curators enable/disable/status` find the live switches.
DAGSTER_HOME_ENV = "DAGSTER_HOME"
#: Gantry's variable for the folder datasets are pulled under (``curation_pipeline.gantry.dataset``).
GANTRY_DATASET_WORKING_DIR_ENV = "GANTRY_DATASET_WORKING_DIR"


def first_set(names: Sequence[str], environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the first variable in ``names`` that is set and not empty, else None."""
    environ = os.environ if environ is None else environ
    return next((environ[name] for name in names if environ.get(name)), None)


def store_url(environ: Mapping[str, str] | None = None) -> str:
    """``$CURATION_STORE_URL``, else :data:`DEFAULT_STORE_URL`."""
    return first_set((STORE_URL_ENV,), environ) or DEFAULT_STORE_URL


def s3_endpoint_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The S3 endpoint from the environment (see :data:`S3_ENDPOINT_ENVS`), else None."""
    return first_set(S3_ENDPOINT_ENVS, environ)


def s3_region(environ: Mapping[str, str] | None = None) -> str | None:
    """The S3 region from the environment (see :data:`S3_REGION_ENVS`), else None."""
    return first_set(S3_REGION_ENVS, environ)


def s3_deadline(environ: Mapping[str, str] | None = None) -> str | None:
    """``$CURATION_S3_DEADLINE`` as text (seconds), else None."""
    return first_set((S3_DEADLINE_ENV,), environ)


def curators_file(environ: Mapping[str, str] | None = None) -> str | None:
    """``$CURATION_CURATORS_FILE`` (the YAML catalogue to serve), else None."""
    return first_set((CURATORS_FILE_ENV,), environ)


def author(environ: Mapping[str, str] | None = None) -> str | None:
    """``$CURATION_AUTHOR`` (the author recorded on dataset versions), else None."""
    return first_set((AUTHOR_ENV,), environ)


def gantry_dataset_working_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """``$GANTRY_DATASET_WORKING_DIR`` (Gantry's folder datasets are pulled under), else None."""
    return first_set((GANTRY_DATASET_WORKING_DIR_ENV,), environ)


def dagster_home(environ: Mapping[str, str] | None = None) -> str | None:
    """``$DAGSTER_HOME`` (the Dagster instance's folder), else None."""
    return first_set((DAGSTER_HOME_ENV,), environ)


def partitions_per_run(environ: Mapping[str, str] | None = None, *, default: int) -> int:
    """``$CURATION_BACKFILL_PARTITIONS_PER_RUN`` as a positive whole number, else ``default``.

    Raises:
        InvalidSettingError: the variable is set to anything but a positive whole number.
    """
    text = first_set((PARTITIONS_PER_RUN_ENV,), environ)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidSettingError(f"{PARTITIONS_PER_RUN_ENV} must be a positive whole number, got {text!r}")
    return value


class InvalidSettingError(CurationError, ValueError):
    """An environment variable holds a value the project cannot use (the message names it)."""
