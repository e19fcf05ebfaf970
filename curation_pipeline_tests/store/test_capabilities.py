"""The store refuses servers that ignore conditional writes; ``curation store check`` tells them apart.

Three S3 servers: moto behind :class:`~curation_devtools.s3proxy.S3Proxy`
stripping ``If-Match``/``If-None-Match`` (a server that ignores them), the
session's plain moto (honours them, but checks and writes in two steps: not
atomic for bodies it spools to disk) and ``serial_moto_server`` (atomic, as S3).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from curation_devtools.s3proxy import S3Proxy
from curation_pipeline.cli import main
from curation_pipeline.store import DatasetStore, UnsafeStoreError
from curation_pipeline.store.capabilities import IF_NONE_MATCH, PROBE_PREFIX, STALE_IF_MATCH
from curation_pipeline.store.check import CAPABILITIES, check_store
from curation_pipeline_tests.conftest import FAKE_REGION, MotoServer


@pytest.fixture
def stripping_proxy(aws_env: MotoServer) -> Iterator[S3Proxy]:
    with S3Proxy.start(aws_env.endpoint_url, strip_conditions=True) as proxy:
        yield proxy


def _keys(server: MotoServer, bucket: str) -> list[str]:
    return [item["Key"] for item in server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def _store_check(url: str, endpoint: str, *args: str) -> tuple[int, dict]:
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": endpoint}
    result = CliRunner().invoke(main, ["store", "check", url, "--json", *args], env=env)
    return result.exit_code, json.loads(result.stdout)


def _verdicts(report: dict) -> dict[str, bool | None]:
    return {v["capability"]: v["passed"] for v in report["verdicts"]}


def test_a_commit_through_a_server_ignoring_conditions_is_refused_and_writes_nothing(
    aws_env: MotoServer, stripping_proxy: S3Proxy
) -> None:
    bucket = aws_env.make_bucket("unsafe")
    store = DatasetStore.open(f"s3://{bucket}/root", endpoint_url=stripping_proxy.endpoint_url, region_name=FAKE_REGION)
    dataset = store.create_dataset("reviews")
    before = _keys(aws_env, bucket)

    with pytest.raises(UnsafeStoreError) as refused:
        dataset.commit({"data/a.csv": b"a,b\n1,2\n"}, message="first")

    assert set(refused.value.missing) == {IF_NONE_MATCH, STALE_IF_MATCH}
    assert "curation store check" in str(refused.value) and f"s3://{bucket}/root" in str(refused.value)
    assert stripping_proxy.stripped > 0
    assert _keys(aws_env, bucket) == before == ["root/datasets/reviews/DATASET"]  # no object, manifest, HEAD or probe
    assert dataset.head() is None


def test_a_commit_through_an_honest_server_probes_once_per_location(serial_moto_server: MotoServer, aws_env) -> None:
    bucket = serial_moto_server.make_bucket("safe")
    with S3Proxy.start(serial_moto_server.endpoint_url) as proxy:
        store = DatasetStore.open(f"s3://{bucket}/root", endpoint_url=proxy.endpoint_url, region_name=FAKE_REGION)
        dataset = store.create_dataset("reviews")
        first = dataset.commit({"data/a.csv": b"1"}, message="first")
        probes = [r for r in proxy.requests if f"/{PROBE_PREFIX}" in r[1]]
        second = dataset.commit({"data/b.csv": b"2"}, message="second")
        again = [r for r in proxy.requests if f"/{PROBE_PREFIX}" in r[1]]

    assert first.created and second.created
    assert [method for method, _ in probes] == ["PUT", "PUT", "GET", "PUT", "PUT", "DELETE"]
    assert again == probes  # the second commit did not probe again
    assert not [k for k in _keys(serial_moto_server, bucket) if PROBE_PREFIX in k]


def test_store_check_fails_a_server_ignoring_conditions(aws_env: MotoServer, stripping_proxy: S3Proxy) -> None:
    bucket = aws_env.make_bucket("check")

    code, report = _store_check(f"s3://{bucket}/root", stripping_proxy.endpoint_url, "--rounds", "2")

    assert code == 1 and report["passed"] is False
    verdicts = _verdicts(report)
    assert [verdicts[name] for name in ("write", "read", "list", "delete")] == [True] * 4
    assert verdicts["if-none-match"] is False and verdicts["stale-if-match"] is False
    assert verdicts["atomic"] is False  # every racer "wins"
    assert _keys(aws_env, bucket) == []


def test_store_check_finds_moto_without_the_lock_not_atomic(aws_env: MotoServer) -> None:
    # moto checks a condition, then stores the body: bodies above its in-memory buffer (5 MiB)
    # go to disk in between, and concurrent writers pass the same check.
    bucket = aws_env.make_bucket("check")

    code, report = _store_check(
        f"s3://{bucket}/root", aws_env.endpoint_url, "--payload-mib", "8", "--rounds", "30", "--racers", "12"
    )

    verdicts = _verdicts(report)
    assert code == 1
    assert {name: verdicts[name] for name in CAPABILITIES if name != "atomic"} == dict.fromkeys(CAPABILITIES[:-1], True)
    assert verdicts["atomic"] is False, report
    assert "winners per race" in report["verdicts"][-1]["detail"]


def test_store_check_passes_an_atomic_server(serial_moto_server: MotoServer, aws_env) -> None:
    bucket = serial_moto_server.make_bucket("check")

    code, report = _store_check(f"s3://{bucket}/root", serial_moto_server.endpoint_url, "--racers", "8", "--rounds", "4")

    assert code == 0, report
    assert report["passed"] is True and set(_verdicts(report).values()) == {True}
    assert _keys(serial_moto_server, bucket) == []


def test_store_check_prints_one_verdict_per_capability(tmp_path) -> None:
    result = CliRunner().invoke(main, ["store", "check", str(tmp_path / "store"), "--racers", "4", "--rounds", "2"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split() == ["CAPABILITY", "VERDICT", "DETAIL"]
    assert [line.split()[:2] for line in lines[2:]] == [[name, "ok"] for name in CAPABILITIES]


def test_check_store_never_raises_for_an_unreachable_bucket(aws_env: MotoServer) -> None:
    report = check_store("s3://no-such-bucket-here/root", racers=2, rounds=1)

    assert not report.passed
    assert report.verdicts[0].capability == "write" and report.verdicts[0].passed is False
    assert "does not exist" in report.verdicts[0].detail
    assert all(v.passed is None for v in report.verdicts[1:])
