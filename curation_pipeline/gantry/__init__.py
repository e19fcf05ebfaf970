"""Gantry compatibility: Gantry's curators and datasets code runs here by changing its imports.

=====================================  ==========================================
Gantry                                 here
=====================================  ==========================================
``gantry.automations.curators``        :mod:`curation_pipeline.gantry.curators`
                                       (also ``curation_pipeline.gantry.automations.curators``)
``gantry.dataset``                     :mod:`curation_pipeline.gantry.dataset`
``gantry.exceptions`` (datasets)       :mod:`curation_pipeline.gantry.exceptions`
=====================================  ==========================================

This layer adds Gantry's names, argument orders, records and warn-versus-raise
choices over the curators and the store; it holds no logic of its own beyond
that. The deliberate differences are listed in ``docs/gantry.md``.
"""
