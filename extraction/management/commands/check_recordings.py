"""`python manage.py check_recordings --dataset NAME --prompts SET [--prompts SET …] [--file PATH]`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from extraction.prompts import PromptFileError
from extraction.replay import RecordingFileError
from extraction.selectors import recordings_coverage


class Command(BaseCommand):
    help = (
        "Check that recorded responses (EXTRACTION_REPLAY_FILE by default) answer every item a replay run of the "
        "prompt set(s) on the dataset will ask for; lists what is missing and exits non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--prompts", action="append", required=True, help="prompt set (repeatable)")
        parser.add_argument("--file", default=None, help="recording file (JSONL)")
        parser.add_argument("--all", dest="all_conversations", action="store_true", help="no subjectivity gating")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = opts["file"] or str(settings.EXTRACTION_REPLAY_FILE)
        failed = False
        for prompt_set in opts["prompts"]:
            try:
                report = recordings_coverage(
                    dataset=opts["dataset"],
                    prompt_set=prompt_set,
                    path=path,
                    all_conversations=opts["all_conversations"],
                )
            except (PromptFileError, RecordingFileError) as exc:
                raise CommandError(str(exc)) from exc
            if report.checked == 0:
                raise CommandError(f"dataset {opts['dataset']!r} has no conversations: import it first")
            status = "ok" if not report.missing else f"{len(report.missing)} missing"
            self.stdout.write(
                f"{prompt_set} on {opts['dataset']}: {report.checked} items checked against {path}: {status}"
                + (f" ({report.unused} recordings are for other prompt versions)" if report.unused else "")
            )
            for line in report.missing[:50]:
                self.stdout.write(f"  {line}")
            failed = failed or bool(report.missing)
        if failed:
            raise CommandError("recordings do not cover every item")
