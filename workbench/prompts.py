"""Pages of the prompt engineer's loop: prompt sets and their versions, a diff, a candidate made in the browser.

Leads and prompt engineers only. Sets are read from their files (``prompts/`` and the candidates directory);
versions from the ``PromptVersion`` rows that runs registered. Runs and comparisons are in ``prompt_runs``.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import analyst_required
from extraction.models import ExtractionRun, PromptVersion
from extraction.prompts import PromptFileError, PromptSet, load_prompt_set, prompt_set_names
from extraction.services.candidates import (
    CandidateError,
    prompt_candidate_create,
    prompt_file_text,
    prompt_set_archive,
)

DIFF_CONTEXT = 3


def prompt_set_or_404(name: str) -> PromptSet:
    if name not in {n for n, _ in prompt_set_names()}:
        raise Http404(f"no prompt set {name!r}")
    try:
        return load_prompt_set(name)
    except PromptFileError as exc:
        raise Http404(str(exc)) from exc


def runs_using(versions: list[PromptVersion]) -> dict[int, list[ExtractionRun]]:
    """Version id -> the runs that used it (a run names its versions in ``options["prompt_versions"]``)."""
    wanted = {v.pk for v in versions}
    found: dict[int, list[ExtractionRun]] = {pk: [] for pk in wanted}
    sets = {v.prompt_set for v in versions}
    for run in ExtractionRun.objects.filter(prompt_set__in=sets).select_related("dataset").order_by("-pk"):
        for pk in set((run.options or {}).get("prompt_versions", {}).values()) & wanted:
            found[pk].append(run)
    return found


@analyst_required
def prompt_set_list(request: HttpRequest) -> HttpResponse:
    rows = []
    for name, is_candidate in prompt_set_names():
        try:
            pset: PromptSet | None = load_prompt_set(name)
            error = ""
        except PromptFileError as exc:
            pset, error = None, str(exc)
        rows.append(
            {
                "name": name,
                "candidate": is_candidate,
                "set": pset,
                "error": error,
                "versions": PromptVersion.objects.filter(prompt_set=name).count(),
                "runs": ExtractionRun.objects.filter(prompt_set=name).count(),
            }
        )
    return render(request, "workbench/prompts/list.html", {"rows": rows})


@analyst_required
def prompt_set_page(request: HttpRequest, name: str) -> HttpResponse:
    pset = prompt_set_or_404(name)
    versions = list(PromptVersion.objects.filter(prompt_set=pset.name).order_by("feature", "-created_at"))
    used = runs_using(versions)
    current = {spec.content_hash for spec in pset.prompts.values()}
    base = _base_versions(pset)
    prompts = []
    for key, spec in pset.prompts.items():
        mine = [v for v in versions if v.feature == key]
        older = [*mine[1:], None][: len(mine)]  # newest first: each version is diffed against the one before it
        rows = [(v, v.content_hash in current, used[v.pk], o) for v, o in zip(mine, older, strict=True)]
        prompts.append({"key": key, "spec": spec, "versions": rows, "base": base.get(key)})
    runs = ExtractionRun.objects.filter(prompt_set=pset.name).select_related("dataset").order_by("-pk")[:20]
    context = {"pset": pset, "prompts": prompts, "runs": runs, "candidates": _candidates_of(pset.name)}
    return render(request, "workbench/prompts/set.html", context)


def _base_versions(pset: PromptSet) -> dict[str, PromptVersion]:
    """For a candidate: the registered version of each prompt of its base as the base's files are now."""
    if not pset.base:
        return {}
    try:
        base = load_prompt_set(pset.base)
    except PromptFileError:
        return {}
    hashes = {spec.content_hash: key for key, spec in base.prompts.items()}
    rows = PromptVersion.objects.filter(prompt_set=base.name, content_hash__in=hashes)
    return {hashes[v.content_hash]: v for v in rows}


def _candidates_of(name: str) -> list[str]:
    found = []
    for other, is_candidate in prompt_set_names():
        if is_candidate:
            try:
                if load_prompt_set(other).base == name:
                    found.append(other)
            except PromptFileError:
                continue
    return found


@analyst_required
def prompt_version_page(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(PromptVersion, pk=pk)
    params = {k: v for k, v in version.metadata.items() if k != "parts"}
    others = PromptVersion.objects.filter(feature=version.feature).exclude(pk=pk).order_by("prompt_set", "-pk")
    context = {
        "version": version,
        "params": sorted(params.items()),
        "runs": runs_using([version])[version.pk],
        "others": others,
        "scores": _gold_scores(version),
    }
    return render(request, "workbench/prompts/version.html", context)


def _gold_scores(version: PromptVersion) -> list[dict[str, Any]]:
    from workbench.prompt_compare import version_gold_scores

    return version_gold_scores(version)


def diff_lines(a: str, b: str, *, a_name: str, b_name: str) -> list[tuple[str, str]]:
    """A unified diff as (css class, line): "add", "del", "hunk", "head" or "same"."""
    out = []
    for line in difflib.unified_diff(
        a.splitlines(), b.splitlines(), fromfile=a_name, tofile=b_name, n=DIFF_CONTEXT, lineterm=""
    ):
        if line.startswith(("---", "+++")):
            kind = "head"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        out.append((kind, line))
    return out


@analyst_required
def prompt_diff_page(request: HttpRequest) -> HttpResponse:
    versions = list(PromptVersion.objects.order_by("prompt_set", "feature", "-pk"))
    a_id, b_id = request.GET.get("a", ""), request.GET.get("b", "")
    a = get_object_or_404(PromptVersion, pk=int(a_id)) if a_id.isdigit() else None
    b = get_object_or_404(PromptVersion, pk=int(b_id)) if b_id.isdigit() else None
    lines = diff_lines(a.template, b.template, a_name=str(a), b_name=str(b)) if a and b else []
    model_change = (a.metadata.get("model"), b.metadata.get("model")) if a and b else None
    context = {"versions": versions, "a": a, "b": b, "lines": lines, "model_change": model_change}
    return render(request, "workbench/prompts/diff.html", context)


@analyst_required
def prompt_candidate_page(request: HttpRequest, name: str) -> HttpResponse:
    """GET: the form (one prompt's text and model, prefilled from the base); POST: write and register it."""
    pset = prompt_set_or_404(name)
    feature = request.POST.get("feature") or request.GET.get("feature") or next(iter(pset.prompts))
    if feature not in pset.prompts:
        raise Http404(f"prompt set {name!r} has no prompt {feature!r}")
    _, _, text = prompt_file_text(prompt_set=pset, feature=feature)
    form = {
        "name": request.POST.get("name", f"{pset.name}-c{len(_candidates_of(pset.name)) + 1}"),
        "text": request.POST.get("text", text),
        "model": request.POST.get("model", pset.prompts[feature].model),
    }
    error = ""
    if request.method == "POST":
        try:
            candidate, _ = prompt_candidate_create(
                base=pset.name, name=form["name"], feature=feature, text=form["text"], model=form["model"]
            )
        except CandidateError as exc:
            error = str(exc)
        else:
            return redirect("prompt-run-new", name=candidate.name)
    context = {"pset": pset, "feature": feature, "form": form, "error": error}
    return render(request, "workbench/prompts/candidate.html", context, status=400 if error else 200)


@analyst_required
def prompt_set_download(request: HttpRequest, name: str) -> HttpResponse:
    pset = prompt_set_or_404(name)
    response = HttpResponse(prompt_set_archive(prompt_set=pset), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{pset.name}.zip"'
    return response
