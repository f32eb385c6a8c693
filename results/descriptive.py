"""The paper's descriptive results, computed from long-form labels.

Pure module (no Django): ``results.labels.LabelSet`` in, ``DescriptiveTable`` out. Each
function names the table or appendix of Huang et al. (2025), "Values in the Wild", it reproduces.

Denominators. "Share of conversations" is over the conversations in which the feature(s) used were
extracted (for AI x human value pairs: both). A value counts once per conversation.

Privacy threshold (as Clio does): every function takes ``min_conversations`` (k). A value, pair,
group or cell seen in fewer than k conversations is left out of the table, and ``suppressed`` says
how many were left out (never which).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from results.labels import AnalysisInputError, Incidence, LabelSet, incidence

NONE_LABEL = "none"

# Watch-list for the safety review: values the paper calls rare but concerning (Section 3.1:
# "sexual exploitation", "dominance", "amorality"; Section 3.4: "rule-breaking", "moral nihilism").
DEFAULT_WATCHLIST: tuple[str, ...] = (
    "sexual exploitation",
    "dominance",
    "amorality",
    "moral nihilism",
    "rule-breaking",
    "deception",
    "manipulation",
    "harm",
    "violence",
    "exploitation",
)


@dataclass(frozen=True)
class DescriptiveTable:
    name: str
    table: pd.DataFrame
    n_conversations: int
    min_conversations: int
    suppressed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        frame = self.table.replace({np.nan: None})
        return {
            "name": self.name,
            "n_conversations": self.n_conversations,
            "min_conversations": self.min_conversations,
            "suppressed": self.suppressed,
            "notes": list(self.notes),
            "columns": list(frame.columns),
            "rows": frame.to_dict(orient="records"),
        }


def _check_k(k: int) -> None:
    if k < 1:
        raise AnalysisInputError(f"min_conversations must be at least 1, got {k}")


def _inc(labels: LabelSet, conversations: np.ndarray | None = None, *, empty_label: str | None = None) -> Incidence:
    return incidence(
        labels, labels.conversations() if conversations is None else conversations, empty_label=empty_label
    )


def single_label(labels: LabelSet, conversations: np.ndarray) -> np.ndarray:
    """The one label of a single-valued feature for each of ``conversations`` (None when absent)."""
    inc = _inc(labels, conversations)
    per_conv = np.asarray(inc.matrix.sum(axis=1)).ravel()
    if (per_conv > 1).any():
        bad = conversations[np.flatnonzero(per_conv > 1)[0]]
        raise AnalysisInputError(f"{labels.name!r} should have one label per conversation; conversation {bad} has more")
    out = np.full(len(conversations), None, dtype=object)
    coo = inc.matrix.tocoo()
    out[coo.row] = inc.labels[coo.col]
    return out


def value_shares(labels: LabelSet, *, min_conversations: int = 1, top: int | None = None) -> DescriptiveTable:
    """Share of conversations with each value (Table 1; Table 13a for stated values)."""
    _check_k(min_conversations)
    inc = _inc(labels)
    counts = inc.conversation_counts
    n = len(inc.conversations)
    keep = counts >= min_conversations
    frame = pd.DataFrame({"value": inc.labels[keep], "conversations": counts[keep]})
    frame["pct"] = 100.0 * frame["conversations"] / max(n, 1)
    frame = frame.sort_values(["conversations", "value"], ascending=[False, True], ignore_index=True)
    if top is not None:
        frame = frame.head(top)
    return DescriptiveTable(f"{labels.name} shares", frame, n, min_conversations, int((~keep).sum()))


def category_shares(labels: LabelSet, mapping: Mapping[str, str], *, min_conversations: int = 1) -> DescriptiveTable:
    """Share of all value expressions falling in each (top-level) category (Table 3).

    Denominator: all value expressions (a value counts once per conversation) of values above the
    privacy threshold; expressions of values missing from ``mapping`` are reported as one
    "(unmapped)" row so the shares still add up to 100.
    """
    _check_k(min_conversations)
    inc = _inc(labels)
    counts = inc.conversation_counts
    keep = counts >= min_conversations
    cats = pd.Series([mapping.get(v, "(unmapped)") for v in inc.labels[keep]], dtype=object)
    frame = pd.DataFrame({"category": cats, "expressions": counts[keep]}).groupby("category", as_index=False).sum()
    frame["pct"] = 100.0 * frame["expressions"] / max(int(frame["expressions"].sum()), 1)
    frame = frame.sort_values("expressions", ascending=False, ignore_index=True)
    unmapped = int(sum(1 for v in inc.labels[keep] if v not in mapping))
    notes = (f"{unmapped} value(s) have no category in the mapping",) if unmapped else ()
    return DescriptiveTable(
        "category shares", frame, len(inc.conversations), min_conversations, int((~keep).sum()), notes
    )


def _group_table(name: str, values: np.ndarray, groups: np.ndarray | None, k: int, label: str) -> DescriptiveTable:
    """Percentage of conversations per label, one column per group; cells under k hidden."""
    frame = pd.DataFrame({label: values, "group": "all" if groups is None else groups})
    frame = frame[frame[label].notna() & frame["group"].notna()]
    counts = frame.groupby(["group", label]).size().unstack("group", fill_value=0)
    sizes = counts.sum(axis=0)
    small_groups = sizes < k
    hidden_cells = int(((counts > 0) & (counts < k)).to_numpy()[:, ~small_groups.to_numpy()].sum())
    counts = counts.loc[:, ~small_groups]
    pct = 100.0 * counts / counts.sum(axis=0)
    pct = pct.mask((counts > 0) & (counts < k))
    pct.columns = [f"pct {c}" for c in pct.columns]
    counts.columns = [f"n {c}" for c in counts.columns]
    out = pd.concat([pct, counts.mask((counts > 0) & (counts < k))], axis=1).reset_index()
    notes = (f"{int(small_groups.sum())} group(s) under the threshold left out",) if small_groups.any() else ()
    return DescriptiveTable(name, out, int(sizes.sum()), k, hidden_cells + int(small_groups.sum()), notes)


def response_type_distribution(
    response: LabelSet,
    *,
    groups: Mapping[int, str] | None = None,
    min_conversations: int = 1,
    order: Sequence[str] | None = None,
) -> DescriptiveTable:
    """Distribution of AI response types, overall or per group such as the model that answered (Table 9)."""
    _check_k(min_conversations)
    convs = response.conversations()
    values = single_label(response, convs)
    grp = None if groups is None else np.array([groups.get(int(c)) for c in convs], dtype=object)
    out = _group_table("response types", values, grp, min_conversations, "response_type")
    if order is not None:
        rank = {v: i for i, v in enumerate(order)}
        out = DescriptiveTable(
            out.name,
            out.table.sort_values(
                "response_type", key=lambda s: s.map(lambda v: rank.get(v, len(rank))), ignore_index=True
            ),
            out.n_conversations,
            out.min_conversations,
            out.suppressed,
            out.notes,
        )
    return out


def _common(*sets: LabelSet) -> np.ndarray:
    convs = sets[0].conversations()
    for s in sets[1:]:
        convs = np.intersect1d(convs, s.conversations(), assume_unique=True)
    return convs


def value_mirroring(
    ai: LabelSet, human: LabelSet, response: LabelSet, *, min_conversations: int = 1
) -> DescriptiveTable:
    """Share of conversations in which the AI expresses one of the human's values, by response type (Table 6).

    Denominator: conversations of that response type in which the human expressed at least one value.
    """
    _check_k(min_conversations)
    convs = _common(ai, human, response)
    a = _inc(ai, convs)
    h = _inc(human, convs)
    # Same value on both sides: align the two vocabularies on their shared labels.
    shared = np.intersect1d(a.labels, h.labels)
    a_cols = np.searchsorted(a.labels, shared)
    h_cols = np.searchsorted(h.labels, shared)
    mirrored = np.asarray(a.matrix[:, a_cols].multiply(h.matrix[:, h_cols]).sum(axis=1)).ravel() > 0
    has_human = np.asarray(h.matrix.sum(axis=1)).ravel() > 0
    rtype = single_label(response, convs)
    frame = pd.DataFrame({"response_type": rtype, "has_human": has_human, "mirrored": mirrored})
    frame = frame[frame["has_human"] & frame["response_type"].notna()]
    out = frame.groupby("response_type").agg(conversations=("has_human", "size"), mirrored=("mirrored", "sum"))
    small = out["conversations"] < min_conversations
    out = out[~small].reset_index()
    out["mirroring_pct"] = 100.0 * out["mirrored"] / out["conversations"]
    out = out.sort_values("mirroring_pct", ascending=False, ignore_index=True)
    return DescriptiveTable("value mirroring", out, len(convs), min_conversations, int(small.sum()))


def mirrored_values(
    ai: LabelSet, human: LabelSet, *, min_conversations: int = 1, top: int | None = 10
) -> DescriptiveTable:
    """For each human value, the share of its conversations in which the AI expresses the same value (Table 7)."""
    _check_k(min_conversations)
    convs = _common(ai, human)
    a = _inc(ai, convs)
    h = _inc(human, convs)
    shared = np.intersect1d(a.labels, h.labels)
    a_cols = np.searchsorted(a.labels, shared)
    h_cols = np.searchsorted(h.labels, shared)
    both = np.asarray(a.matrix[:, a_cols].multiply(h.matrix[:, h_cols]).sum(axis=0)).ravel()
    with_human = h.conversation_counts[h_cols]
    keep = with_human >= min_conversations
    frame = pd.DataFrame({"value": shared[keep], "human_conversations": with_human[keep], "mirrored": both[keep]})
    frame["mirroring_pct"] = 100.0 * frame["mirrored"] / frame["human_conversations"]
    frame = frame.sort_values(["mirroring_pct", "human_conversations"], ascending=False, ignore_index=True)
    if top is not None:
        frame = frame.head(top)
    suppressed = int((h.conversation_counts < min_conversations).sum())
    return DescriptiveTable("mirrored values", frame, len(convs), min_conversations, suppressed)


def top_value_pairs(
    ai: LabelSet,
    human: LabelSet,
    *,
    response: LabelSet | None = None,
    include_none: bool = True,
    top: int = 20,
    min_conversations: int = 1,
) -> DescriptiveTable:
    """Most common (human value, AI value) pairs as a share of all conversations (Table 4; Table 5 by response type).

    ``include_none``: conversations with no human value pair "none" with each AI value, as in the
    left half of Table 4. With ``response``, the top pairs of each response type (percentages keep
    all conversations as denominator, as Table 5's figures do).
    """
    _check_k(min_conversations)
    sets = (ai, human) if response is None else (ai, human, response)
    convs = _common(*sets)
    a = _inc(ai, convs)
    h = _inc(human, convs, empty_label=NONE_LABEL if include_none else None)
    n = len(convs)
    groups: list[tuple[str | None, np.ndarray]]
    if response is None:
        groups = [(None, np.ones(n, dtype=bool))]
    else:
        rtype = single_label(response, convs)
        groups = [(str(r), rtype == r) for r in pd.unique(rtype[pd.notna(rtype)])]
    frames = []
    suppressed = 0
    for name, mask in groups:
        d = sp.diags(mask.astype(np.int64), dtype=np.int64)
        pairs = (h.matrix.T @ d @ a.matrix).tocoo()
        small = pairs.data < min_conversations
        suppressed += int(small.sum())
        f = pd.DataFrame(
            {
                "human_value": h.labels[pairs.row[~small]],
                "ai_value": a.labels[pairs.col[~small]],
                "conversations": pairs.data[~small],
            }
        )
        f = f.sort_values(["conversations", "human_value", "ai_value"], ascending=[False, True, True]).head(top)
        if name is not None:
            f.insert(0, "response_type", name)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(out):
        out["pct"] = 100.0 * out["conversations"] / max(n, 1)
    return DescriptiveTable("top value pairs", out, n, min_conversations, suppressed)


def coefficient_of_variation(
    values: LabelSet,
    tasks: LabelSet,
    *,
    min_conversations: int = 1,
    min_task_conversations: int = 1,
    top: int | None = None,
) -> DescriptiveTable:
    """How stable each value's frequency is across tasks (Section 3.1, "context-invariance").

    For value v and task t, ``rate_vt`` = share of task t's conversations expressing v. Over the T
    tasks with at least ``min_task_conversations`` conversations: ``CV_v = sd_t(rate_vt) / mean_t(rate_vt)``
    (population standard deviation). Low CV = the value appears at a similar rate whatever the
    task. Computed from sparse sums (sum of rates and of squared rates), never a dense matrix.
    """
    _check_k(min_conversations)
    convs = _common(values, tasks)
    v = _inc(values, convs)
    t = _inc(tasks, convs)
    task_sizes = t.conversation_counts
    keep_t = task_sizes >= max(min_task_conversations, min_conversations)
    t_matrix = t.matrix[:, np.flatnonzero(keep_t)]
    counts = (v.matrix.T @ t_matrix).tocsr().astype(np.float64)  # values x tasks
    inv = 1.0 / task_sizes[keep_t]
    n_tasks = int(keep_t.sum())
    rates = counts @ sp.diags(inv)
    mean = np.asarray(rates.sum(axis=1)).ravel() / max(n_tasks, 1)
    mean_sq = np.asarray(rates.multiply(rates).sum(axis=1)).ravel() / max(n_tasks, 1)
    sd = np.sqrt(np.maximum(mean_sq - mean**2, 0.0))
    keep_v = v.conversation_counts >= min_conversations
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = sd / mean
    frame = pd.DataFrame(
        {
            "value": v.labels[keep_v],
            "conversations": v.conversation_counts[keep_v],
            "mean_rate": mean[keep_v],
            "sd_rate": sd[keep_v],
            "cv": cv[keep_v],
        }
    )
    frame = frame[frame["mean_rate"] > 0].sort_values(["cv", "value"], ignore_index=True)
    if top is not None:
        frame = frame.head(top)
    suppressed = int((~keep_v).sum()) + int((~keep_t).sum())
    notes = (f"over {n_tasks} task(s) with at least {max(min_task_conversations, min_conversations)} conversations",)
    return DescriptiveTable(
        "coefficient of variation across tasks", frame, len(convs), min_conversations, suppressed, notes
    )


def stated_vs_all(
    ai: LabelSet, stated: LabelSet, response: LabelSet, *, min_conversations: int = 1
) -> DescriptiveTable:
    """Per response type, the share of conversations with at least one AI value and with at least one
    explicitly stated AI value (Appendix B.6, Figure 13b). Top stated values: ``value_shares(stated)``."""
    _check_k(min_conversations)
    convs = _common(ai, stated, response)
    any_ai = np.asarray(_inc(ai, convs).matrix.sum(axis=1)).ravel() > 0
    any_stated = np.asarray(_inc(stated, convs).matrix.sum(axis=1)).ravel() > 0
    frame = pd.DataFrame({"response_type": single_label(response, convs), "ai": any_ai, "stated": any_stated})
    out = frame.groupby("response_type").agg(
        conversations=("ai", "size"), with_ai=("ai", "sum"), with_stated=("stated", "sum")
    )
    small = out["conversations"] < min_conversations
    out = out[~small].reset_index()
    out["pct_with_ai_values"] = 100.0 * out["with_ai"] / out["conversations"]
    out["pct_with_stated_values"] = 100.0 * out["with_stated"] / out["conversations"]
    out = out.sort_values("pct_with_stated_values", ascending=False, ignore_index=True)
    return DescriptiveTable("stated vs all AI values", out, len(convs), min_conversations, int(small.sum()))


def compare_models(
    labels: LabelSet, models: Mapping[int, str], *, top: int = 10, min_conversations: int = 1
) -> DescriptiveTable:
    """Top values of each model that answered, as a share of that model's conversations (Table 8)."""
    _check_k(min_conversations)
    convs = labels.conversations()
    inc = _inc(labels, convs)
    model_of = np.array([models.get(int(c)) for c in convs], dtype=object)
    frames = []
    suppressed = 0
    for model in sorted({m for m in model_of if m}):
        mask = model_of == model
        n_model = int(mask.sum())
        if n_model < min_conversations:
            suppressed += 1
            continue
        counts = np.asarray(inc.matrix[np.flatnonzero(mask)].sum(axis=0)).ravel()
        small = (counts > 0) & (counts < min_conversations)
        suppressed += int(small.sum())
        order = np.lexsort((inc.labels, -counts))
        order = order[counts[order] >= min_conversations][:top]
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "rank": np.arange(1, len(order) + 1),
                    "value": inc.labels[order],
                    "conversations": counts[order],
                    "pct": 100.0 * counts[order] / n_model,
                    "model_conversations": n_model,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return DescriptiveTable("values by model", out, len(convs), min_conversations, suppressed)


def _watch_pattern(terms: Iterable[str]) -> re.Pattern[str]:
    cleaned = [t.strip().lower() for t in terms if t and t.strip()]
    if not cleaned:
        raise AnalysisInputError("the safety watch-list is empty")
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in cleaned) + r")\b", re.IGNORECASE)


def safety_review(
    labels: LabelSet,
    *,
    terms: Iterable[str] = DEFAULT_WATCHLIST,
    max_pct: float = 0.16,
    tasks: LabelSet | None = None,
    top_tasks: int = 3,
    min_conversations: int = 1,
) -> DescriptiveTable:
    """Rare values matching a watch-list, for review by a safety team (Section 3.1).

    A value is listed when one of ``terms`` occurs in it as a whole word (case-insensitive) and it is
    seen in under ``max_pct`` percent of conversations (the paper's concerning values were all
    under 0.16%). With ``tasks``, the tasks it most often occurs in (the paper found such values
    "often clustering around specific tasks").
    """
    _check_k(min_conversations)
    pattern = _watch_pattern(terms)
    inc = _inc(labels)
    n = len(inc.conversations)
    counts = inc.conversation_counts
    match = np.array([bool(pattern.search(str(v))) for v in inc.labels], dtype=bool)
    pct = 100.0 * counts / max(n, 1)
    listed = match & (pct < max_pct)
    visible = listed & (counts >= min_conversations)
    idx = np.flatnonzero(visible)
    frame = pd.DataFrame({"value": inc.labels[idx], "conversations": counts[idx], "pct": pct[idx]})
    frame["term"] = [pattern.search(str(v)).group(0).lower() for v in frame["value"]]  # type: ignore[union-attr]
    if tasks is not None and len(idx):
        t = _inc(tasks, inc.conversations)
        co = (inc.matrix[:, idx].T @ t.matrix).tocsr()
        tops = []
        for row in range(len(idx)):
            r = co.getrow(row)
            keep = r.data >= min_conversations
            order = np.argsort(-r.data[keep], kind="stable")[:top_tasks]
            tops.append([f"{t.labels[r.indices[keep][o]]} ({int(r.data[keep][o])})" for o in order])
        frame["top_tasks"] = tops
    frame = frame.sort_values(["conversations", "value"], ascending=[True, True], ignore_index=True)
    return DescriptiveTable("safety review", frame, n, min_conversations, int((listed & ~visible).sum()))
