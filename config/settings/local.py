"""Development and demo settings: the embedded default (SQLite, eager tasks, replayed LLM responses)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A development-only key: never used by config.settings.production.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
