"""The dataset catalog: one record per dataset version, with its inputs, parent and trigger."""

from synth.catalog.base import Catalog, DatasetRecord, open_catalog

__all__ = ["Catalog", "DatasetRecord", "open_catalog"]
