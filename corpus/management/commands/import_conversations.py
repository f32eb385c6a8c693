"""`python manage.py import_conversations PATH --dataset NAME [--format …] [--skip-invalid]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from corpus.importers import FORMATS, CsvMapping, ImportFileError
from corpus.services import ImportArgumentError, conversation_import, import_limits


class Command(BaseCommand):
    help = (
        "Import conversations from JSONL (OpenAI messages, ShareGPT, WildChat/LMSYS, Anthropic HH) or CSV, "
        "plain or .gz. Atomic: a bad record aborts the import unless --skip-invalid. Re-import skips duplicates. "
        "Size limits default to the settings IMPORT_MAX_LINE_BYTES, IMPORT_MAX_MESSAGE_CHARS, "
        "IMPORT_MAX_CONVERSATION_CHARS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--dataset", required=True, help="dataset name (created when new)")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="auto")
        parser.add_argument("--skip-invalid", action="store_true", help="import the good records, list the bad")
        parser.add_argument(
            "--both-sides",
            action="store_true",
            help="HH preference pairs: import chosen and rejected, linked (default: chosen only)",
        )
        csv = parser.add_argument_group("CSV column mapping")
        csv.add_argument("--conversation-column", help="one row per message, grouped by this column")
        csv.add_argument("--role-column", default="role")
        csv.add_argument("--content-column", default="content")
        csv.add_argument("--prompt-column", default="prompt", help="one row per exchange: the human turn")
        csv.add_argument("--response-column", default="response", help="one row per exchange: the assistant turn")
        csv.add_argument("--model-column")
        csv.add_argument("--id-column")
        limits = parser.add_argument_group("size policy (records over a limit are rejected, never truncated)")
        limits.add_argument("--max-line-bytes", type=int, help="longest line read (JSONL record or CSV line)")
        limits.add_argument("--max-message-chars", type=int, help="longest message")
        limits.add_argument("--max-conversation-chars", type=int, help="longest conversation (all messages)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        mapping = CsvMapping(
            conversation=opts["conversation_column"],
            role=opts["role_column"],
            content=opts["content_column"],
            prompt=opts["prompt_column"],
            response=opts["response_column"],
            model=opts["model_column"],
            id=opts["id_column"],
        )
        try:
            limits = import_limits(
                max_line_bytes=opts["max_line_bytes"],
                max_message_chars=opts["max_message_chars"],
                max_conversation_chars=opts["max_conversation_chars"],
            )
        except ValueError as exc:
            raise CommandError(str(exc).replace("max_", "--max-").replace("_", "-")) from exc
        bar = tqdm(unit=" conv", desc="importing", disable=opts["no_progress"] or opts["verbosity"] == 0)
        try:
            summary = conversation_import(
                path=opts["path"],
                dataset=opts["dataset"],
                fmt=opts["fmt"],
                skip_invalid=opts["skip_invalid"],
                hh_both=opts["both_sides"],
                csv_mapping=mapping,
                limits=limits,
                on_progress=bar.update,
            )
        except ImportFileError as exc:
            raise CommandError(f"{exc} (nothing was imported)") from exc
        except ImportArgumentError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(
            f"{summary.path} -> dataset {summary.dataset!r}: imported {summary.imported}, "
            f"duplicates skipped {summary.duplicates}, rejected {len(summary.rejected)}"
            + (f", pairs linked {summary.pairs_linked}" if summary.pairs_linked else "")
        )
        for rejected in summary.rejected:
            self.stdout.write(f"  rejected {summary.path}:{rejected.line}: {rejected.reason}")
