"""``python -m curation_pipeline.cli``: the ``curation`` command without the console script."""

from curation_pipeline.cli import main

if __name__ == "__main__":
    main(prog_name="curation")
