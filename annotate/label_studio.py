"""The Label Studio client: the only module that imports ``label_studio_sdk``.

Every call goes through :meth:`LabelStudio._call`, which turns the SDK's and httpx's exceptions into three
of ours, each naming the server's URL and the operation:

- :class:`LabelStudioUnavailableError`: the server did not answer (connection refused, timeout, 5xx). Idempotent
  reads and writes are retried with exponential backoff first; a task import is never retried here, because
  a timed-out import may still have been applied: the caller reconciles by the item id in each task's data.
- :class:`LabelStudioNotFoundError`: the object is gone (e.g. a project deleted in Label Studio).
- :class:`LabelStudioRejectedError`: any other 4xx, with Label Studio's explanation.

Plain data comes back (ints, dicts, frozen dataclasses): nothing from the SDK leaks into the rest of the app.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from label_studio_sdk import LabelStudio as _SdkClient
from label_studio_sdk.core.api_error import ApiError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The webhook actions the intake understands.
ANNOTATION_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED")


class LabelStudioError(Exception):
    """A Label Studio call failed; the message names the URL and the operation."""


class LabelStudioUnavailableError(LabelStudioError):
    """Transient: the server is down, slow, or answered 5xx. Retrying later is safe."""


class LabelStudioNotFoundError(LabelStudioError):
    """The object does not exist (any more) in Label Studio."""


class LabelStudioRejectedError(LabelStudioError):
    """Label Studio refused the request (4xx other than 404)."""


@dataclass(frozen=True)
class TaskRef:
    """A task as far as the mapping needs it: its id and the item id we put in its data."""

    task_id: int
    item_id: int | None


@dataclass(frozen=True)
class LsAnnotation:
    """One annotation as Label Studio reports it (webhook payload or export)."""

    annotation_id: int
    task_id: int
    completed_by: int | None
    result: list[dict[str, Any]]
    lead_time: float | None
    updated_at: str
    was_cancelled: bool

    @classmethod
    def from_payload(cls, data: dict[str, Any], *, task_id: int | None = None) -> LsAnnotation:
        """Build from Label Studio's JSON; raises ``ValueError`` naming the missing or malformed field."""
        if not isinstance(data, dict):
            raise ValueError(f"annotation must be an object, got {type(data).__name__}")
        annotation_id = stored_id(data.get("id"), "annotation.id")
        raw_task = data.get("task", task_id)
        if isinstance(raw_task, dict):
            raw_task = raw_task.get("id")
        resolved_task = stored_id(raw_task, f"annotation {annotation_id}: task")
        result = data.get("result") or []
        if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
            raise ValueError(f"annotation {annotation_id}: result must be a list of objects")
        completed_by = data.get("completed_by")
        if isinstance(completed_by, dict):
            completed_by = completed_by.get("id")
        return cls(
            annotation_id=annotation_id,
            task_id=resolved_task,
            completed_by=None
            if completed_by is None
            else stored_id(completed_by, f"annotation {annotation_id}: completed_by"),
            result=result,
            lead_time=_seconds(data.get("lead_time"), f"annotation {annotation_id}: lead_time"),
            updated_at=str(data.get("updated_at") or data.get("created_at") or "")[:40],
            was_cancelled=bool(data.get("was_cancelled", False)),
        )


#: The largest id a 64-bit signed column (BigIntegerField) stores.
MAX_STORED_ID = 2**63 - 1


def stored_id(value: Any, what: str) -> int:
    """``value`` as an id a BigIntegerField stores (0 to 2^63 - 1); raises ``ValueError`` naming ``what``."""
    if value is None:
        raise ValueError(f"{what} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{what} must be an integer, got {type(value).__name__}")
    try:
        number = int(value)
    except ValueError as exc:
        raise ValueError(f"{what} is not an integer: {value[:40]!r}") from exc  # type: ignore[index]
    if not 0 <= number <= MAX_STORED_ID:
        raise ValueError(f"{what} is out of range (0 to 2^63 - 1)")
    return number


def _seconds(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number of seconds, got {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{what} must be a finite, non-negative number of seconds")
    return seconds


@dataclass(frozen=True)
class LsUser:
    user_id: int
    email: str
    api_key: str


class LabelStudio:
    """A connection to one Label Studio server, authenticated with a legacy API token."""

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        timeout_s: float = 120.0,
        retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        if not api_key:
            raise LabelStudioError(f"no API key for Label Studio at {url}: set LABEL_STUDIO_API_KEY")
        self.url = url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        # Our own retry loop decides what is safe to repeat, so the SDK's is off.
        self._http = httpx.Client(timeout=timeout_s, follow_redirects=True)
        self._sdk = _SdkClient(base_url=self.url, api_key=api_key, max_retries=0, httpx_client=self._http)

    @classmethod
    def from_settings(cls) -> LabelStudio:
        from django.conf import settings

        return cls(
            url=settings.LABEL_STUDIO_URL,
            api_key=settings.LABEL_STUDIO_API_KEY,
            timeout_s=settings.LABEL_STUDIO_TIMEOUT_S,
            retries=settings.LABEL_STUDIO_RETRIES,
        )

    def as_user(self, api_key: str) -> LabelStudio:
        """The same server, acting as another user (e.g. an annotator)."""
        return LabelStudio(
            url=self.url, api_key=api_key, timeout_s=self._timeout_s, retries=self.retries, backoff_s=self.backoff_s
        )

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        attempts = (self.retries + 1) if idempotent else 1
        for attempt in range(attempts):
            try:
                return fn()
            except ApiError as exc:
                status = exc.status_code or 0
                if status == 404:
                    raise LabelStudioNotFoundError(f"{what}: not found in Label Studio at {self.url}") from exc
                if status < 500 and status != 429:
                    raise LabelStudioRejectedError(
                        f"{what}: Label Studio at {self.url} refused it ({status}): {_short(exc.body)}"
                    ) from exc
                error: Exception = exc
                reason = f"HTTP {status}"
            except (httpx.TransportError, OSError) as exc:
                error = exc
                reason = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < attempts:
                delay = self.backoff_s * 2**attempt
                logger.warning("%s: %s at %s; retrying in %.1fs", what, reason, self.url, delay)
                time.sleep(delay)
                continue
            raise LabelStudioUnavailableError(
                f"{what}: Label Studio is not reachable at {self.url} ({reason}); "
                "is it running? (`make labelstudio` starts a local one)"
            ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    # -- server -----------------------------------------------------------------------------------------------

    def healthy(self, *, timeout_s: float = 5.0) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def whoami(self) -> LsUser:
        me = self._call("who am I", lambda: self._sdk.users.whoami())
        return LsUser(user_id=int(me.id), email=str(me.email), api_key=self._api_key)

    # -- projects ---------------------------------------------------------------------------------------------

    def project_find(self, *, title: str) -> int | None:
        """The id of the project with exactly this title, if any (the lowest id when several exist)."""

        def find() -> int | None:
            ids = [int(p.id) for p in self._sdk.projects.list(title=title, page_size=100) if p.title == title]  # type: ignore[var-annotated]
            return min(ids) if ids else None

        return self._call(f"find project {title!r}", find)

    def project_create(self, *, title: str, label_config: str, description: str = "", instructions: str = "") -> int:
        """Create a review project: no skip button, predictions shown as the pre-filled form, and the
        instruction dialog (``instructions``, HTML) shown before the first task when given."""
        project = self._call(
            f"create project {title!r}",
            lambda: self._sdk.projects.create(
                title=title,
                label_config=label_config,
                description=description,
                show_skip_button=False,
                show_collab_predictions=True,
                expert_instruction=instructions,
                show_instruction=bool(instructions),
                maximum_annotations=1,
            ),
            idempotent=False,
        )
        return int(project.id)  # type: ignore[arg-type]

    def project_instructions_set(self, *, project_id: int, instructions: str) -> None:
        """Replace the project's instruction dialog (shown before the first task when not empty)."""
        self._call(
            f"set instructions of project {project_id}",
            lambda: self._sdk.projects.update(
                project_id, expert_instruction=instructions, show_instruction=bool(instructions)
            ),
        )

    def project_label_config(self, project_id: int) -> str:
        """The project's labeling config as Label Studio holds it now."""
        project = self._call(f"get project {project_id}", lambda: self._sdk.projects.get(project_id))
        return str(project.label_config or "")

    def project_label_config_set(self, *, project_id: int, label_config: str) -> None:
        """Replace the labeling config (Label Studio refuses one its annotations no longer fit)."""
        self._call(
            f"set labeling config of project {project_id}",
            lambda: self._sdk.projects.update(project_id, label_config=label_config),
        )

    def projects(self) -> dict[int, str]:
        """Every project the authenticated user can list: id -> title."""

        def fetch() -> dict[int, str]:
            pages: Any = self._sdk.projects.list(page_size=100)
            return {int(p.id): str(p.title) for p in pages}

        return self._call("list projects", fetch)

    def project_exists(self, project_id: int) -> bool:
        try:
            self._call(f"get project {project_id}", lambda: self._sdk.projects.get(project_id))
        except LabelStudioNotFoundError:
            return False
        return True

    def project_delete(self, project_id: int) -> None:
        self._call(f"delete project {project_id}", lambda: self._sdk.projects.delete(project_id))

    def project_task_count(self, project_id: int) -> int:
        project = self._call(f"get project {project_id}", lambda: self._sdk.projects.get(project_id))
        return int(project.task_number or 0)

    def label_config_validate(self, *, project_id: int, label_config: str) -> None:
        self._call(
            f"validate labeling config for project {project_id}",
            lambda: self._sdk.projects.validate_label_config(project_id, label_config=label_config),
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request on the SDK's authenticated connection, for endpoints the SDK does not model fully."""
        answer = self._http.request(
            method, f"{self.url}{path}", headers=self._sdk._client_wrapper.get_headers(), **kwargs
        )
        if answer.status_code >= 400:
            raise ApiError(status_code=answer.status_code, headers=dict(answer.headers), body=answer.text)
        return answer.json() if answer.content else None

    def project_task_list_set(self, *, project_id: int, shown_data: Sequence[str], title: str = "Tasks") -> int:
        """The project's data manager tab ``title``: of the task's data only ``shown_data`` is a column (in the
        task list and the labeling list); the other columns as Label Studio shows them by default.

        Label Studio opens a project's first tab; without one it makes a tab showing every data field, raw
        HTML included. Created once, updated in place (found by title); returns the tab's id.
        """

        def ensure() -> int:
            columns = self._json("GET", "/api/dm/columns/", params={"project": project_id})["columns"]
            hidden: dict[str, list[str]] = {"explore": [], "labeling": []}
            for column in columns:
                if column.get("children"):
                    continue
                parent = column.get("parent")
                key = f"{column['target']}:{parent + '.' if parent else ''}{column['id']}"
                defaults = column.get("visibility_defaults") or {}
                for mode, keys in hidden.items():
                    if (column["id"] not in shown_data) if parent == "data" else not defaults.get(mode, True):
                        keys.append(key)
            data = {"title": title, "hiddenColumns": hidden}
            for view in self._json("GET", "/api/dm/views/", params={"project": project_id}):
                if (view.get("data") or {}).get("title") == title:
                    self._json("PATCH", f"/api/dm/views/{view['id']}/", json={"project": project_id, "data": data})
                    return int(view["id"])
            created = self._json("POST", "/api/dm/views/", json={"project": project_id, "data": data})
            return int(created["id"])

        return self._call(f"set the task list of project {project_id}", ensure)

    # -- tasks ------------------------------------------------------------------------------------------------

    def tasks_import(self, *, project_id: int, tasks: Sequence[dict[str, Any]]) -> list[int]:
        """Create tasks (with their predictions) in one bulk request; returns the new task ids in input order.

        Posted as one pre-serialised JSON body on the SDK's authenticated connection: the SDK's generic
        encoder walks every value of every task and costs more than Label Studio's own work at 10,000 tasks
        (see BENCHMARKS.md). Never retried: an import whose answer was lost may have been applied.
        """
        body = json.dumps(list(tasks), ensure_ascii=False).encode()

        def post() -> Any:
            answer = self._http.post(
                f"{self.url}/api/projects/{project_id}/import",
                params={"return_task_ids": "true"},
                content=body,
                headers={**self._sdk._client_wrapper.get_headers(), "Content-Type": "application/json"},
            )
            if answer.status_code >= 400:
                raise ApiError(status_code=answer.status_code, headers=dict(answer.headers), body=answer.text)
            return answer.json()

        response = self._call(f"import {len(tasks)} tasks into project {project_id}", post, idempotent=False)
        ids = [int(i) for i in (response.get("task_ids") or [])]
        if len(ids) != len(tasks):
            raise LabelStudioError(
                f"import into project {project_id} at {self.url}: sent {len(tasks)} tasks, "
                f"Label Studio reports {len(ids)} created"
            )
        return ids

    def task_create(self, *, project_id: int, task: dict[str, Any]) -> int:
        """Create one task (the slow path; :meth:`tasks_import` is the bulk one)."""
        created = self._call(
            f"create a task in project {project_id}",
            lambda: self._sdk.tasks.create(project=project_id, data=task["data"]),
            idempotent=False,
        )
        return int(created.id)  # type: ignore[arg-type]

    def task_refs(self, *, project_id: int, page_size: int = 1000) -> list[TaskRef]:
        """Every task of the project with the item id from its data (for reconciling after a crash)."""

        def fetch() -> list[TaskRef]:
            refs = []
            pages: Any = self._sdk.tasks.list(project=project_id, fields="task_only", page_size=page_size)
            for task in pages:
                item_id = (task.data or {}).get("item_id")
                refs.append(TaskRef(task_id=int(task.id), item_id=int(item_id) if item_id is not None else None))  # type: ignore[arg-type]
            return refs

        return self._call(f"list tasks of project {project_id}", fetch)

    def project_tasks(self, *, project_id: int, page_size: int = 500) -> list[dict[str, Any]]:
        """Every task of the project with its data, predictions and annotations, as plain dicts."""

        def fetch() -> list[dict[str, Any]]:
            pages: Any = self._sdk.tasks.list(project=project_id, fields="all", page_size=page_size)
            return [task.model_dump(mode="json") for task in pages]

        return self._call(f"list tasks of project {project_id}", fetch)

    def task_delete(self, task_id: int) -> None:
        self._call(f"delete task {task_id}", lambda: self._sdk.tasks.delete(str(task_id)))

    # -- annotations ------------------------------------------------------------------------------------------

    def project_annotation_count(self, project_id: int) -> int:
        """Label Studio's own count of the project's annotations (skipped ones included)."""
        project = self._call(f"get project {project_id}", lambda: self._sdk.projects.get(project_id))
        return int(project.total_annotations_number or 0)

    def project_annotations(self, *, project_id: int, task_ids: Sequence[int] | None = None) -> list[LsAnnotation]:
        """The project's annotations (of ``task_ids`` only, when given), skipped ones flagged; one export request."""

        def fetch() -> list[LsAnnotation]:
            # Label Studio reads the subset from repeated ``ids[]`` parameters, which the SDK does not spell.
            options: Any = {"additional_query_parameters": {"ids[]": [str(i) for i in task_ids]}} if task_ids else None
            body = b"".join(
                self._sdk.projects.exports.download_sync(project_id, export_type="JSON", request_options=options)
            )
            tasks = json.loads(body or b"[]")
            out = []
            for task in tasks:
                for ann in task.get("annotations") or []:
                    out.append(LsAnnotation.from_payload(ann, task_id=int(task["id"])))
            return out

        what = f"export annotations of project {project_id}" + (f" ({len(task_ids)} tasks)" if task_ids else "")
        return self._call(what, fetch)

    def annotation_create(
        self, *, task_id: int, result: list[dict[str, Any]], lead_time: float | None = None
    ) -> LsAnnotation:
        """Create an annotation as the authenticated user (not retried: a retry could create it twice)."""
        created = self._call(
            f"create annotation on task {task_id}",
            lambda: self._sdk.annotations.create(
                task_id, result=result, lead_time=lead_time if lead_time is not None else 0.0
            ),
            idempotent=False,
        )
        return LsAnnotation.from_payload(created.model_dump(mode="json"), task_id=task_id)

    def annotation_get(self, annotation_id: int) -> LsAnnotation:
        got = self._call(f"get annotation {annotation_id}", lambda: self._sdk.annotations.get(annotation_id))
        return LsAnnotation.from_payload(got.model_dump(mode="json"))

    def annotation_update(self, *, annotation_id: int, result: list[dict[str, Any]]) -> None:
        self._call(
            f"update annotation {annotation_id}",
            lambda: self._sdk.annotations.update(annotation_id, result=result),
        )

    def annotation_delete(self, annotation_id: int) -> None:
        self._call(f"delete annotation {annotation_id}", lambda: self._sdk.annotations.delete(annotation_id))

    # -- webhooks ---------------------------------------------------------------------------------------------

    def webhook_ensure(
        self, *, project_id: int, url: str, headers: dict[str, str], actions: Iterable[str] = ANNOTATION_ACTIONS
    ) -> int:
        """The project's webhook to ``url`` sending ``actions`` with ``headers``: created, or updated in place."""
        wanted = sorted(actions)
        settings = {
            "url": url,
            "headers": headers,
            "actions": wanted,
            "send_payload": True,
            "send_for_all_actions": False,
            "is_active": True,
        }

        def ensure() -> int:
            for hook in self._sdk.webhooks.list(project=str(project_id)):
                if hook.url == url and hook.project == project_id:
                    self._sdk.webhooks.update(int(hook.id), **settings)  # type: ignore[arg-type]
                    return int(hook.id)  # type: ignore[arg-type]
            hook = self._sdk.webhooks.create(project=project_id, **settings)  # type: ignore[arg-type]
            return int(hook.id)  # type: ignore[arg-type]

        return self._call(f"ensure webhook of project {project_id} to {url}", ensure)

    # -- users ------------------------------------------------------------------------------------------------

    def user_find(self, *, email: str) -> int | None:
        def find() -> int | None:
            for user in self._sdk.users.list():
                if (user.email or "").lower() == email.lower():
                    return int(user.id)
            return None

        return self._call(f"find user {email}", find)

    def user_signup(self, *, email: str, password: str) -> LsUser:
        """Create a user the way a person would (the organization's invite link), so they can also log in.

        Returns the user's id and legacy API token. When the user exists, logs in with ``password`` instead.
        """
        invite = self._call("get invite link", lambda: self._sdk.organizations.invites.get_invite_link())
        token = getattr(invite, "token", None)

        def signup() -> LsUser:
            with httpx.Client(base_url=self.url, timeout=self._timeout_s, follow_redirects=False) as web:
                exists = self.user_find(email=email) is not None
                page = "/user/login/" if exists else f"/user/signup/?token={token}"
                web.get(page)
                form = {"email": email, "password": password, "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")}
                answer = web.post(page, data=form, headers={"Referer": f"{self.url}{page}"})
                if answer.status_code not in (302, 303):
                    raise LabelStudioRejectedError(
                        f"{'log in' if exists else 'sign up'} {email} at {self.url}: "
                        f"Label Studio answered {answer.status_code} (wrong password or invalid e-mail?)"
                    )
                me = web.get("/api/current-user/whoami").json()
                api_key = web.get("/api/current-user/token").json()["token"]
                return LsUser(user_id=int(me["id"]), email=email, api_key=str(api_key))

        return self._call(f"sign up {email}", signup)


def _short(body: Any, limit: int = 300) -> str:
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def iter_batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
