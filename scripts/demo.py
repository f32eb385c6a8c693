"""`make demo`: the main job on the embedded default (SQLite, eager tasks, replayed LLM responses).

Migrates, creates the demo users, imports the sample dataset, runs each pipeline step that exists,
then serves the app on HOST:PORT and prints what to open. Every step is idempotent: running the
demo twice does not duplicate anything.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

SAMPLE = ROOT / "sample" / "conversations.jsonl"
DEMO_DATASET = "sample"


def step_users() -> list[str]:
    """Create one demo user per role; the password is generated on first run and kept in var/."""
    from django.contrib.auth import get_user_model

    from accounts.roles import Role, user_add_role

    secret_file = ROOT / "var" / "demo-password"
    secret_file.parent.mkdir(exist_ok=True)
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(12))
        secret_file.chmod(0o600)
    password = secret_file.read_text().strip()
    user_model = get_user_model()
    lines = []
    for username, role in (
        ("lead", Role.LEAD),
        ("annotator", Role.ANNOTATOR),
        ("prompt-engineer", Role.PROMPT_ENGINEER),
    ):
        user, created = user_model.objects.get_or_create(username=username, defaults={"is_staff": role == Role.LEAD})
        if created:
            user.set_password(password)
            user.save()
        user_add_role(user=user, role=role)
        lines.append(f"  {username:16} / {password}  ({role.label})")
    return ["Log in as any of:", *lines]


def step_import() -> list[str]:
    call_command("import_conversations", str(SAMPLE), dataset=DEMO_DATASET)
    return []


def step_extract() -> list[str]:
    """Pre-label the sample with the paper's prompts, the fused prompt and the candidate paper-v2 (its one
    response-type prompt, on every conversation), from the recorded responses."""
    from extraction.models import ExtractionRun

    lines = []
    for prompt_set, every in (("paper-v1", False), ("fused-v1", False), ("paper-v2", True)):
        call_command(
            "extract",
            dataset=DEMO_DATASET,
            prompts=prompt_set,
            provider="replay",
            all_conversations=every,
            no_progress=True,
            stdout=io.StringIO(),
        )
        run = ExtractionRun.objects.filter(prompt_set=prompt_set, dataset__name=DEMO_DATASET).latest("pk")
        lines.append(f"Extraction run {run.pk} ({prompt_set}, recorded responses): /extraction/runs/{run.pk}/")
    return lines


def step_review_loop() -> list[str]:
    """Label Studio: push the paper-v1 pre-labels, load the example reviews as annotations, pull them back."""
    from annotate.demo import step_review_loop as review_loop

    try:
        lines = review_loop(DEMO_DATASET, "paper-v1")
    except Exception as exc:  # the rest of the demo stays useful without Label Studio
        return [f"Label Studio review loop skipped: {exc}", "  (retry with `make labelstudio`, then `make demo`)"]
    return lines + demo_annotator_link()


DEMO_REVIEWER = "reviewer-ada@example.org"


def demo_annotator_link() -> list[str]:
    """The demo's `annotator` login is the example reviewer ada, so their home page shows her queue and progress."""
    from django.contrib.auth import get_user_model

    from annotate.models import Annotator

    user = get_user_model().objects.filter(username="annotator").first()
    reviewer = Annotator.objects.filter(email=DEMO_REVIEWER).first()
    if user is None or reviewer is None or Annotator.objects.filter(user=user).exclude(pk=reviewer.pk).exists():
        return []
    if reviewer.user_id is None:
        reviewer.user = user
        reviewer.save(update_fields=["user"])
    return [f"  the `annotator` login reviews as {DEMO_REVIEWER}: its home page shows her queue and progress"]


def step_agreement() -> list[str]:
    """Agreement of the paper-v1 run with the example reviews, saved as a snapshot for leads."""
    from annotate.models import Annotation
    from extraction.models import ExtractionRun

    run = ExtractionRun.objects.filter(prompt_set="paper-v1", dataset__name=DEMO_DATASET).latest("pk")
    if not Annotation.objects.filter(extraction__run=run, deleted=False).exists():
        return ["Agreement: no reviews yet (the review loop did not run)"]
    call_command("agreement", run=run.pk, save=True, no_progress=True, n_boot=200, stdout=io.StringIO())
    return [f"Agreement with the example reviews (snapshot): /validation/runs/{run.pk}/", *adjudication_lines(run.pk)]


def adjudication_lines(run_id: int) -> list[str]:
    """What the consistency checks found in the example reviews, and where a lead settles it."""
    from annotate.models import FlagRule
    from annotate.selectors import adjudication_queue, flag_counts

    counts = flag_counts(run_id=run_id)
    found = ", ".join(f"{n} {FlagRule(rule).label.lower()}" for rule, n in counts.items() if n) or "none"
    queue = adjudication_queue(run_id=run_id)
    return [
        f"Flagged reviews: {sum(counts.values())} ({found})",
        f"Adjudication (log in as lead): /adjudication/?run={run_id}  ({len(queue)} outputs to settle)",
    ]


GOLD_SET = "sample reviews"
COMPARISONS = (("paper-v1", "fused-v1"), ("paper-v1/response_type", "paper-v2"))


def step_gold() -> list[str]:
    """A gold set from the example reviews (once), and the candidates compared with paper-v1 on it."""
    from extraction.models import ExtractionRun
    from validation.models import GoldSet
    from validation.services import comparison_snapshot_create, gold_set_create_from_reviews

    run = ExtractionRun.objects.filter(prompt_set="paper-v1", dataset__name=DEMO_DATASET).latest("pk")
    gold = GoldSet.objects.filter(name=GOLD_SET, run=run).order_by("-version").first()
    if gold is None:
        try:
            gold = gold_set_create_from_reviews(name=GOLD_SET, run_id=run.pk)
        except ValueError as exc:
            return [f"Gold set: none yet ({exc})"]
        for baseline, candidate in COMPARISONS:
            comparison_snapshot_create(
                baseline=baseline, candidate=candidate, gold=str(gold.pk), options={"n_boot": 500}
            )
    left = sum(gold.params.get("left_out", {}).values())
    lines = [f"Gold set {gold} ({gold.labels.count()} labels, {left} left out: neither adjudicated nor a majority)"]
    for baseline, candidate in COMPARISONS:
        lines.append(f"  python manage.py compare_prompts {baseline} {candidate} --gold {gold.pk}")
        lines.append(f"    in the browser: /prompts/compare/?gold={gold.pk}&a={baseline}&b={candidate}")
    return lines


def step_analysis() -> list[str]:
    """Taxonomy of the extracted AI values (offline embeddings, fallback names) and the residual tables."""
    out = io.StringIO()
    call_command(
        "build_taxonomy",
        feature="ai_values",
        dataset=DEMO_DATASET,
        name="sample AI values",
        levels=3,
        top=3,
        no_progress=True,
        stdout=out,
    )
    call_command(
        "residuals", rows="ai_values", cols="response_type", dataset=DEMO_DATASET, min_conversations=2, stdout=out
    )
    call_command("descriptive", dataset=DEMO_DATASET, min_conversations=2, stdout=out)
    return ["Taxonomy, residuals and descriptive results: /analysis/taxonomies/ (names are fallbacks without an LLM)"]


# Each step returns lines to print at the end; every step is idempotent.
STEPS: list[tuple[str, Callable[[], list[str]]]] = [
    ("users", step_users),
    ("import sample conversations", step_import),
    ("extract features (recorded responses)", step_extract),
    ("review loop in Label Studio", step_review_loop),
    ("agreement report", step_agreement),
    ("gold set and prompt comparisons", step_gold),
    ("taxonomy and residuals", step_analysis),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    parser.add_argument("--no-serve", action="store_true", help="run the pipeline, then exit")
    args = parser.parse_args()

    call_command("migrate", interactive=False, verbosity=0)
    summary: list[str] = []
    for name, step in STEPS:
        print(f"==> {name}", flush=True)
        summary.extend(step())
    url = f"http://{args.host}:{args.port}/"
    print("\n".join(["", "=" * 70, f"Open {url}", *summary, "=" * 70]), flush=True)
    if not args.no_serve:
        subprocess.run(
            [sys.executable, "manage.py", "runserver", "--noreload", f"{args.host}:{args.port}"], check=False
        )


if __name__ == "__main__":
    main()
