"""Long-form labels of an extracted feature and their conversations x labels incidence matrices.

Pure module (no Django).

Counting (the paper's Appendix A.7, for multi-valued features). Each feature is turned into a
conversations x labels 0/1 incidence matrix (a label repeated inside one conversation counts
once). The table is ``O = A.T @ B``: a conversation adds one to every (row label, column label)
pair it has, so a conversation with AI values {a, b} and task t adds one to (a, t) and (b, t).
Only conversations in which both features were extracted take part. Row and column totals and
the grand total ``N`` are the table's own margins (pairs, not conversations), which is what
"row total multiplied by column total, divided by sum of all observations" means in A.7.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

Unmapped = Literal["error", "drop", "keep"]


class AnalysisInputError(ValueError):
    """Bad input to an analysis: the message says what and where."""


# ---------------------------------------------------------------------------------------------
# Input: long-form labels and incidence matrices
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSet:
    """One feature's labels in long form: one row per (conversation, label).

    ``extracted`` lists every conversation in which the feature was extracted, including those
    whose label list was empty (e.g. no human value); when ``None`` it is the set of conversations
    that appear in ``conversation``.
    """

    name: str
    conversation: np.ndarray
    label: np.ndarray
    extracted: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.conversation) != len(self.label):
            raise AnalysisInputError(
                f"labels of {self.name!r}: {len(self.conversation)} conversation ids but {len(self.label)} labels"
            )

    @classmethod
    def from_lists(cls, name: str, labels_by_conversation: Mapping[int, Sequence[str]]) -> LabelSet:
        """Build from ``{conversation_id: [label, ...]}`` (empty lists count as extracted, no label)."""
        conv = [c for c, labels in labels_by_conversation.items() for _ in labels]
        lab = [label for labels in labels_by_conversation.values() for label in labels]
        return cls(
            name=name,
            conversation=np.asarray(conv, dtype=np.int64),
            label=np.asarray(lab, dtype=object),
            extracted=np.fromiter(labels_by_conversation.keys(), dtype=np.int64, count=len(labels_by_conversation)),
        )

    def conversations(self) -> np.ndarray:
        """Sorted unique ids of the conversations in which the feature was extracted."""
        ids = self.conversation if self.extracted is None else self.extracted
        return np.unique(np.asarray(ids, dtype=np.int64))

    def mapped(self, mapping: Mapping[str, str] | None, *, unmapped: Unmapped = "error") -> LabelSet:
        """The same labels replaced by ``mapping[label]`` (e.g. a value by its taxonomy category).

        ``unmapped``: ``"error"`` raises naming the first unmapped labels, ``"drop"`` removes them,
        ``"keep"`` leaves them as they are.
        """
        if mapping is None:
            return self
        codes, uniques = pd.factorize(pd.Series(self.label, dtype=object), sort=False)
        targets = np.array([mapping.get(u) for u in uniques], dtype=object)
        missing = np.array([t is None for t in targets], dtype=bool)
        if missing.any():
            if unmapped == "error":
                names = ", ".join(repr(u) for u in uniques[missing][:5])
                raise AnalysisInputError(
                    f"{int(missing.sum())} label(s) of {self.name!r} have no entry in the mapping, e.g. {names}"
                )
            if unmapped == "keep":
                targets[missing] = uniques[missing]
        keep = ~missing[codes] if unmapped == "drop" else np.ones(len(codes), dtype=bool)
        return LabelSet(
            name=self.name,
            conversation=np.asarray(self.conversation)[keep],
            label=targets[codes[keep]],
            extracted=self.conversations(),
        )


@dataclass(frozen=True)
class Incidence:
    """Conversations x labels 0/1 matrix (CSR), rows in the order of ``conversations``."""

    matrix: sp.csr_matrix
    labels: np.ndarray
    conversations: np.ndarray

    @property
    def conversation_counts(self) -> np.ndarray:
        """Number of conversations carrying each label."""
        return np.asarray(self.matrix.sum(axis=0)).ravel().astype(np.int64)


def incidence(
    labels: LabelSet,
    conversations: np.ndarray,
    *,
    empty_label: str | None = None,
) -> Incidence:
    """0/1 incidence of ``labels`` over the sorted conversation ids ``conversations``.

    Labels of conversations not in ``conversations`` are ignored; a label repeated within a
    conversation counts once. ``empty_label``, when given, becomes the label of every conversation
    with no label (the paper's "none" human value).
    """
    conv = np.asarray(labels.conversation, dtype=np.int64)
    pos = np.searchsorted(conversations, conv)
    pos_clipped = np.minimum(pos, max(len(conversations) - 1, 0))
    inside = (pos < len(conversations)) & (conversations[pos_clipped] == conv) if len(conversations) else pos < 0
    codes, uniques = pd.factorize(pd.Series(np.asarray(labels.label, dtype=object)[inside], dtype=object), sort=True)
    rows = pos[inside]
    uniques = np.asarray(uniques, dtype=object)
    if (codes < 0).any():
        raise AnalysisInputError(f"labels of {labels.name!r} contain missing values (None/NaN)")
    n, k = len(conversations), len(uniques)
    if empty_label is not None:
        has_any = np.zeros(n, dtype=bool)
        has_any[rows] = True
        empty_rows = np.flatnonzero(~has_any)
        if len(empty_rows):
            existing = np.flatnonzero(uniques == empty_label)
            if len(existing):
                empty_code = int(existing[0])
            else:
                uniques = np.append(uniques, np.array([empty_label], dtype=object))
                empty_code, k = k, k + 1
            rows = np.concatenate([rows, empty_rows])
            codes = np.concatenate([codes, np.full(len(empty_rows), empty_code, dtype=codes.dtype)])
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, codes)), shape=(n, k))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return Incidence(matrix=matrix, labels=uniques, conversations=conversations)


def restrict(labels: LabelSet, conversations: np.ndarray | None) -> LabelSet:
    """``labels`` limited to ``conversations`` (None: unchanged)."""
    if conversations is None:
        return labels
    inside = np.isin(labels.conversation, conversations)
    extracted = np.intersect1d(labels.conversations(), conversations, assume_unique=True)
    return LabelSet(labels.name, labels.conversation[inside], labels.label[inside], extracted=extracted)
