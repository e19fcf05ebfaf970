"""Development tools of curation_pipeline: run ``dagster dev`` for real and drive it over GraphQL; inject S3 faults.

Used by the daemon and UI tests (``curation_pipeline_tests/daemon``) and by
``benchmarks/backfill_bench.py`` and ``benchmarks/selection_bench.py``;
nothing in ``curation_pipeline`` imports it.

* :class:`DagsterDev` starts ``dagster dev`` on a free 127.0.0.1 port, waits
  until its code locations are loaded and stops its whole process tree;
* :class:`WebserverClient` launches runs and backfills, waits for them and
  reads materializations and schedule ticks the way the UI does;
* :class:`SplitDeployment` runs the production topology of ``deploy/`` (code
  server, webserver, daemon as separate processes), typically on a
  :class:`PostgresServer` started for the purpose;
* :class:`S3Proxy` sits in front of an S3 server to strip conditional headers,
  hold requests, or add a round trip to each and count requests and bytes;
* :class:`ProcessTree` and :func:`free_port` are the process handling beneath;
* :mod:`curation_devtools.fault_proxy` is an HTTP proxy that injects faults
  (5xx, resets, lost replies, stalls) between an S3 client and its server,
  for the store's fault suite (import it from there: it needs none of the above).
"""

from curation_devtools.client import WebserverClient
from curation_devtools.dagster_dev import DagsterDev
from curation_devtools.deployment import SplitDeployment
from curation_devtools.errors import DagsterDevError
from curation_devtools.postgres import PostgresServer
from curation_devtools.processes import ProcessTree, free_port
from curation_devtools.records import PARTITION_TAG, Backfill, Materialization, RunRequest
from curation_devtools.s3proxy import S3Proxy

__all__ = [
    "PARTITION_TAG",
    "Backfill",
    "DagsterDev",
    "DagsterDevError",
    "Materialization",
    "PostgresServer",
    "ProcessTree",
    "RunRequest",
    "S3Proxy",
    "SplitDeployment",
    "WebserverClient",
    "free_port",
]
