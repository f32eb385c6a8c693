"""`python manage.py reviewer_login EMAIL`: a new Label Studio password for a reviewer, printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotate import services
from annotate.local_server import LocalLabelStudioError
from annotate.models import Annotator


class Command(BaseCommand):
    help = (
        "Give a reviewer a new Label Studio password on the Label Studio the app manages (for an account a "
        "queued push created, whose password nobody saw), and print it once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **opts: Any) -> None:
        server = services.blind.managed_server()
        if server is None:
            raise CommandError("the configured Label Studio is not one the app manages: its logins are not ours")
        try:
            password = services.blind.reviewer_login_reset(email=opts["email"], server=server)
        except Annotator.DoesNotExist as exc:
            raise CommandError(f"no reviewer {opts['email']!r}") from exc
        except LocalLabelStudioError as exc:
            raise CommandError(f"setting the Label Studio password: {exc}") from exc
        self.stdout.write(f"new Label Studio login for {opts['email']}: {password} (shown once: hand it over now)")
