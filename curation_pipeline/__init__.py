"""curation_pipeline: curators that turn a production ML stream into versioned datasets."""

__version__ = "0.1.0"
