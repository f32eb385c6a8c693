"""Production settings: secrets are required, hosts explicit, cookies secure, HTTPS enforced.

``manage.py check --deploy --fail-level WARNING`` passes with these settings (tests/test_deploy.py). Behind a
TLS-terminating reverse proxy, see README "Running behind a reverse proxy with gunicorn".
"""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = False
try:
    SECRET_KEY = env("DJANGO_SECRET_KEY")
except ImproperlyConfigured as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set: production refuses to start without a secret key."
    ) from exc
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is empty: production refuses to start without a secret key.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True

# HTTPS. Behind a proxy that terminates TLS, DJANGO_BEHIND_TLS_PROXY=true trusts its X-Forwarded-Proto header (the
# proxy must set it and strip it from clients), so the redirect below sees https and does not loop.
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Submitting a domain to the browsers' HSTS preload list is the domain owner's one-way decision, not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# The OpenAPI schema's own warnings are about documentation, not deployment: `manage.py spectacular --validate
# --fail-on-warn` reports them.
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "ENABLE_DJANGO_DEPLOY_CHECK": False}  # noqa: F405
