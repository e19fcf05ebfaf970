"""The ``curation`` command line: dataset, stream and curator operations from a shell.

Library errors are translated into messages and non-zero exit codes at the
boundary, :mod:`curation_pipeline.cli.output`, and nowhere else.
"""

from __future__ import annotations

import click

from curation_pipeline import __version__
from curation_pipeline.cli.output import CurationGroup


@click.group(cls=CurationGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curation")
def main() -> None:
    """Curate production ML data into versioned datasets."""


def _register() -> None:
    # Sub-groups live in their own modules; importing them here keeps one entry point.
    from curation_pipeline.cli.curators import curators
    from curation_pipeline.cli.datasets import datasets
    from curation_pipeline.cli.store import store
    from curation_pipeline.cli.stream import stream

    main.add_command(stream)
    main.add_command(curators)
    main.add_command(datasets)
    main.add_command(store)


_register()
