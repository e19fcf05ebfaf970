"""The one error of the development tools."""

from __future__ import annotations


class DagsterDevError(RuntimeError):
    """``dagster dev`` did not start or stop cleanly, a GraphQL call failed, or a wait timed out."""
