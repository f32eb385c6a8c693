"""Value labels (pure): normalisation, reading value lists and the published ``values_tree.csv`` format, and
mapping new values onto a reference list (exact after normalisation, then nearest neighbour above a cosine
threshold)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]


class TaxonomyError(ValueError):
    """Bad input to the taxonomy code; the message says what and where."""


def normalise_rows(x: FloatArray) -> FloatArray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


# --------------------------------------------------------------------------------------------------- reference trees


_SPACE = re.compile(r"\s+")


def normalise_value(text: str) -> str:
    """The key two value labels are compared by: NFKC, case-folded, underscores as spaces, whitespace collapsed,
    surrounding quotes and trailing full stops removed."""
    s = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    s = _SPACE.sub(" ", s).strip().strip("\"'`“”‘’").strip()
    return s.rstrip(".").strip()


MAX_VALUE_LENGTH = 500  # TaxonomyNode.key / ValueMapping.value


def distinct_values(values: Sequence[str]) -> list[str]:
    """Values de-duplicated by :func:`normalise_value`, first spelling kept, blanks dropped, order preserved.
    A value too long to store is an error that quotes its start."""
    seen: dict[str, str] = {}
    for v in values:
        key = normalise_value(v)
        if key and key not in seen:
            if len(v.strip()) > MAX_VALUE_LENGTH:
                raise TaxonomyError(
                    f"value {v.strip()[:60]!r}... is {len(v.strip())} characters; at most {MAX_VALUE_LENGTH} are stored"
                )
            seen[key] = v.strip()
    return list(seen.values())


def values_read_file(path: str | Path, *, column: str = "value") -> list[str]:
    """Values from a file: a CSV with a ``column`` column (e.g. the published values_frequencies.csv), or plain
    text with one value per line. Errors name the file (and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path}: not UTF-8 text") from exc
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if column not in (reader.fieldnames or []):
            raise TaxonomyError(f"{path}:1: no {column!r} column (columns: {', '.join(reader.fieldnames or [])})")
        values = [(row.get(column) or "").strip() for row in reader]
    else:
        values = [line.strip() for line in text.splitlines()]
    values = [v for v in values if v]
    if not values:
        raise TaxonomyError(f"{path}: no values")
    return values


def resolve_values(values: Iterable[str], mapping: Mapping[str, str]) -> tuple[dict[str, str], int]:
    """``mapping`` (value -> target) applied to ``values`` as they are spelt: the exact spelling first, then the
    normalised one. Returns the targets found and how many of ``values`` have none."""
    by_key = {normalise_value(k): t for k, t in mapping.items()}
    out: dict[str, str] = {}
    missing = 0
    for value in values:
        target = mapping.get(value) or by_key.get(normalise_value(value))
        if target is None:
            missing += 1
        else:
            out[value] = target
    return out, missing


TREE_COLUMNS = ("cluster_id", "description", "name", "level", "parent_cluster_id", "pct_total_occurrences")


@dataclass(frozen=True)
class TreeRow:
    cluster_id: str
    name: str
    description: str
    level: int
    parent_cluster_id: str | None
    pct_total_occurrences: float | None
    line: int


@dataclass(frozen=True)
class ReferenceTree:
    """A taxonomy in the published ``values_tree.csv`` format; level 0 rows are the values."""

    rows: tuple[TreeRow, ...]

    @property
    def level_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for r in self.rows:
            counts[r.level] = counts.get(r.level, 0) + 1
        return dict(sorted(counts.items()))


def read_values_tree(source: str | Path | io.TextIOBase, *, origin: str | None = None) -> ReferenceTree:
    """Parse and check a ``values_tree.csv`` (columns: cluster_id, description, name, level, parent_cluster_id,
    pct_total_occurrences). Descriptions may span lines, hence a real CSV parser. Errors name file:line."""
    if isinstance(source, str | Path):
        where = origin or str(source)
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise TaxonomyError(f"{where}: cannot read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise TaxonomyError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        handle: Iterable[str] = io.StringIO(text, newline="")
    else:
        where = origin or "<stream>"
        handle = source
    reader = csv.DictReader(handle)
    missing = [c for c in TREE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise TaxonomyError(f"{where}:1: missing column(s) {', '.join(missing)}; expected {', '.join(TREE_COLUMNS)}")
    rows: list[TreeRow] = []
    seen: dict[str, int] = {}
    start = 2
    for raw in reader:
        line = start
        start = reader.line_num + 1
        cid = (raw.get("cluster_id") or "").strip()
        if not cid:
            raise TaxonomyError(f"{where}:{line}: empty cluster_id")
        if cid in seen:
            raise TaxonomyError(f"{where}:{line}: cluster_id {cid!r} already defined at line {seen[cid]}")
        seen[cid] = line
        try:
            level = int((raw.get("level") or "").strip())
        except ValueError:
            raise TaxonomyError(f"{where}:{line}: level {raw.get('level')!r} is not an integer") from None
        if level < 0:
            raise TaxonomyError(f"{where}:{line}: negative level {level}")
        pct_text = (raw.get("pct_total_occurrences") or "").strip()
        try:
            pct = float(pct_text) if pct_text else None
        except ValueError:
            raise TaxonomyError(f"{where}:{line}: pct_total_occurrences {pct_text!r} is not a number") from None
        name = (raw.get("name") or "").strip()
        if not name:
            raise TaxonomyError(f"{where}:{line}: empty name for cluster {cid!r}")
        parent = (raw.get("parent_cluster_id") or "").strip() or None
        rows.append(TreeRow(cid, name, (raw.get("description") or "").strip(), level, parent, pct, line))
    if not rows:
        raise TaxonomyError(f"{where}: no rows")
    by_id = {r.cluster_id: r for r in rows}
    top = max(r.level for r in rows)
    for r in rows:
        if r.parent_cluster_id is None:
            if r.level != top:
                raise TaxonomyError(f"{where}:{r.line}: {r.cluster_id!r} at level {r.level} has no parent")
            continue
        parent_row = by_id.get(r.parent_cluster_id)
        if parent_row is None:
            raise TaxonomyError(f"{where}:{r.line}: parent {r.parent_cluster_id!r} of {r.cluster_id!r} is not defined")
        if parent_row.level != r.level + 1:
            raise TaxonomyError(
                f"{where}:{r.line}: parent {r.parent_cluster_id!r} is at level {parent_row.level}, "
                f"expected {r.level + 1}"
            )
    keys: dict[str, TreeRow] = {}
    for r in rows:
        if r.level == 0:
            key = normalise_value(r.name)
            if key in keys:
                raise TaxonomyError(
                    f"{where}:{r.line}: value {r.name!r} repeats {keys[key].name!r} (line {keys[key].line})"
                )
            keys[key] = r
    return ReferenceTree(rows=tuple(rows))


# --------------------------------------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class ValueMatch:
    """How one new value maps onto the reference: ``method`` is "exact", "nearest" or "unmapped"."""

    value: str
    target: str | None
    method: str
    similarity: float | None


@dataclass(frozen=True)
class MappingResult:
    matches: tuple[ValueMatch, ...]
    threshold: float

    @property
    def unmapped(self) -> tuple[str, ...]:
        return tuple(m.value for m in self.matches if m.method == "unmapped")

    def counts(self) -> dict[str, int]:
        out = {"exact": 0, "nearest": 0, "unmapped": 0}
        for m in self.matches:
            out[m.method] += 1
        return out


def map_values(
    values: Sequence[str],
    reference: Sequence[str],
    embed: Callable[[list[str]], FloatArray] | None = None,
    threshold: float = 0.8,
) -> MappingResult:
    """Map each of ``values`` onto a ``reference`` value: exact match of :func:`normalise_value`, else the
    reference value with the highest cosine similarity of embeddings when it reaches ``threshold``, else unmapped.
    Without ``embed`` only exact matches are made."""
    if not 0.0 <= threshold <= 1.0:
        raise TaxonomyError(f"threshold must be in [0, 1] (got {threshold})")
    ref_by_key: dict[str, str] = {}
    for r in reference:
        ref_by_key.setdefault(normalise_value(r), r)
    matches: dict[int, ValueMatch] = {}
    pending: list[int] = []
    for i, v in enumerate(values):
        hit = ref_by_key.get(normalise_value(v))
        if hit is not None:
            matches[i] = ValueMatch(v, hit, "exact", 1.0)
        else:
            pending.append(i)
    if pending and embed is not None and reference:
        ref_list = list(ref_by_key.values())
        ref_vecs = normalise_rows(np.asarray(embed(ref_list), dtype=np.float64))
        new_vecs = normalise_rows(np.asarray(embed([values[i] for i in pending]), dtype=np.float64))
        sims = new_vecs @ ref_vecs.T
        best = np.argmax(sims, axis=1)
        for row, i in enumerate(pending):
            s = float(sims[row, best[row]])
            if s >= threshold:
                matches[i] = ValueMatch(values[i], ref_list[best[row]], "nearest", s)
            else:
                matches[i] = ValueMatch(values[i], None, "unmapped", s)
    for i in pending:
        matches.setdefault(i, ValueMatch(values[i], None, "unmapped", None))
    return MappingResult(matches=tuple(matches[i] for i in range(len(values))), threshold=threshold)
