"""The dataset catalog: one record per dataset version, with its inputs, parent and trigger.

``base`` holds the interface and record type, ``rows`` the mapping between ``dataset.json``,
rows and records, ``sql`` the SQL both backends run, ``sqlite`` and ``postgres`` their dialects,
and ``open`` picks one. Modules here import each other only in that order, never back.
"""

from synth.catalog.base import Catalog, DatasetRecord
from synth.catalog.open import open_catalog

__all__ = ["Catalog", "DatasetRecord", "open_catalog"]
