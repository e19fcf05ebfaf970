"""Ask a running Dagster webserver to reload a code location (GraphQL ``reloadRepositoryLocation``).

The code location reads the YAML catalogue and the store's curator registry
when it loads; a running UI shows a curator created, updated or deleted
since then once the location reloads. This is the same mutation as the UI's
Deployment > Reload button. Plain HTTP (the standard library): the command
line needs no GraphQL client.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from curation_pipeline.errors import CurationError

_MUTATION = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry { name locationOrLoadError { __typename ... on PythonError { message } } }
    ... on PythonError { message }
    ... on RepositoryLocationNotFound { message }
    ... on UnauthorizedError { message }
  }
}
"""


class ReloadError(CurationError):
    """The webserver could not be reached, or the code location did not reload."""


def reload_location(url: str, location: str, *, timeout: float = 120.0) -> None:
    """Reload code location ``location`` of the Dagster webserver at ``url``.

    Raises:
        ReloadError: the webserver is unreachable, or answered with an error (its message is kept).
    """
    body = json.dumps({"query": _MUTATION, "variables": {"name": location}}).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the user's own webserver)
            answer = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ReloadError(f"cannot reach the Dagster webserver at {url}: {error}") from error
    result = (answer.get("data") or {}).get("reloadRepositoryLocation") or {}
    problem = result.get("message") or ((result.get("locationOrLoadError") or {}).get("message"))
    if answer.get("errors") or result.get("__typename") != "WorkspaceLocationEntry" or problem:
        detail = problem or answer.get("errors") or result
        raise ReloadError(f"code location {location!r} at {url} did not reload: {detail}")
