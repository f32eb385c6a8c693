"""Accounts keep Django's user model; roles are groups (see roles.py). No models of its own."""
