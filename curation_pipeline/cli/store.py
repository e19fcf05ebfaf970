"""``curation store``: checks of a store location itself."""

from __future__ import annotations

import click

from curation_pipeline.cli.output import EXIT_FAILURE, CurationGroup, Failure, echo_json, echo_table
from curation_pipeline.store.check import DEFAULT_RACERS, DEFAULT_ROUNDS, check_store

_VERDICT = {True: "ok", False: "FAIL", None: "-"}


@click.group("store", cls=CurationGroup)
def store() -> None:
    """Check a store location before deploying on it."""


@store.command("check")
@click.argument("url", required=False)
@click.option("--racers", default=DEFAULT_RACERS, show_default=True, help="Concurrent writers per race.")
@click.option("--rounds", default=DEFAULT_ROUNDS, show_default=True, help="Races at most.")
@click.option("--payload-mib", default=1.0, show_default=True, help="MiB each racer writes.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
def check(url: str | None, racers: int, rounds: int, payload_mib: float, as_json: bool) -> None:
    """Probe URL (else $CURATION_STORE_URL): read, list, write, delete, conditional writes, atomicity.

    Writes only under URL's _probe/ folder and removes what it wrote. Exits 1
    if any capability fails: the store refuses to commit there.
    """
    report = check_store(url, racers=racers, rounds=rounds, payload_bytes=max(1, int(payload_mib * (1 << 20))))
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.url)
        rows = [(v.capability, _VERDICT[v.passed], v.detail) for v in report.verdicts]
        echo_table(("CAPABILITY", "VERDICT", "DETAIL"), rows)
    if not report.passed:
        failed = ", ".join(v.capability for v in report.verdicts if v.passed is False)
        raise Failure(f"{report.url} fails: {failed}", EXIT_FAILURE)
