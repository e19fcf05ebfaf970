"""The selection engine: apply curator selectors to a window of the production stream.

``select(data, selectors, seed=...)`` returns the selected full records;
``run_selection`` also reports per-selector figures. Data is a
``pyarrow.Table``, a ``pyarrow.dataset.Dataset``, or a Parquet dataset with
its filter handed over apart (:class:`FilteredParquet`, e.g. the stream's
window from ``open_window``); Parquet datasets are read row group by row
group, narrow columns first, so memory stays bounded by the limits rather
than the window's size.
"""

from curation_pipeline.selection.engine import run_selection, select
from curation_pipeline.selection.errors import FieldTypeError, MissingFieldError, SelectionError
from curation_pipeline.selection.result import SelectionResult, SelectorStats
from curation_pipeline.selection.seeds import derive_seed
from curation_pipeline.selection.stratified import NULL_STRATUM, stratum_quotas
from curation_pipeline.selection.window import FilteredParquet

__all__ = [
    "NULL_STRATUM",
    "FieldTypeError",
    "FilteredParquet",
    "MissingFieldError",
    "SelectionError",
    "SelectionResult",
    "SelectorStats",
    "derive_seed",
    "run_selection",
    "select",
    "stratum_quotas",
]
