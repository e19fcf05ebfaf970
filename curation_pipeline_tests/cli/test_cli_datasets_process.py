"""``curation datasets`` as a user runs it: real processes, the default store, progress bars."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_pipeline.cli import datasets as datasets_cli
from curation_pipeline.cli import main
from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.cli.helpers import read_tree, write
from curation_pipeline_tests.conftest import MotoServer

CONSOLE_SCRIPT = Path(sys.executable).with_name("curation")


def _curation(*args: str, cwd: Path, module: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "curation_pipeline.cli"] if module else [str(CONSOLE_SCRIPT)]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="the curation console script is not installed")
def test_console_script_round_trip(store_url: str, store: DatasetStore, tmp_path: Path) -> None:
    """Both backends through the installed script; the environment (AWS_ENDPOINT_URL...) is inherited."""
    big = os.urandom(5 << 20)  # above the progress threshold: still no bar, stderr is not a terminal
    write(tmp_path / "src", {"big.bin": big, "small/s.txt": b"s"})
    store.create_dataset("procs")
    options = ["datasets", "--store", store_url]
    pushed = _curation(*options, "push", "procs", "src", "-m", "from a shell", cwd=tmp_path)
    assert (pushed.returncode, pushed.stderr) == (0, "")
    assert pushed.stdout.startswith("Committed procs ")

    pulled = _curation(*options, "pull", "procs", "--to", "copy", cwd=tmp_path)
    assert (pulled.returncode, pulled.stderr) == (0, "")
    assert read_tree(tmp_path / "copy") == {"big.bin": big, "small/s.txt": b"s"}

    missing = _curation(*options, "show", "nope", cwd=tmp_path)
    assert missing.returncode == 3
    assert missing.stderr.splitlines() == [f"Error: dataset 'nope' not found in {store_url}"]


def test_python_dash_m_defaults_to_the_curation_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CURATION_STORE_URL", raising=False)
    created = _curation("datasets", "create", "here", cwd=tmp_path, module=True)
    assert created.stdout == f"Created dataset 'here' in {tmp_path.resolve() / '.curation'}\n"
    assert (tmp_path / ".curation" / "datasets" / "here" / "DATASET").is_file()


def test_store_url_is_read_when_the_command_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    for name in ("first", "second"):
        monkeypatch.setenv("CURATION_STORE_URL", str(tmp_path / name))
        assert runner.invoke(main, ["datasets", "create", name]).exit_code == 0
    assert (tmp_path / "first" / "datasets" / "first").is_dir()
    assert (tmp_path / "second" / "datasets" / "second").is_dir()


def test_progress_bars_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets_cli, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(datasets_cli, "PROGRESS_MIN_BYTES", 1000)
    store = ["datasets", "--store", str(tmp_path / "store")]
    write(tmp_path / "src", {f"f{i}.bin": os.urandom(600) for i in range(3)})
    runner = CliRunner()
    runner.invoke(main, [*store, "create", "bars"])
    pushed = runner.invoke(main, [*store, "push", "bars", str(tmp_path / "src"), "-m", "m"])
    assert pushed.exit_code == 0 and "Uploading 1.8 KB" in pushed.stderr
    assert "Uploading" not in pushed.stdout
    pulled = runner.invoke(main, [*store, "pull", "bars", "--to", str(tmp_path / "copy")])
    assert pulled.exit_code == 0 and "Downloading 1.8 KB" in pulled.stderr


def test_no_progress_bar_for_small_transfers_or_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(datasets_cli.click, "progressbar", lambda *a, **k: calls.append("bar"))
    with datasets_cli.Progress("Uploading", interactive=lambda: True) as progress:
        progress(0, 10)
        progress(10, 10)
    with datasets_cli.Progress("Uploading", interactive=lambda: False) as progress:
        progress(0, 1 << 30)
    assert calls == []


def test_s3_endpoint_from_the_curation_settings(aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """CURATION_S3_ENDPOINT_URL / CURATION_S3_REGION serve the CLI as they serve Dagster."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("CURATION_S3_ENDPOINT_URL", aws_env.endpoint_url)
    monkeypatch.setenv("CURATION_S3_REGION", aws_env.region)
    url = f"s3://{aws_env.make_bucket('cli')}/root"
    assert CliRunner().invoke(main, ["datasets", "--store", url, "create", "via-settings"]).exit_code == 0
    assert DatasetStore.open(url, endpoint_url=aws_env.endpoint_url).list_datasets() == ["via-settings"]
