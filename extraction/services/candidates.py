"""Candidate prompt sets made in the browser: a copy of a set's files with one prompt's text or model changed.

A candidate is written as the same files a set in ``prompts/`` has (``set.yaml`` with ``name`` and ``base``,
one Markdown file per prompt) under ``EXTRACTION_CANDIDATES_DIR``, then loaded and registered by the same code
as a file-based set: its versions hash exactly as they would after copying its directory into ``prompts/``.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from extraction.models import PromptVersion
from extraction.prompts import (
    PromptFileError,
    PromptSet,
    candidates_root,
    load_prompt_dir,
    load_prompt_set,
    prompt_set_directory,
    prompt_set_register,
)

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,59}")
_FRONT = re.compile(r"\A(---\n.*?\n---\n)(.*)\Z", re.S)


class CandidateError(ValueError):
    """A candidate that cannot be made as asked; the message says what to change."""


def prompt_file_text(*, prompt_set: PromptSet, feature: str) -> tuple[Path, str, str]:
    """(file, front matter with its ``---`` lines, text) of the prompt of ``feature`` in ``prompt_set``."""
    spec = prompt_set.prompts.get(feature)
    if spec is None:
        raise CandidateError(f"prompt set {prompt_set.name!r} has no prompt {feature!r}")
    path = prompt_set.directory / str(spec.metadata["file"])
    match = _FRONT.match(path.read_text(encoding="utf-8"))
    if match is None:  # load_prompt_set accepted the file, so this is a file edited since
        raise CandidateError(f"{path}: the front matter changed since the set was loaded; reload the page")
    return path, match.group(1), match.group(2)


def _set_yaml(text: str, *, name: str, base: str) -> str:
    lines = [line for line in text.splitlines() if not re.match(r"(name|base):", line)]
    return f"name: {name}\nbase: {base}\n" + "\n".join(lines) + "\n"


def _with_model(front: str, model: str) -> str:
    return re.sub(r"(?m)^model:.*$", lambda _: f"model: {model}", front, count=1)


def prompt_candidate_create(
    *, base: str, name: str, feature: str, text: str | None = None, model: str | None = None
) -> tuple[PromptSet, dict[str, PromptVersion]]:
    """Write candidate set ``name``: set ``base`` with the prompt of ``feature`` given ``text`` and/or ``model``.

    Refuses a taken name, a candidate identical to its base, and files the loader rejects (its message names the
    line to fix). Returns the loaded set and its registered versions, keyed like ``prompt_set_register``.
    """
    name = name.strip()
    if not NAME.fullmatch(name):
        raise CandidateError(f"name {name!r}: use 1-60 lowercase letters, digits, '.', '_' or '-'")
    if (prompt_set_directory(name) / "set.yaml").is_file():
        raise CandidateError(f"a prompt set named {name!r} exists already; choose another name")
    try:
        source = load_prompt_set(base)
    except PromptFileError as exc:
        raise CandidateError(str(exc)) from exc
    path, front, body = prompt_file_text(prompt_set=source, feature=feature)
    new_body = body if text is None else text.replace("\r\n", "\n").strip("\n") + "\n"
    new_front = front if not model or not model.strip() else _with_model(front, model.strip())
    root = candidates_root()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        for file in source.directory.iterdir():
            if file.is_file() and file.suffix in {".md", ".yaml"}:
                shutil.copyfile(file, staging / file.name)
        (staging / "set.yaml").write_text(
            _set_yaml((source.directory / "set.yaml").read_text(encoding="utf-8"), name=name, base=source.name),
            encoding="utf-8",
        )
        (staging / path.name).write_text(new_front + new_body, encoding="utf-8")
        try:
            candidate = load_prompt_dir(staging)
        except PromptFileError as exc:
            raise CandidateError(f"{exc.reason} (in {path.name})") from exc
        if all(candidate.prompts[k].stored_metadata() == s.stored_metadata() for k, s in source.prompts.items()):
            raise CandidateError("the candidate is identical to its base: change the text or the model")
        staging.rename(root / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    candidate = load_prompt_set(name)
    prompt_set_register(prompt_set=source)  # so that the candidate can be diffed against its base at once
    return candidate, prompt_set_register(prompt_set=candidate)


def prompt_set_archive(*, prompt_set: PromptSet) -> bytes:
    """The set's files as a zip with one folder ``<name>/``, ready to unpack into ``prompts/``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(prompt_set.directory.iterdir()):
            if file.is_file() and file.suffix in {".md", ".yaml"}:
                archive.write(file, f"{prompt_set.name}/{file.name}")
    return buffer.getvalue()
