"""The dataset catalog: one record per dataset version, with its inputs, parent and trigger.

``urls`` shows catalog URLs without passwords; ``base`` holds the interface, the record type and
shared helpers; ``rows`` maps ``dataset.json`` to rows and rows to records; ``retention`` keeps
the tombstones of deleted versions and looks up lineage links; ``sql`` is the SQL every backend
runs, ``sqlite`` and ``postgres`` supply their dialects, and ``open`` picks one.
Each module imports only modules named before it, never back.
"""

from synth.catalog.base import Catalog, DatasetRecord
from synth.catalog.open import open_catalog

__all__ = ["Catalog", "DatasetRecord", "open_catalog"]
