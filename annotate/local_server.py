"""The local Label Studio the app manages, started by ``scripts/labelstudio.sh`` (demo, tests, benchmarks).

The first start of a fresh Label Studio spends a minute and a half migrating its database. So the
first throwaway instance is migrated once into a template directory under ``var/`` (one per Label
Studio version, credentials generated for it), and every later instance starts from a copy of it in
about twenty seconds. The install itself is done on demand by the script and reused.

Blind review. Label Studio's community edition has no roles: every member of an organization lists, opens and
edits every project of it, while lists (projects, tasks, exports) are scoped to the user's active organization.
So on a server the app manages, :meth:`LocalLabelStudio.reviewers_setup` gives each reviewer an organization of
their own (through Label Studio's own shell, which only the server's owner has): the reviewer is its only member,
their projects live in it, and the app acts there with the reviewer's own token. Two assumptions of the
community edition would still let them out (any user passes an object's check unless their membership was
revoked, and anyone may switch their active organization); the server starts with settings that replace both
(``scripts/labelstudio_ext``). Another reviewer's project, task or annotation is then a 404 or 403 for them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "labelstudio.sh"
VAR = ROOT / "var"
LS_EXTENSIONS = ROOT / "scripts" / "labelstudio_ext"
LS_SETTINGS = "vitw_label_studio_settings"


class LocalLabelStudioError(RuntimeError):
    """The local Label Studio could not be installed or started; the message says where to look."""


@dataclass(frozen=True)
class ReviewerAccount:
    """A reviewer's Label Studio identity in their own organization, and the token the app acts with there."""

    email: str
    user_id: int
    organization_id: int
    api_key: str
    created: bool = False


@dataclass(frozen=True)
class ReviewerSpec:
    """A reviewer to set up: their password (used only when the account is created) and their existing
    projects (Label Studio ids) to move into their organization."""

    email: str
    password: str
    project_ids: Sequence[int] = ()
    #: Set ``password`` on an existing account too (a lead handing a reviewer a new login).
    reset_password: bool = False


RESULT_MARK = "@@reviewers@@"

# Runs inside Label Studio (its Django, its database) through `label-studio shell`; reads the JSON spec from the
# file named by REVIEWERS_SPEC and prints one JSON line after RESULT_MARK. Idempotent: a rerun changes nothing.
SETUP_SCRIPT = r"""
import json, os
from django.db import transaction
from organizations.models import Organization, OrganizationMember
from projects.models import Project
from rest_framework.authtoken.models import Token
from users.models import User
from webhooks.models import Webhook

spec = json.load(open(os.environ["REVIEWERS_SPEC"]))
out = []
for reviewer in spec["reviewers"]:
    with transaction.atomic():
        email = reviewer["email"].strip().lower()
        user = User.objects.filter(email__iexact=email).first()
        created = user is None
        if created:
            user = User.objects.create_user(email=email, password=reviewer["password"], username=email.split("@")[0])
        elif reviewer.get("reset_password"):
            user.set_password(reviewer["password"])
            user.save(update_fields=["password"])
        title = "Blind review: " + email
        org = Organization.objects.filter(created_by=user, title=title).first()
        if org is None:
            org = Organization.create_organization(created_by=user, title=title)
        org.add_user(user)
        # Members of an organization see all of its projects: the reviewer belongs to theirs alone.
        OrganizationMember.objects.filter(user=user).exclude(organization=org).delete()
        user.active_organization = org
        user.save(update_fields=["active_organization"])
        org.jwt.legacy_api_tokens_enabled = True
        org.jwt.save()
        ids = [int(i) for i in reviewer.get("project_ids") or []]
        Project.objects.filter(pk__in=ids).exclude(organization=org).update(organization=org)
        Webhook.objects.filter(project_id__in=ids).exclude(organization=org).update(organization=org)
        token, _ = Token.objects.get_or_create(user=user)
        out.append({"email": email, "user_id": user.pk, "organization_id": org.pk, "api_key": token.key,
                    "created": created})
print("@@reviewers@@" + json.dumps(out))
"""


def free_port(preferred: range | None = None) -> int:
    """A port nobody listens on: the first free one in ``preferred``, or one the OS picks."""
    for port in preferred or ():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned_version() -> str:
    match = re.search(r'^LABEL_STUDIO_VERSION="([^"]+)"', SCRIPT.read_text(), re.M)
    if not match:
        raise LocalLabelStudioError(f"no LABEL_STUDIO_VERSION pin in {SCRIPT}")
    return match.group(1)


def read_credentials(data_dir: Path) -> dict[str, str]:
    values = {}
    for line in (data_dir / "credentials.env").read_text().splitlines():
        key, _, value = line.partition("=")
        if key:
            values[key.strip()] = value.strip()
    return values


class LocalLabelStudio:
    """One Label Studio process on 127.0.0.1:``port`` with its data in ``data_dir``."""

    def __init__(self, *, data_dir: Path, port: int | None = None, timeout_s: int = 300) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.timeout_s = timeout_s

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> dict[str, str]:
        return read_credentials(self.data_dir)

    @property
    def api_key(self) -> str:
        return self.credentials["LABEL_STUDIO_API_KEY"]

    def _run(self, command: str, data_dir: Path, port: int) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("LABEL_STUDIO_") or key in ("LABEL_STUDIO_VENV", "LABEL_STUDIO_PYTHON")
        }
        env.update(
            LABEL_STUDIO_PORT=str(port),
            LABEL_STUDIO_DATA_DIR=str(data_dir),
            LABEL_STUDIO_START_TIMEOUT=str(self.timeout_s),
        )
        done = subprocess.run(
            [str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=self.timeout_s + 1200, check=False
        )
        if done.returncode != 0:
            raise LocalLabelStudioError(
                f"`scripts/labelstudio.sh {command}` failed (exit {done.returncode}) for {data_dir}:\n"
                f"{done.stderr[-3000:]}"
            )

    def _template(self) -> Path:
        template = VAR / f"labelstudio-template-{pinned_version()}"
        if not (template / "label_studio.sqlite3").exists():
            staging = VAR / f"labelstudio-template-{pinned_version()}.staging"
            shutil.rmtree(staging, ignore_errors=True)
            port = free_port()
            self._run("start", staging, port)
            self._run("stop", staging, port)
            for leftover in ("labelstudio.pid", "labelstudio.log"):
                (staging / leftover).unlink(missing_ok=True)
            try:
                staging.rename(template)
            except OSError:  # another process made it first
                shutil.rmtree(staging, ignore_errors=True)
        return template

    def start(self) -> LocalLabelStudio:
        """Install if needed, start (from the migrated template when the data dir is new), wait for /health."""
        if not (self.data_dir / "label_studio.sqlite3").exists():
            shutil.copytree(self._template(), self.data_dir, dirs_exist_ok=True)
        self._run("start", self.data_dir, self.port)
        return self

    def stop(self) -> None:
        self._run("stop", self.data_dir, self.port)

    def shell(self, script: str, *, env: dict[str, str] | None = None, timeout_s: int = 300) -> str:
        """Run Python ``script`` inside this Label Studio (its Django and database); returns what it printed."""
        venv = Path(os.environ.get("LABEL_STUDIO_VENV") or VAR / "labelstudio-venv")
        with tempfile.NamedTemporaryFile("w", suffix=".py", dir=self.data_dir, delete=False) as handle:
            handle.write(script)
        try:
            child_env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_"))}
            child_env.update(
                DJANGO_DB="sqlite",
                DJANGO_SETTINGS_MODULE=LS_SETTINGS,
                PYTHONPATH=str(LS_EXTENSIONS),
                LABEL_STUDIO_BASE_DATA_DIR=str(self.data_dir),
                LATEST_VERSION_CHECK="false",
                COLLECT_ANALYTICS="false",
                **(env or {}),
            )
            child_env.pop("DATABASE_URL", None)
            # The console reads whole statements from stdin: one statement runs the whole file.
            done = subprocess.run(
                [str(venv / "bin" / "label-studio"), "shell", "--data-dir", str(self.data_dir)],
                input=f"exec(open({handle.name!r}).read())\n",
                env=child_env,
                cwd=self.data_dir,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        finally:
            Path(handle.name).unlink(missing_ok=True)
        if done.returncode != 0 or "Traceback" in done.stdout:
            raise LocalLabelStudioError(
                f"`label-studio shell` for {self.data_dir} failed (exit {done.returncode}):\n"
                f"{(done.stdout + done.stderr)[-3000:]}"
            )
        return done.stdout

    def reviewers_setup(self, reviewers: Sequence[ReviewerSpec]) -> list[ReviewerAccount]:
        """Give each reviewer an account and an organization of their own (see the module's docstring)."""
        if not reviewers:
            return []
        spec = {
            "reviewers": [
                {
                    "email": r.email,
                    "password": r.password,
                    "project_ids": list(r.project_ids),
                    "reset_password": r.reset_password,
                }
                for r in reviewers
            ]
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=self.data_dir, delete=False) as handle:
            json.dump(spec, handle)
        try:
            os.chmod(handle.name, 0o600)
            printed = self.shell(SETUP_SCRIPT, env={"REVIEWERS_SPEC": handle.name})
        finally:
            Path(handle.name).unlink(missing_ok=True)
        line = next((line for line in printed.splitlines() if RESULT_MARK in line), None)
        if line is None:
            raise LocalLabelStudioError(
                f"`label-studio shell` for {self.data_dir} printed no result:\n{printed[-3000:]}"
            )
        return [ReviewerAccount(**row) for row in json.loads(line.split(RESULT_MARK, 1)[1])]
