"""Conversations: datasets, import from every supported format, transcript rendering."""
