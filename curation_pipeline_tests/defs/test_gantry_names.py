"""A curator with Gantry's names (mixed case, spaces) materializes under keys derived from them."""

from __future__ import annotations

import dagster as dg

from curation_pipeline.defs.factory import build_curator_defs
from curation_pipeline.defs.resources import CurationStore
from curation_pipeline.store import DatasetStore
from curation_pipeline.stream import list_applications, log_records
from curation_pipeline_tests.defs.conftest import START, records, uniform_curator

APP = "Shop Floor"


def test_display_names_materialize_under_their_keys(tmp_path) -> None:
    url = str(tmp_path / "store")
    log_records(APP, records(1, 20), store_url=url)
    assert list_applications(url) == ["shop-floor"]  # the stream's folder is the application's key
    curator = uniform_curator(name="Prod Sample (EU)", application_name=APP, curated_dataset_name="Prod Sample (EU)", start_on=START)
    defs = build_curator_defs(curator)
    [asset] = defs.assets
    assert asset.key == dg.AssetKey(["curated", "prod-sample-eu"])
    assert asset.op.name == "curate_prod_sample_eu"
    spec_meta = {k: getattr(v, "value", v) for k, v in asset.specs_by_key[asset.key].metadata.items()}
    assert (spec_meta["curator_name"], spec_meta["curator_key"]) == ("Prod Sample (EU)", "prod-sample-eu")
    assert (spec_meta["dataset_name"], spec_meta["dataset_key"]) == ("Prod Sample (EU)", "prod-sample-eu")
    assert asset.specs_by_key[asset.key].deps[0].asset_key == dg.AssetKey(["stream", "shop-floor"])

    result = dg.materialize(
        [asset], instance=dg.DagsterInstance.ephemeral(), resources={"store": CurationStore(store_url=url)}, partition_key="2026-01-02"
    )
    assert result.success
    store = DatasetStore.open(url)
    assert store.list_datasets() == ["Prod Sample (EU)"]
    dataset = store.get_dataset("Prod Sample (EU)")
    assert dataset.read().num_rows == 8
    assert (tmp_path / "store" / "datasets" / "prod-sample-eu" / "HEAD").exists()
