"""The Dagster UI in a real browser: materialize one window of a curator and read its metadata.

Drives Debian's Chromium (``/usr/bin/chromium``) headless through Playwright;
Playwright's own browser downloads are not used. The screenshots land in the
directory named by ``CURATION_SCREENSHOT_DIR``, else in the test's temporary
directory (their paths are printed in the test output).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from curation_pipeline.store import DatasetStore
from curation_pipeline_tests.daemon.conftest import UNIFORM, UNIFORM_KEY, DagsterDevSession

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dagster_dev")]

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and no outgoing connections of Chromium's own (updates, sync...).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR_ENV = "CURATION_SCREENSHOT_DIR"
TIMEOUT_MS = 60_000


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: ``$CURATION_SCREENSHOT_DIR`` when set, else the test's temporary directory."""
    configured = os.environ.get(SCREENSHOT_DIR_ENV)
    directory = Path(configured) if configured else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def page(request: pytest.FixtureRequest, screenshots: Path):
    """A fresh page of a headless system Chromium (the instance's dagster.yaml turns the sign-up prompt off)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does) to run the UI test")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
            if getattr(request.node, "failed_call", False):
                try:
                    _screenshot(page, screenshots / f"ui-failure-{request.node.name}.png")
                except Exception as error:  # evidence only: never hide the test's own failure
                    print(f"\nno screenshot of the failure: {error}")
        finally:
            browser.close()


def test_materialize_a_window_from_the_asset_page(dagster_dev: DagsterDevSession, page, screenshots: Path) -> None:
    from playwright.sync_api import expect

    key = dagster_dev.partitions[-1]
    asset_url = f"{dagster_dev.url}/assets/{'/'.join(UNIFORM_KEY)}"

    page.goto(asset_url)
    page.get_by_role("button", name=re.compile("Materialize")).first.click()
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    _select_partition(dialog, key)
    dialog.get_by_role("button", name=re.compile(r"^Launch 1 run$")).click()
    expect(dialog).to_be_hidden(timeout=30_000)  # the launch answers slowly on a busy 2-core machine

    # The partition's page shows it materialized, with the version our run committed.
    page.goto(f"{asset_url}?view=partitions&partition={key}")
    _wait_for_text(page, "version_id", timeout=240)
    event = max(dagster_dev.client.materializations(UNIFORM_KEY, [key]), key=lambda e: e.timestamp_ms)
    versions = DatasetStore.open(dagster_dev.store_url).get_dataset(UNIFORM["name"]).list_versions()
    version = next(v for v in versions if v.version_id == event.metadata["version_id"])
    assert version.metadata["partition_key"] == key
    expect(page.get_by_text(version.version_id, exact=True).first).to_be_visible()
    expect(page.get_by_text("rows_selected", exact=True).first).to_be_visible()
    expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()

    # The run page shows the run succeeded.
    dagster_dev.client.wait_run(event.run_id, timeout=240)
    page.goto(f"{dagster_dev.url}/runs/{event.run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    _screenshot(page, screenshots / f"ui-run-{UNIFORM['name']}-{key}.png")

    page.goto(f"{asset_url}?view=partitions&partition={key}")
    expect(page.get_by_text(version.version_id, exact=True).first).to_be_visible()
    _screenshot(page, screenshots / f"ui-partition-{UNIFORM['name']}-{key}.png")


def _screenshot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    print(f"\nscreenshot: {path}")


def _select_partition(dialog, key: str, attempts: int = 5) -> None:
    """Type ``key`` into the dialog's partition selection until the dialog counts one partition.

    The dialog re-renders once the partitions' status has loaded, which can
    drop text typed before that; typing again is what a user would do.
    """
    dialog.get_by_text(re.compile(r"Showing \d+ of \d+ partitions")).wait_for()
    selected = dialog.get_by_text("1 partition", exact=True)
    for _ in range(attempts):
        partitions = dialog.get_by_role("textbox").first  # the "Custom" selection
        partitions.fill(key)
        partitions.press("Enter")
        try:
            selected.wait_for(timeout=5_000)
            return
        except Exception:
            continue
    selected.wait_for()  # fails with Playwright's own message


def _wait_for_text(page, text: str, timeout: float) -> None:
    """Reload until ``text`` shows (the run is queued, then runs in its own process)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            page.get_by_text(text, exact=True).first.wait_for(state="visible", timeout=10_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            page.reload()
