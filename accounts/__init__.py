"""Users and their roles: annotator, lead, prompt engineer."""
