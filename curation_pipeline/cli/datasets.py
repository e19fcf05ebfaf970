"""``curation datasets ...``: the versioned dataset store from a shell.

One short function per verb calls :mod:`curation_pipeline.store`; store
errors become one line on stderr and a distinct exit code at the command
line's one boundary, :mod:`curation_pipeline.cli.output`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from curation_pipeline.cli.output import (
    with_keys,
    EXIT_CODES_HELP,
    CurationGroup,
    about_dataset,
    echo_fields,
    echo_json,
    echo_table,
)
from curation_pipeline.curators.intervals import format_interval, parse_interval
from curation_pipeline.location import resolve_location
from curation_pipeline.names import name_key
from curation_pipeline.store import (
    CommitResult,
    CorruptObjectError,
    Dataset,
    DatasetDeletedError,
    DatasetNotDeletedError,
    DatasetStore,
    FileDiff,
    Version,
)
from curation_pipeline.store.localfiles import regular_file, walk_files
from curation_pipeline.store.pathsets import as_folder

#: Transfers smaller than this finish too quickly to deserve a progress bar.
PROGRESS_MIN_BYTES = 4 << 20
SHORT_ID = 12
GC_KEYS_SHOWN = 20


@dataclass
class Session:
    """What the verbs share: the store (opened on first use)."""

    store_url: str | None
    deadline: float | None = None
    _store: DatasetStore | None = field(default=None, repr=False)

    @property
    def store(self) -> DatasetStore:
        """The store at ``--store``, else ``$CURATION_STORE_URL``, else ``./.curation`` (read now).

        For ``s3://`` stores, the endpoint and region follow
        :func:`~curation_pipeline.location.resolve_location`, as they do for Dagster.
        """
        if self._store is None:
            self._store = DatasetStore.open(location=resolve_location(self.store_url, deadline=self.deadline))
        return self._store

    def dataset(self, name: str) -> Dataset:
        """The live dataset ``name``."""
        about_dataset(name)
        return self.store.get_dataset(name)


def _valid_text(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse text that cannot be stored as UTF-8 (a lone surrogate from undecodable bytes in argv)."""
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise click.BadParameter(f"{value!r} is not valid Unicode (undecodable bytes?)") from None
    return value


class IntervalType(click.ParamType):
    """A duration such as ``0``, ``30m``, ``1h`` or ``PT1H``."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        try:
            return parse_interval(value, allow_zero=True)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
pass_session = click.make_pass_decorator(Session)


@click.group("datasets", cls=CurationGroup, epilog=EXIT_CODES_HELP)
@click.option(
    "--store", "store_url", metavar="URL", default=None,
    help="Store URL: s3://bucket/prefix, file:///path or a path. "
    "Default: $CURATION_STORE_URL, else ./.curation.",
)
@click.option(
    "--deadline", "deadline", metavar="SECONDS", type=click.FloatRange(min=0, min_open=True), default=None,
    help="S3 only: seconds each request keeps being retried before the command fails "
    "(a dead endpoint fails within this plus 25 s). Default: $CURATION_S3_DEADLINE, else 60.",
)
@click.pass_context
def datasets(ctx: click.Context, store_url: str | None, deadline: float | None) -> None:
    """Versioned datasets: inspect, pull, push, remove, diff, roll back, delete.

    VERSION arguments take a full version id, a unique prefix of at least 8
    hex characters, or HEAD.
    """
    ctx.obj = Session(store_url, deadline)


# -- reading -------------------------------------------------------------------


@datasets.command("list")
@click.option("--all", "include_deleted", is_flag=True, help="Include soft-deleted datasets.")
@json_option
@pass_session
def list_(session: Session, include_deleted: bool, as_json: bool) -> None:
    """Datasets in the store, with their latest version."""
    store = session.store
    live = store.list_datasets()
    names = store.list_datasets(include_deleted=True) if include_deleted else live
    heads = {name: _head(store, name) if name in live else None for name in names}
    if as_json:
        rows = [_dataset_summary(n, n not in live, v) for n, v in heads.items()]
        echo_json({"store": store.url, "datasets": rows})
        return
    if not names:
        click.echo(f"No datasets in {store.url}")
        return
    columns = ("NAME", "HEAD", "UPDATED", "FILES", "SIZE") + (("STATUS",) if include_deleted else ())
    rows = [_dataset_row(name, head, name in live)[: len(columns)] for name, head in heads.items()]
    echo_table(*with_keys(columns, rows, list(heads)))


@datasets.command("versions")
@click.argument("name")
@json_option
@pass_session
def versions(session: Session, name: str, as_json: bool) -> None:
    """Versions of NAME reachable from HEAD, newest first."""
    dataset = session.dataset(name)
    found = dataset.list_versions()
    if as_json:
        echo_json({"dataset": name, "store": dataset.store_url, "versions": [_version_summary(v) for v in found]})
        return
    if not found:
        click.echo(f"Dataset {name!r} has no versions yet")
        return
    rows = [
        (_short(v.version_id), _time(v.created_at), v.author, _count(len(v.files)), _size(v.size), v.message)
        for v in found
    ]
    echo_table(("VERSION", "CREATED", "AUTHOR", "FILES", "SIZE", "MESSAGE"), rows)


@datasets.command("show")
@click.argument("name")
@click.argument("version", required=False)
@json_option
@pass_session
def show(session: Session, name: str, version: str | None, as_json: bool) -> None:
    """One version of NAME (default HEAD) and its files."""
    dataset = session.dataset(name)
    found = dataset.get_version(_version(version))
    if as_json:
        echo_json({"dataset": name, "store": dataset.store_url, **found.to_dict(), "bytes": found.size})
        return
    fields = [
        ("dataset", name),
        ("version", found.version_id),
        ("parent", found.parent or "-"),
        ("created", _time(found.created_at)),
        ("author", found.author),
        ("message", found.message),
        ("files", f"{_count(len(found.files))} ({_size(found.size)})"),
        *((f"metadata.{k}", json.dumps(v)) for k, v in sorted(found.metadata.items())),
        ("store", dataset.store_url),
    ]
    echo_fields(fields)
    if found.files:
        click.echo()
        rows = [(path, _size(e.size), e.sha256[:SHORT_ID]) for path, e in found.files.items()]
        echo_table(("PATH", "SIZE", "SHA256"), rows)


@datasets.command("diff")
@click.argument("name")
@click.argument("a", metavar="A")
@click.argument("b", metavar="[B]", required=False)
@json_option
@pass_session
def diff(session: Session, name: str, a: str, b: str | None, as_json: bool) -> None:
    """Changes from version A to version B (default HEAD).

    Lists files added (A), removed (D) and changed (M), with row counts of
    Parquet files (read from their footers) and sizes of other files.
    """
    dataset = session.dataset(name)
    result = dataset.diff(dataset.resolve_version(_version(a)), _version(b))
    if as_json:
        echo_json(result.to_dict())
        return
    click.echo(f"{name} {_short(result.a)}..{_short(result.b)}")
    for mark, files in (("A", result.added), ("D", result.removed), ("M", result.changed)):
        for f in files:
            click.echo(f"{mark}  {f.path}  {_change(f)}")
    counts = (
        f"{len(result.added)} added, {len(result.removed)} removed, {len(result.changed)} changed, "
        f"{result.unchanged} unchanged"
    )
    differing = (*result.added, *result.removed, *result.changed)
    has_rows = any(f.old_rows is not None or f.new_rows is not None for f in differing)
    click.echo(f"{counts}; rows {result.rows_before:,} -> {result.rows_after:,}" if has_rows else counts)


# -- transfers -------------------------------------------------------------------


@datasets.command("pull")
@click.argument("name")
@click.option("--version", "version", metavar="VERSION", default=None, help="Version to pull (default HEAD).")
@click.option(
    "--to", "to", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder to pull into (default ./KEY: NAME, or its key when NAME is no valid key); only files that differ are downloaded.",
)
@click.option("--force", is_flag=True, help="Discard local changes in the folder instead of refusing.")
@json_option
@pass_session
def pull(session: Session, name: str, version: str | None, to: Path | None, force: bool, as_json: bool) -> None:
    """Download a version of NAME into a folder (a working copy)."""
    dataset = session.dataset(name)
    folder = to if to is not None else Path(name_key(name))  # a folder is named by the key, not "My Data"
    with Progress("Downloading") as progress:
        result = dataset.pull(_version(version), to=folder, forced=force, progress=progress)
    if as_json:
        echo_json({"dataset": name, "folder": str(folder), **result.to_dict()})
        return
    click.echo(
        f"Pulled {name} {_short(result.version_id)} into {folder}: {_count(len(result.downloaded))} downloaded "
        f"({_size(result.bytes_downloaded)}), {result.unchanged} unchanged, {len(result.deleted)} deleted"
    )


@datasets.command("push")
@click.argument("name")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-m", "--message", required=True, callback=_valid_text, help="Commit message.")
@click.option("--to-path", "prefix", metavar="PREFIX", default="", help="Folder in the dataset to put the files under.")
@click.option(
    "--parent", "parent", metavar="VERSION", default=None,
    help="Only commit if HEAD is still VERSION (exit 4 otherwise).",
)
@click.option(
    "--delete", "mirror", is_flag=True,
    help="Make PREFIX (default: the whole dataset) mirror PATH...: remove the base version's files under it "
    "that are not pushed. The base is --parent, else HEAD when the push starts; without --parent, files "
    "committed meanwhile under PREFIX by someone else are kept (the change re-applies on the newer HEAD).",
)
@json_option
@pass_session
def push(
    session: Session,
    name: str,
    paths: tuple[Path, ...],
    message: str,
    prefix: str,
    parent: str | None,
    mirror: bool,
    as_json: bool,
) -> None:
    """Commit files and folders as one new version of NAME.

    A file is stored under its name, a folder's files under their paths
    relative to it (its .curation/ state folder excepted), all below
    --to-path. Other files of HEAD are kept unless --delete is given.
    Content equal to HEAD's makes no new version. A folder may hold only
    regular files and folders: a symbolic link, FIFO, socket or device in
    it is refused (exit 2, naming it) and nothing is pushed; a PATH named
    here may be a link to a regular file or folder.
    """
    files = collect_files(paths, prefix)
    dataset = session.dataset(name)
    with Progress("Uploading") as progress:
        if mirror:
            result = dataset.mirror(files, message, prefix, parent_version_id=_version(parent), progress=progress)
        else:
            result = dataset.commit(files, message, parent_version_id=_version(parent), progress=progress)
    if as_json:
        echo_json(_commit_summary(result, len(files)))
        return
    stored = (
        f"{result.objects_uploaded} uploaded ({_size(result.bytes_uploaded)}), "
        f"{result.objects_skipped} already stored"
    )
    if not result.created:
        click.echo(f"No change: {name} {_short(result.version_id)} already holds these files ({stored})")
        return
    removal = f", {len(result.removed)} removed" if mirror else ""
    click.echo(f"Committed {name} {result.version_id} ({_count(len(files))}: {stored}{removal})")


def collect_files(paths: Iterable[Path], prefix: str = "") -> dict[str, Path]:
    """Dataset path -> local file for ``paths`` (files by name, folders recursively), under ``prefix``."""
    base = as_folder(prefix)
    files: dict[str, Path] = {}
    for given in paths:
        for relative, local in _walk(given):
            key = f"{base}/{relative}" if base else relative
            if key in files and files[key] != local:
                raise click.UsageError(f"{files[key]} and {local} would both be stored as {key!r}")
            files[key] = local
    if not files:
        raise click.UsageError("nothing to push: the folders given hold no files")
    return files


def _commit_summary(result: CommitResult, pushed: int) -> dict[str, Any]:
    """The ``--json`` object of ``push`` and ``remove``."""
    return {
        "dataset": result.dataset,
        "version_id": result.version_id,
        "parent_version_id": result.parent,
        "created": result.created,
        "files": pushed,
        "removed": list(result.removed),
        "objects_uploaded": result.objects_uploaded,
        "objects_skipped": result.objects_skipped,
        "bytes_uploaded": result.bytes_uploaded,
    }


def _walk(given: Path) -> Iterable[tuple[str, Path]]:
    """A file named on the command line is followed (the user chose it) but must be a regular file;
    a folder is walked by the store's one walk, which refuses links and special files inside."""
    if not given.is_dir():
        yield given.resolve().name, regular_file(given)
        return
    yield from walk_files(given)


# -- writing -------------------------------------------------------------------------


@datasets.command("create")
@click.argument("name")
@pass_session
def create(session: Session, name: str) -> None:
    """Create the empty dataset NAME."""
    about_dataset(name)
    session.store.create_dataset(name)
    click.echo(f"Created dataset {name!r} in {session.store.url}")


@datasets.command("remove")
@click.argument("name")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True)
@click.option("-m", "--message", required=True, callback=_valid_text, help="Commit message.")
@click.option(
    "--parent", "parent", metavar="VERSION", default=None,
    help="Remove from VERSION and only commit if HEAD is still VERSION (exit 4 otherwise).",
)
@json_option
@pass_session
def remove(
    session: Session, name: str, paths: tuple[str, ...], message: str, parent: str | None, as_json: bool
) -> None:
    """Commit a new version of NAME without the files at PATH...

    A PATH is a path in the dataset as 'show' lists it (data/a.parquet); a
    folder's path (data or data/) removes every file under it. If a PATH
    matches no file of the base version (--parent, else HEAD), nothing is
    written (exit 2).
    """
    result = session.dataset(name).remove(paths, message, parent_version_id=_version(parent))
    if as_json:
        echo_json(_commit_summary(result, 0))
        return
    if not result.created:
        click.echo(f"No change: {name} {_short(result.version_id)} already lacks these files")
        return
    click.echo(f"Committed {name} {result.version_id} ({_count(len(result.removed))} removed)")


@datasets.command("rollback")
@click.argument("name")
@click.argument("version")
@click.option(
    "-m", "--message", default=None, callback=_valid_text, help="Commit message (default 'Rollback to VERSION')."
)
@pass_session
def rollback(session: Session, name: str, version: str, message: str | None) -> None:
    """Commit a new version of NAME with VERSION's files.

    History is never rewritten: the versions after VERSION stay reachable.
    """
    dataset = session.dataset(name)
    target = dataset.resolve_version(_version(version))
    result = dataset.rollback(target, message)
    if not result.created:
        click.echo(f"No change: {name} HEAD {_short(result.version_id)} already holds the files of {_short(target)}")
        return
    click.echo(f"Rolled back {name} to {_short(target)}: new version {result.version_id}")


@datasets.command("delete")
@click.argument("name")
@pass_session
def delete(session: Session, name: str) -> None:
    """Soft-delete NAME (hidden and read-only until restored)."""
    about_dataset(name)
    session.store.delete_dataset(name)
    click.echo(f"Deleted dataset {name!r} (undo with 'curation datasets restore {name}')")


@datasets.command("restore")
@click.argument("name")
@pass_session
def restore(session: Session, name: str) -> None:
    """Undo 'delete' for NAME."""
    about_dataset(name)
    session.store.restore_dataset(name)
    click.echo(f"Restored dataset {name!r}")


@datasets.command("purge")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_session
def purge(session: Session, name: str, yes: bool) -> None:
    """Remove a deleted dataset NAME and all its versions, for good."""
    _require_deleted(session, name)
    if not yes:
        question = f"Permanently remove dataset {name!r} and all its versions from {session.store.url}?"
        click.confirm(question, abort=True)
    session.store.purge_dataset(name)
    click.echo(f"Purged dataset {name!r}")


def _require_deleted(session: Session, name: str) -> None:
    """Fail before asking for confirmation if ``name`` is missing or live."""
    try:
        session.dataset(name)
    except DatasetDeletedError:
        return
    raise DatasetNotDeletedError(f"dataset {name!r} is not deleted; delete it first")


@datasets.command("gc")
@click.argument("name", required=False)
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@click.option(
    "--grace-period", type=IntervalType(), default=None,
    help="Keep unreachable items younger than this (e.g. 0, 30m, 2h; default 1h). "
    "Any value is safe next to commits in flight; a longer one spares them re-uploads.",
)
@json_option
@pass_session
def gc(session: Session, name: str | None, dry_run: bool, grace_period: timedelta | None, as_json: bool) -> None:
    """Remove unreachable manifests and objects of NAME (default: all datasets).

    Only items no version reachable from HEAD needs, and older than the
    grace period, are removed: a commit in flight is safe. Debris of
    interrupted writes (temporary files, unfinished S3 multipart uploads)
    older than the grace period (and 10 minutes) goes too.
    """
    about_dataset(name)
    report = session.store.gc(name, dry_run=dry_run, grace_period=grace_period)
    if as_json:
        echo_json({"store": session.store.url, **report.to_dict()})
        return
    verb, grace = ("Would remove" if dry_run else "Removed"), report.grace_period
    kept = f"; kept {_count(report.kept_recent, 'unreachable item')} younger than {format_interval(grace)}"
    click.echo(
        f"{verb} {_count(len(report.manifests), 'manifest')} and {_count(len(report.objects), 'object')} "
        f"({_size(report.bytes)}) from {_count(len(report.datasets), 'dataset')}"
        + (f", with {_count(len(report.leftovers), 'leftover')} of interrupted writes" if report.leftovers else "")
        + (kept if report.kept_recent else "")
    )
    keys = (*report.manifests, *report.objects, *report.leftovers)
    for key in keys[:GC_KEYS_SHOWN]:
        click.echo(f"  {key}")
    if len(keys) > GC_KEYS_SHOWN:
        click.echo(f"  ... and {len(keys) - GC_KEYS_SHOWN:,} more (--json lists them all)")


@datasets.command("verify")
@click.argument("name")
@click.option(
    "--repair-from", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="A folder holding the right bytes (a working copy, the original files): upload them over "
    "damaged or missing objects.",
)
@json_option
@pass_session
def verify(session: Session, name: str, repair_from: Path | None, as_json: bool) -> None:
    """Read back and re-hash every object of every version of NAME (exit 5 if one is damaged or missing)."""
    about_dataset(name)
    report = session.dataset(name).verify(repair_from=repair_from)
    if as_json:
        echo_json({"store": session.store.url, **report.to_dict()})
    else:
        click.echo(
            f"Verified {_count(report.objects, 'object')} ({_size(report.bytes)}) of "
            f"{_count(report.versions, 'version')}: {len(report.damaged)} damaged, {len(report.missing)} missing, "
            f"{len(report.repaired)} repaired"
        )
        for label, items in (("damaged", report.damaged), ("missing", report.missing), ("repaired", report.repaired)):
            for item in items:
                click.echo(f"  {label}  {item}")
    if not report.ok:
        raise CorruptObjectError(
            f"dataset {name!r}: {len(report.damaged)} damaged and {len(report.missing)} missing object(s); "
            "repair them with --repair-from FOLDER holding the right files"
        )


# -- progress --------------------------------------------------------------------------


class Progress:
    """A byte progress bar on stderr, for the library's ``progress(done, total)`` callback.

    Shown only when stderr is a terminal and the transfer is at least
    :data:`PROGRESS_MIN_BYTES`; otherwise the callback does nothing.
    """

    def __init__(self, label: str, *, interactive: Callable[[], bool] | None = None) -> None:
        self._label = label
        self._interactive = interactive or _stderr_is_terminal
        self._bar: Any = None
        self._done = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
            self._bar = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if done or total < PROGRESS_MIN_BYTES or not self._interactive():
                return
            self._bar = click.progressbar(
                length=total, label=f"{self._label} {_size(total)}", file=sys.stderr, show_pos=False
            ).__enter__()
        self._bar.update(done - self._done)
        self._done = done


def _stderr_is_terminal() -> bool:
    return click.get_text_stream("stderr").isatty()


# -- formatting ---------------------------------------------------------------------------


def _version(text: str | None) -> str | None:
    """A VERSION argument for the library: HEAD (any case) and absent mean None."""
    return None if text is None or text.upper() == "HEAD" else text


def _head(store: DatasetStore, name: str) -> Version | None:
    dataset = store.get_dataset(name)
    head = dataset.head()
    return dataset.get_version(head) if head else None


def _dataset_row(name: str, head: Version | None, live: bool) -> tuple[str, ...]:
    if head is None:
        return (name, "-", "-", "-", "-", "live" if live else "deleted")
    return (name, _short(head.version_id), _time(head.created_at), _count(len(head.files)), _size(head.size), "live")


def _dataset_summary(name: str, deleted: bool, head: Version | None) -> dict[str, Any]:
    return {
        "name": name,
        "deleted": deleted,
        "head": head.version_id if head else None,
        "updated_at": _version_summary(head)["created_at"] if head else None,
        "files": len(head.files) if head else None,
        "bytes": head.size if head else None,
    }


def _version_summary(version: Version) -> dict[str, Any]:
    """A version without its file list (counts instead)."""
    summary = {k: v for k, v in version.to_dict().items() if k != "files"}
    return {**summary, "files": len(version.files), "bytes": version.size}


def _change(f: FileDiff) -> str:
    """``10 rows`` for an added or removed Parquet file, ``10 -> 12 rows`` if changed; sizes otherwise."""
    if f.old_rows is not None or f.new_rows is not None:
        values = [f"{n:,}" if n is not None else "?" for n in (f.old_rows, f.new_rows)]
        unit = " rows"
    else:
        values = [_size(e.size) if e else "-" for e in (f.old, f.new)]
        unit = ""
    if f.old is None:
        return values[1] + unit
    if f.new is None:
        return values[0] + unit
    return " -> ".join(values) + unit


def _short(version_id: str | None) -> str:
    return version_id[:SHORT_ID] if version_id else "-"


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _count(n: int | None, noun: str = "file") -> str:
    return "-" if n is None else f"{n:,} {noun}{'' if n == 1 else 's'}"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
