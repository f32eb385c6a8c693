"""Prompt sets: loading the files in ``prompts/<set>/``, rendering requests, registering versions.

A set is a directory with ``set.yaml`` (name, attribution, layout, shared texts) and one Markdown
file per prompt: YAML front matter (feature, title, output kind, default model, max_tokens,
prefill, source, notes) and the prompt's text, in which the line ``{{transcript}}`` marks where the
paper inserts the conversation (Appendix A.2: "we inserted conversation transcripts in where the
'TRANSCRIPT' variable is denoted").

Layouts (how a prompt becomes ``PromptParts`` for the cache-aware client, see ``extraction.llm``):

- ``codebook`` (paper-v1): ``system`` = the set's preamble followed by every prompt of the set,
  each under its title, with the transcript lines replaced by ``transcript_reference``. It is
  identical for every feature and every conversation, so it is one long cached prefix. Then the
  transcript block (shared by the features of one conversation: the second cached prefix), then a
  one-line tail naming the feature. The published wording is kept; only its position changes.
- ``inline``: the published order exactly; ``transcript`` = text before the conversation + the
  conversation, ``instructions`` = text after it. No prefix is shared across features.
- ``single`` (fused-v1): ``system`` = the preamble + the one prompt (cached, shared by every
  conversation), then the transcript, then the set's tail.

A version is the SHA-256 of the rendered template (system, transcript block, instructions,
prefill) and the metadata: editing any file of a set (in codebook layout the system holds every
prompt) makes new versions, and ``prompt_set_register`` records them as ``PromptVersion`` rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from extraction.features import ALL_FEATURES, FEATURE_LABELS
from extraction.llm_types import PromptParts

if TYPE_CHECKING:
    from extraction.models import PromptVersion

FUSED = "fused"
OUTPUT_KINDS = {"values", "response_type", "subjectivity", "task", FUSED}
LAYOUTS = {"codebook", "inline", "single"}
PLACEHOLDER = "{{transcript}}"
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_REQUIRED = ("feature", "title", "output", "model", "max_tokens")


class PromptFileError(ValueError):
    """A prompt file or set is malformed; the message names the file and what is wrong."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class PromptSpec:
    """One prompt of a set, ready to render for any conversation."""

    prompt_set: str
    feature: str  # a feature name, or "fused" for a prompt that answers every feature
    title: str
    output: str
    model: str
    max_tokens: int
    prefill: str
    system: str
    transcript_block: str  # contains "{transcript}"
    instructions: str
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def features(self) -> tuple[str, ...]:
        """The features this prompt answers."""
        if self.feature == FUSED:
            return tuple(self.metadata.get("features") or ALL_FEATURES)
        return (self.feature,)

    @property
    def template(self) -> str:
        """The whole request as text, the transcript left as ``{transcript}``: what a version stores."""
        return (
            f"[system]\n{self.system}\n\n[user]\n{self.transcript_block}\n\n{self.instructions}\n\n"
            f"[assistant prefill]\n{self.prefill}"
        )

    @property
    def content_hash(self) -> str:
        payload = json.dumps(
            {"set": self.prompt_set, "feature": self.feature, "metadata": self.stored_metadata()},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def render(self, transcript: str) -> PromptParts:
        """The request for one conversation (``transcript`` as rendered by corpus.transcript)."""
        return PromptParts(
            system=self.system,
            transcript=self.transcript_block.replace("{transcript}", transcript),
            instructions=self.instructions,
            prefill=self.prefill,
        )

    def stored_metadata(self) -> dict[str, Any]:
        """What a PromptVersion keeps so that it can be rendered again without the files."""
        return {
            **self.metadata,
            "title": self.title,
            "output": self.output,
            "model": self.model,
            "max_tokens": self.max_tokens,
            "prefill": self.prefill,
            "parts": {
                "system": self.system,
                "transcript_block": self.transcript_block,
                "instructions": self.instructions,
            },
        }


@dataclass(frozen=True)
class PromptSet:
    name: str
    directory: Path
    description: str
    attribution: str
    layout: str
    prompts: dict[str, PromptSpec]  # keyed by feature ("fused" for a fused set)
    base: str = ""  # the set a candidate was derived from (``base:`` in set.yaml); "" for an original set

    @property
    def fused(self) -> bool:
        return FUSED in self.prompts

    @property
    def features(self) -> tuple[str, ...]:
        if self.fused:
            return self.prompts[FUSED].features
        return tuple(f for f in ALL_FEATURES if f in self.prompts)


SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def prompts_root() -> Path:
    from django.conf import settings

    return Path(getattr(settings, "EXTRACTION_PROMPTS_DIR", Path(settings.BASE_DIR) / "prompts"))


def candidates_root() -> Path:
    """Where candidate sets made in the browser are written (the same files as a set in ``prompts/``)."""
    from django.conf import settings

    return Path(getattr(settings, "EXTRACTION_CANDIDATES_DIR", Path(settings.BASE_DIR) / "var" / "prompt-candidates"))


def prompt_set_directory(name: str) -> Path:
    """The directory of set ``name``: in ``prompts/``, else among the candidates (``prompts/`` wins)."""
    directory = prompts_root() / name
    candidate = candidates_root() / name
    if not (directory / "set.yaml").is_file() and (candidate / "set.yaml").is_file():
        return candidate
    return directory


def prompt_set_names() -> list[tuple[str, bool]]:
    """(name, is_candidate) of every set on disk: the ``prompts/`` sets first, then the candidates."""
    found: list[tuple[str, bool]] = []
    for root, is_candidate in ((prompts_root(), False), (candidates_root(), True)):
        if not root.is_dir():
            continue
        seen = {n for n, _ in found}
        found += [
            (p.name, is_candidate) for p in sorted(root.iterdir()) if (p / "set.yaml").is_file() and p.name not in seen
        ]
    return found


def _set_directory(name: str, *, root: Path | None) -> Path:
    """The directory of set ``name`` (in ``root``, or in ``prompts/`` then the candidates); PromptFileError unless
    ``name`` is a plain name of a set there."""
    if not SET_NAME.fullmatch(name) or ".." in name:
        raise PromptFileError(
            repr(name), "a prompt set is chosen by its name in the prompt directory (letters, digits, '.', '_', '-')"
        )
    if root is not None:
        known = sorted(p.name for p in root.iterdir() if (p / "set.yaml").is_file()) if root.is_dir() else []
    else:
        known = [n for n, _ in prompt_set_names()]
    if name not in known:
        raise PromptFileError(
            repr(name), f"no prompt set here by that name; known sets: {', '.join(sorted(known)) or 'none'}"
        )
    return root / name if root is not None else prompt_set_directory(name)


def load_prompt_set(name: str, *, root: Path | None = None) -> PromptSet:
    """Read set ``name`` from ``root`` or, without it, from ``prompts/`` then the browser-made candidates; raise
    PromptFileError.

    ``name`` is a plain name, never a path: anything with a separator, ``..`` or a leading dot is refused before the
    file system is touched, so that a request cannot load, or probe for, a folder outside the prompt directory.
    """
    return load_prompt_dir(_set_directory(name, root=root))


def load_prompt_dir(directory: Path) -> PromptSet:
    """Read the set in ``directory``, a path the project itself chose (never one from a request); PromptFileError."""
    set_file = directory / "set.yaml"
    meta = _read_yaml(set_file)
    set_name = str(meta.get("name") or directory.name)
    layout = str(meta.get("layout", "inline"))
    if layout not in LAYOUTS:
        raise PromptFileError(set_file, f"layout {layout!r} is not one of {sorted(LAYOUTS)}")
    raw_prompts = [_read_prompt_file(path) for path in sorted(directory.glob("*.md"))]
    if not raw_prompts:
        raise PromptFileError(directory, "the set has no prompt files (*.md)")
    by_feature: dict[str, tuple[Path, dict[str, Any], str, str, str]] = {}
    for path, front, head, block, tail in raw_prompts:
        feature = front["feature"]
        if feature in by_feature:
            raise PromptFileError(path, f"feature {feature!r} already defined in {by_feature[feature][0].name}")
        by_feature[feature] = (path, front, head, block, tail)
    if (FUSED in by_feature) != (layout == "single") or (layout == "single" and len(by_feature) != 1):
        raise PromptFileError(set_file, "layout 'single' goes with exactly one prompt, of feature 'fused'")

    reference = str(meta.get("transcript_reference", "(the conversation above)"))
    transcript_block = str(meta.get("transcript_block", "<conversation>\n{transcript}\n</conversation>"))
    if "{transcript}" not in transcript_block:
        raise PromptFileError(set_file, "transcript_block must contain {transcript}")
    preamble = str(meta.get("preamble", "")).strip()
    tail_template = str(meta.get("tail", "")).strip()
    ordered = [f for f in (*ALL_FEATURES, FUSED) if f in by_feature]

    def body(feature: str) -> str:
        _, _, head, _, tail = by_feature[feature]
        return "\n\n".join(p for p in (head, reference, tail) if p)

    codebook = "\n\n".join(
        [preamble, *(f"## {by_feature[f][1]['title']}\n\n{body(f)}" for f in ordered)] if preamble else []
    )
    set_meta = {
        "set_description": str(meta.get("description", "")),
        "attribution": str(meta.get("attribution", "")),
        "layout": layout,
    }
    prompts: dict[str, PromptSpec] = {}
    for feature in ordered:
        path, front, head, block, tail = by_feature[feature]
        if layout == "codebook":
            system, block_text = codebook, transcript_block
            instructions = tail_template.format(title=front["title"], feature=feature)
        elif layout == "single":
            system = "\n\n".join(p for p in (preamble, body(feature)) if p)
            block_text, instructions = transcript_block, tail_template.format(title=front["title"], feature=feature)
        else:
            system = preamble
            block_text = "\n\n".join(p for p in (head, block) if p)
            instructions = tail
        extra = {k: v for k, v in front.items() if k not in {*_REQUIRED, "prefill"}}
        prompts[feature] = PromptSpec(
            prompt_set=set_name,
            feature=feature,
            title=str(front["title"]),
            output=str(front["output"]),
            model=str(front["model"]),
            max_tokens=int(front["max_tokens"]),
            prefill=str(front.get("prefill") or ""),
            system=system,
            transcript_block=block_text,
            instructions=instructions,
            metadata={**set_meta, **extra, "file": path.name},
        )
    return PromptSet(
        name=set_name,
        directory=directory,
        description=set_meta["set_description"],
        attribution=set_meta["attribution"],
        layout=layout,
        prompts=prompts,
        base=str(meta.get("base") or ""),
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PromptFileError(path, f"cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptFileError(path, "expected a YAML mapping")
    return data


def _read_prompt_file(path: Path) -> tuple[Path, dict[str, Any], str, str, str]:
    """(path, front matter, text before the conversation, conversation block, text after it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptFileError(path, f"cannot read: {exc}") from exc
    match = _FRONT_MATTER.match(text)
    if not match:
        raise PromptFileError(path, "expected YAML front matter between '---' lines at the top")
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise PromptFileError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(front, dict):
        raise PromptFileError(path, "front matter must be a mapping")
    missing = [k for k in _REQUIRED if front.get(k) in (None, "")]
    if missing:
        raise PromptFileError(path, f"front matter lacks {', '.join(missing)}")
    feature = str(front["feature"])
    if feature not in (*ALL_FEATURES, FUSED):
        raise PromptFileError(path, f"feature {feature!r} is not one of {', '.join((*ALL_FEATURES, FUSED))}")
    if front["output"] not in OUTPUT_KINDS:
        raise PromptFileError(path, f"output {front['output']!r} is not one of {sorted(OUTPUT_KINDS)}")
    if not isinstance(front["max_tokens"], int) or front["max_tokens"] <= 0:
        raise PromptFileError(path, f"max_tokens must be a positive integer, got {front['max_tokens']!r}")
    if feature == FUSED:
        unknown = set(front.get("features") or ALL_FEATURES) - set(ALL_FEATURES)
        if unknown:
            raise PromptFileError(path, f"unknown features {sorted(unknown)}")
    front["feature"] = feature
    front.setdefault("title", FEATURE_LABELS.get(feature, feature))
    lines = match.group(2).strip("\n").split("\n")
    marks = [i for i, line in enumerate(lines) if PLACEHOLDER in line]
    if len(marks) != 1:
        raise PromptFileError(path, f"the text must contain the line {PLACEHOLDER} exactly once, found {len(marks)}")
    start = end = marks[0]
    # The paper wraps the transcript in <conversation> tags in most prompts: they belong to the block.
    if start > 0 and lines[start - 1].strip() == "<conversation>":
        start -= 1
    if end + 1 < len(lines) and lines[end + 1].strip() == "</conversation>":
        end += 1
    head = "\n".join(lines[:start]).strip()
    block = "\n".join(lines[start : end + 1]).replace(PLACEHOLDER, "{transcript}")
    tail = "\n".join(lines[end + 1 :]).strip()
    return path, front, head, block, tail


def spec_from_version(version: PromptVersion) -> PromptSpec:
    """Rebuild the prompt a version recorded (so a run renders what it started with, files edited or not)."""
    meta = dict(version.metadata)
    parts = meta.pop("parts")
    return PromptSpec(
        prompt_set=version.prompt_set,
        feature=version.feature,
        title=meta.pop("title"),
        output=meta.pop("output"),
        model=meta.pop("model"),
        max_tokens=int(meta.pop("max_tokens")),
        prefill=meta.pop("prefill"),
        system=parts["system"],
        transcript_block=parts["transcript_block"],
        instructions=parts["instructions"],
        metadata=meta,
    )


def prompt_set_register(*, prompt_set: PromptSet) -> dict[str, PromptVersion]:
    """Record a version for each prompt of the set (existing ones are reused); keyed by feature."""
    from extraction.models import PromptVersion

    versions: dict[str, PromptVersion] = {}
    for feature, spec in prompt_set.prompts.items():
        version, _ = PromptVersion.objects.get_or_create(
            prompt_set=spec.prompt_set,
            feature=feature,
            content_hash=spec.content_hash,
            defaults={"template": spec.template, "metadata": spec.stored_metadata()},
        )
        versions[feature] = version
    return versions
