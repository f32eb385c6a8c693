"""Helpers of the URL-enumeration test: every route of a URL configuration, requested as each kind of user, against
the role matrix of the README (section "Who may open what").

The matrix is the one source of who reads (GET) and writes (POST) what; a route missing from it, a matrix row that
matches no route, and every answer that does not follow the row are reported as one line each.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.roles import Role, user_add_role

README = Path(settings.BASE_DIR) / "README.md"
MATRIX_HEADING = "## Who may open what"

ANONYMOUS, NO_ROLE, ANNOTATOR, PROMPT_ENGINEER, LEAD, STAFF, SUPERUSER = PRINCIPALS = (
    "anonymous",
    "no role",
    "annotator",
    "prompt engineer",
    "lead",
    "staff",  # a staff account without a role or any admin permission
    "superuser",
)
_ROLES = {ANNOTATOR: Role.ANNOTATOR, PROMPT_ENGINEER: Role.PROMPT_ENGINEER, LEAD: Role.LEAD}

#: Who passes each access level of the matrix. A superuser passes every role check (accounts.roles).
ACCESS: dict[str, frozenset[str]] = {
    "anyone": frozenset(PRINCIPALS),
    "signed in": frozenset(PRINCIPALS) - {ANONYMOUS},
    "any role": frozenset({ANNOTATOR, PROMPT_ENGINEER, LEAD, SUPERUSER}),
    "prompt engineer, lead": frozenset({PROMPT_ENGINEER, LEAD, SUPERUSER}),
    "lead": frozenset({LEAD, SUPERUSER}),
    "staff": frozenset({STAFF, SUPERUSER}),
    "webhook secret": frozenset(),
}
#: A method the route does not take: it is gated like the other method; the API answers 405 to those who pass.
NONE = "—"


@dataclass(frozen=True)
class Route:
    route: str  # as written in the URL configuration, e.g. "api/analysis/taxonomies/<int:pk>/"
    name: str | None  # namespaced, e.g. "admin:index"


@dataclass(frozen=True)
class Entry:
    read: str
    write: str


def routes(urlconf: str | None = None) -> list[Route]:
    """Every URLPattern of the configuration, recursively through includes."""

    def walk(resolver: URLResolver, prefix: str, namespace: str | None) -> Iterator[Route]:
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                inner = ":".join(n for n in (namespace, p.namespace) if n) or None
                yield from walk(p, prefix + str(p.pattern), inner)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace and p.name else p.name
                yield Route(prefix + str(p.pattern), name)

    return list(walk(get_resolver(urlconf), "", None))


def matrix_from_readme(text: str | None = None) -> dict[str, Entry]:
    """The README's table under MATRIX_HEADING: ``| `route` | name | read | write |``; a route ending in ``*`` covers
    every route under that prefix."""
    text = README.read_text() if text is None else text
    section = text.split(MATRIX_HEADING, 1)[1].split("\n#", 1)[0]
    matrix: dict[str, Entry] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        route, read, write = cells[0].strip("`").lstrip("/"), cells[2], cells[3]
        for access in (read, write):
            if access not in ACCESS and access != NONE:
                raise ValueError(f"role matrix: unknown access {access!r} for {route!r}")
        if read == write == NONE:
            raise ValueError(f"role matrix: {route!r} takes neither reads nor writes")
        matrix[route] = Entry(read, write)
    return matrix


def entry_for(route: Route, matrix: dict[str, Entry]) -> tuple[str, Entry] | None:
    if route.route in matrix:
        return route.route, matrix[route.route]
    for key, entry in matrix.items():
        if key.endswith("*") and route.route.startswith(key[:-1]):
            return key, entry
    return None


def url_of(route: Route, kwargs: dict[str, Any]) -> str:
    """The route with sample values: ``<conv:name>`` of path() and ``(?P<name>…)`` of re_path() are filled in."""
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), route.route)
    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m.group(1)]), url)
    return "/" + url.replace("^", "").replace("$", "")


def route_kwargs(route: Route) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", route.route) + re.findall(r"\(\?P<(\w+)>", route.route)


def principals() -> dict[str, Any]:
    """One user per principal (None for the anonymous visitor)."""
    users = get_user_model().objects
    out: dict[str, Any] = {ANONYMOUS: None}
    for principal in PRINCIPALS[1:]:
        username = "url-roles-" + principal.replace(" ", "-")
        if principal == SUPERUSER:
            out[principal] = users.create_superuser(username=username, password="x", email="root@example.org")
            continue
        out[principal] = users.create_user(username=username, password="x", is_staff=principal == STAFF)
        if principal in _ROLES:
            user_add_role(user=out[principal], role=_ROLES[principal])
    return out


def client_for(user: Any) -> Client:
    """A fresh client per request, so that a route that logs out does not sign the next request out. A view that
    raises answers 500, to be reported."""
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _login_redirect(response: HttpResponse) -> bool:
    location = response.get("Location", "")
    return response.status_code == 302 and location.startswith((str(settings.LOGIN_URL), "/admin/login/"))


def verdict(*, route: Route, access: str, method: str, principal: str, response: HttpResponse) -> str | None:
    """What is wrong with this answer under the matrix (None when it follows it)."""
    status = response.status_code
    admin = route.route.startswith("admin/")
    if access == "webhook secret":
        ok = status == 401
        expected = "401 (no secret sent)"
    elif principal in ACCESS[access] and admin:
        # Past the staff check the admin applies its own model permissions (an autocomplete naming no field is 403).
        ok = status != 500 and not _login_redirect(response)
        expected = "to pass the staff check (no login redirect, no 500)"
    elif principal in ACCESS[access]:
        # Passing the check is all that is asked: the probe's answer may be a 400, or a 503 when a service is down.
        ok = status not in (401, 403, 500) and not _login_redirect(response)
        expected = "to pass (not 401/403/500, no login redirect)"
    elif admin:
        ok = _login_redirect(response)
        expected = "a redirect to the admin login"
    elif principal == ANONYMOUS:
        ok = status in (401, 403) if route.route.startswith("api/") else _login_redirect(response)
        expected = "401/403" if route.route.startswith("api/") else "a redirect to the login page"
    else:
        ok = status == 403
        expected = "403"
    if ok:
        return None
    where = response.get("Location", "")
    return f"{method} /{route.route} as {principal}: expected {expected}, got {status}{' ' + where if where else ''}"


def route_violations(
    *, matrix: dict[str, Entry], sample_kwargs: Callable[[Route], dict[str, Any]], urlconf: str | None = None
) -> list[str]:
    """Every route of ``urlconf`` requested with GET and POST as every principal, against ``matrix``."""
    found = routes(urlconf)
    problems: list[str] = []
    used: set[str] = set()
    users = principals()
    for route in found:
        match = entry_for(route, matrix)
        if match is None:
            problems.append(f"new route /{route.route} ({route.name or 'unnamed'}) has no role entry in the README")
            continue
        used.add(match[0])
        entry = match[1]
        url = url_of(route, sample_kwargs(route))
        for method, access, other in (("GET", entry.read, entry.write), ("POST", entry.write, entry.read)):
            for principal in PRINCIPALS:
                response = _request(client_for(users[principal]), method, url)
                if access == NONE:
                    problem = _no_such_method(route=route, gate=other, method=method, response=response, who=principal)
                else:
                    problem = verdict(route=route, access=access, method=method, principal=principal, response=response)
                if problem:
                    problems.append(problem)
    problems += [f"role matrix row /{key} matches no route" for key in matrix if key not in used]
    return problems


def _request(client: Client, method: str, url: str) -> HttpResponse:
    if method == "GET":
        return cast(HttpResponse, client.get(url))
    # A body no view parses: the request tests the gate in front of the view. Past it, a view that reads a body
    # refuses this one (REST framework checks permissions before it parses, then answers 415; a form finds nothing);
    # a view that takes no body (take a snapshot, cancel a run) does its work, on the test's own data.
    return cast(HttpResponse, client.post(url, data=b"probe", content_type="application/x-role-probe"))


def _no_such_method(*, route: Route, gate: str, method: str, response: HttpResponse, who: str) -> str | None:
    """A method the route does not take, gated by the other method's access ``gate``."""
    if gate == "webhook secret":  # no user is checked: the secret is, inside the one method it takes
        ok = response.status_code == 405
    elif who not in ACCESS[gate] or not route.route.startswith("api/"):
        return verdict(route=route, access=gate, method=method, principal=who, response=response)
    else:
        ok = response.status_code == 405
    if ok:
        return None
    return f"{method} /{route.route} as {who}: the matrix says it takes no {method}, got {response.status_code}"
