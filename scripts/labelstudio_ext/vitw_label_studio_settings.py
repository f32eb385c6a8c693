"""Label Studio's own settings, plus blind review; ``scripts/labelstudio.sh`` starts the local server with them.

Label Studio's community edition assumes a single organization: an object's permission check only refuses a
user whose membership of its organization was revoked, and any user may make any organization their active
one (``PATCH /api/users/<id>`` with ``active_organization``). Blind review puts each reviewer in an organization
of their own (``annotate.local_server``), which holds only when both assumptions are replaced, through the two
hooks Label Studio provides for them (``vitw_blind_projects`` and ``vitw_blind_users``).
"""

from core.settings import base as _base

# Label Studio's settings read django.conf.settings while they load (Sentry's set-up), which then sees this module
# half-loaded: give it the base values first. An empty DSN also keeps the offline server from calling Sentry.
globals().update({name: getattr(_base, name) for name in dir(_base) if name.isupper()})
SENTRY_DSN = ""

from label_studio.core.settings.label_studio import *  # noqa: E402, F403

SENTRY_DSN = ""
PROJECT_MIXIN = "vitw_blind_projects.BlindProjectMixin"
USER_SERIALIZER_UPDATE = "vitw_blind_users.UserSerializerUpdate"
