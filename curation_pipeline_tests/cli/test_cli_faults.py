"""``curation datasets`` over a faulty S3 endpoint: truthful exit codes, a bounded wait."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from curation_devtools.fault_proxy import FaultProxy
from curation_pipeline_tests.cli.helpers import fail, run, write
from curation_pipeline_tests.conftest import MotoServer


@pytest.fixture
def through_proxy(aws_env: MotoServer, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket's store URL, reached through ``fault_proxy`` (the project's endpoint variable wins)."""
    monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", fault_proxy.url)
    monkeypatch.setenv("CURATION_AUTHOR", "tester")
    return f"s3://{aws_env.make_bucket('cli-faults')}/root"


def test_push_parent_whose_head_reply_was_lost_exits_0(
    through_proxy: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    """Before: exit 4 "HEAD moved" although the version had landed."""
    run(through_proxy, "create", "ds")
    base = json.loads(
        run(through_proxy, "push", "ds", str(write(tmp_path / "a", {"a.txt": b"a"})), "-m", "a", "--json").stdout
    )
    with fault_proxy.faults(1.0, ["lost"], match=r"^PUT \S*/datasets/ds/HEAD$", budget=1):
        pushed = run(
            through_proxy,
            "push",
            "ds",
            str(write(tmp_path / "b", {"b.txt": b"b"})),
            "-m",
            "b",
            "--parent",
            base["version_id"],
            "--json",
        )
    result = json.loads(pushed.stdout)
    assert fault_proxy.counts["lost"] == 1
    assert result["created"] and result["parent_version_id"] == base["version_id"]
    assert (
        json.loads(run(through_proxy, "versions", "ds", "--json").stdout)["versions"][0]["version_id"]
        == result["version_id"]
    )


def test_deadline_bounds_a_dead_endpoint_and_the_error_says_where(through_proxy: str, fault_proxy: FaultProxy) -> None:
    fault_proxy.configure(rate=1.0, kinds=["stall"], stall_seconds=0.3)  # every attempt: silence, then a reset
    started = time.monotonic()
    message = fail(through_proxy, "--deadline", "1.5", "list", code=1)
    elapsed = time.monotonic() - started
    found = re.fullmatch(
        rf"Error: S3 list of datasets/ at {re.escape(fault_proxy.url)} failed after ([0-9.]+) s: \w+", message
    )
    assert found, message
    # Retried until no attempt could start before the deadline; the last one takes at most its stall.
    assert 0.5 <= float(found.group(1)) <= 1.5 + 0.3 + 1.0  # (+1 s for a busy machine)
    assert fault_proxy.counts["stall"] >= 3
    assert elapsed < 10  # the command's own start-up included


def test_deadline_must_be_positive(through_proxy: str) -> None:
    assert "Invalid value for '--deadline'" in run(through_proxy, "--deadline", "0", "list", code=2).stderr
