"""Lineage copies sent from the catalog: OpenLineage run events."""
