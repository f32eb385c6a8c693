"""Taxonomy: the value hierarchy (build by clustering, import, review edits, mapping of new values, naming)."""
