"""The dataset catalog: one record per dataset version, with its inputs, parent and trigger.

``urls`` shows catalog URLs without passwords; ``base`` holds the interface, the record type and
shared helpers; ``access`` the rules of access levels, rights and inheritance; ``rows`` maps
``dataset.json`` to rows and rows to records; ``runs`` holds training runs; ``retention`` keeps
the tombstones of deleted versions and looks up lineage links; ``sql`` is the SQL every backend
runs, ``sqlite`` and ``postgres`` supply their dialects (``pg_access``: PostgreSQL's row-level
security), ``open`` picks one, and ``roles`` sets up a team catalog's PostgreSQL roles.
Each module imports only modules named before it, never back.
"""

from synth.catalog.base import Catalog, DatasetRecord
from synth.catalog.open import open_catalog

__all__ = ["Catalog", "DatasetRecord", "open_catalog"]
