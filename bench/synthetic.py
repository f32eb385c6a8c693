"""A synthetic dataset calibrated to the paper's published figures, for tests and benchmarks.

Everything here is generated data, written for the project; it describes no real conversation.

Calibration (Huang et al. 2025, "Values in the Wild"):

- AI values: drawn per conversation with probability proportional to the published share of
  conversations of each value (``values_frequencies.csv`` of the released dataset, read from
  ``../shared/data/values-in-the-wild/`` when present). Without it, a small hand-written fallback
  of common values with the approximate shares printed in the paper's Tables 1 and 8, plus a
  generated long tail, stands in (``FALLBACK_VALUES``). 4.0 values per conversation on average,
  none in 1.4% (Section 3.1).
- Human values: none in 54.9% of conversations, 1.48 per conversation on average (Section 3.1),
  from a flatter long-tailed vocabulary of 2,483 values whose head is the paper's Table 1.
- Response type: the 3.5 Sonnet column of Table 9, independent of everything else.
- Task: one per conversation, Zipf-distributed over 6,745 tasks (Appendix A.3.4).
- The model that answered: 91% Claude 3.5 Sonnet (Section 2.1), the rest split between two others.
- Stated AI values: each AI value of a conversation is also "stated" with a fixed probability.
- Mirroring: optionally, a human value is also added to the AI values with a fixed probability.
- Planted associations (``Plant``): AI value V is made ``factor`` times as frequent among the
  conversations of task T as it is overall.

Deterministic for a given seed. ``generate`` returns in-memory label arrays; ``write_database``
stores them as Dataset / Conversation / Extraction rows (PostgreSQL COPY when available).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from results.labels import LabelSet

if TYPE_CHECKING:
    from corpus.models import Dataset

SHARED_FREQUENCIES = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "values-in-the-wild" / "values_frequencies.csv"
)

# Approximate shares (% of subjective conversations) as printed in the paper: Table 1 for the first
# five, Table 8 (3.5 Sonnet) for the next five, the rest read off Tables 4 and B.6 and rounded.
# Hand-written stand-in for the released frequencies when they are not available.
FALLBACK_VALUES: dict[str, float] = {
    "helpfulness": 23.4,
    "professionalism": 22.9,
    "transparency": 17.4,
    "clarity": 16.6,
    "thoroughness": 14.3,
    "efficiency": 6.4,
    "technical excellence": 6.0,
    "authenticity": 6.0,
    "analytical rigor": 5.9,
    "accuracy": 5.4,
    "technical competence": 5.0,
    "intellectual honesty": 4.5,
    "academic rigor": 4.0,
    "accessibility": 4.0,
    "adaptability": 3.5,
    "responsibility": 3.3,
    "precision": 3.3,
    "pragmatism": 2.8,
    "technical precision": 2.8,
    "harm prevention": 2.0,
    "personal growth": 1.5,
    "cultural sensitivity": 1.5,
    "emotional authenticity": 1.5,
    "ethical boundaries": 1.5,
    "empathy": 1.5,
    "honesty": 1.5,
    "epistemic humility": 1.0,
    "emotional validation": 1.0,
    "constructive dialogue": 1.0,
    "user autonomy": 1.0,
    "healthy boundaries": 0.5,
    "historical accuracy": 0.5,
    "mutual respect": 0.5,
    "creative collaboration": 0.5,
    "human agency": 0.4,
}
N_AI_VALUES = 3307
N_HUMAN_VALUES = 2483
N_TASKS = 6745
HUMAN_HEAD = ("authenticity", "efficiency", "clarity", "professionalism", "directness")

# Table 9, 3.5 Sonnet column (%).
RESPONSE_TYPE_SHARES: dict[str, float] = {
    "strong_support": 27.8,
    "mild_support": 14.8,
    "neutral_acknowledgment": 9.4,
    "reframing": 6.7,
    "mild_resistance": 2.5,
    "strong_resistance": 3.0,
    "no_values": 35.7,
}
MODEL_SHARES: dict[str, float] = {
    "claude-3-5-sonnet-20241022": 0.91,
    "claude-3-opus-20240229": 0.05,
    "claude-3-5-haiku-20241022": 0.04,
}


@dataclass(frozen=True)
class Plant:
    """AI value ``value`` made ``factor`` times as frequent in the conversations of ``task``."""

    value: str
    task: str
    factor: float


@dataclass(frozen=True)
class SyntheticConfig:
    n_conversations: int = 10_000
    seed: int = 0
    ai_values_mean: float = 4.0
    ai_none_share: float = 0.014
    human_values_mean: float = 1.48
    human_none_share: float = 0.549
    n_tasks: int = N_TASKS
    zipf_exponent: float = 0.9
    n_human_values: int = N_HUMAN_VALUES
    human_zipf_exponent: float = 0.8
    stated_share: float = 0.15
    mirroring: float = 0.0
    plants: tuple[Plant, ...] = ()
    value_frequencies: Path | None = None


@dataclass(frozen=True)
class SyntheticData:
    """Generated labels, in the long form ``results.residuals`` takes; conversations are 0..n-1."""

    config: SyntheticConfig
    ai_values: LabelSet
    human_values: LabelSet
    ai_values_stated: LabelSet
    task: LabelSet
    response_type: LabelSet
    model: np.ndarray
    value_source: str
    task_names: np.ndarray = field(repr=False)

    @property
    def n_conversations(self) -> int:
        return self.config.n_conversations

    def features(self) -> dict[str, LabelSet]:
        return {
            "ai_values": self.ai_values,
            "human_values": self.human_values,
            "ai_values_stated": self.ai_values_stated,
            "task": self.task,
            "response_type": self.response_type,
        }


def task_name(rank: int) -> str:
    return f"synthetic task {rank:05d}"


def load_value_frequencies(path: Path | None = None) -> tuple[pd.Series, str]:
    """Published share (%) of conversations of each AI value, and where it came from."""
    candidate = path or SHARED_FREQUENCIES
    if candidate.is_file():
        frame = pd.read_csv(candidate)
        if not {"value", "pct_convos"} <= set(frame.columns):
            raise ValueError(f"{candidate}: expected columns value,pct_convos, found {list(frame.columns)}")
        return frame.set_index("value")["pct_convos"].astype(float), str(candidate)
    if path is not None:
        raise FileNotFoundError(f"value frequencies file not found: {path}")
    head = pd.Series(FALLBACK_VALUES, dtype=float)
    # Generated tail so the vocabulary has the paper's size and the shares sum to about 4 values per conversation.
    n_tail = N_AI_VALUES - len(head)
    ranks = np.arange(len(head) + 1, N_AI_VALUES + 1, dtype=float)
    tail = ranks**-1.1
    tail *= (399.0 - head.sum()) / tail.sum()
    names = [f"synthetic value {i:04d}" for i in range(1, n_tail + 1)]
    return pd.concat([head, pd.Series(tail, index=names)]), "fallback (approximate shares from the paper's tables)"


def _draw_sets(
    rng: np.random.Generator, n: int, sizes: np.ndarray, probabilities: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For conversation c, about ``sizes[c]`` distinct labels drawn from ``probabilities``.

    Draws with replacement then removes repeats; to keep the wanted number of *distinct* labels,
    the number of draws d is chosen so that the expected number of distinct labels,
    sum_v 1 - (1 - p_v)^d, equals the wanted size.
    """
    d = np.arange(0, 4 * int(sizes.max(initial=1)) + 8, dtype=float)
    distinct = (1.0 - (1.0 - probabilities[None, :]) ** d[:, None]).sum(axis=1)
    draws = np.interp(sizes.astype(float), distinct, d)
    # Randomised rounding keeps the mean.
    sizes = np.floor(draws + rng.random(n)).astype(np.int64)
    total = int(sizes.sum())
    conv = np.repeat(np.arange(n, dtype=np.int64), sizes)
    codes = rng.choice(len(probabilities), size=total, p=probabilities)
    key = np.unique(conv * len(probabilities) + codes)
    return key // len(probabilities), key % len(probabilities)


def _sizes(rng: np.random.Generator, n: int, mean: float, none_share: float) -> np.ndarray:
    """Counts with P(0) = none_share and overall mean ``mean``: 0, or 1 + Poisson."""
    has = rng.random(n) >= none_share
    lam = max(mean / max(1 - none_share, 1e-9) - 1.0, 0.0)
    return np.where(has, 1 + rng.poisson(lam, size=n), 0).astype(np.int64)


def generate(config: SyntheticConfig | None = None, **overrides: Any) -> SyntheticData:
    """Generate ``config.n_conversations`` conversations' labels (see the module docstring)."""
    cfg = config or SyntheticConfig()
    if overrides:
        cfg = SyntheticConfig(**{**cfg.__dict__, **overrides})
    if cfg.n_conversations < 1:
        raise ValueError(f"n_conversations must be positive, got {cfg.n_conversations}")
    rng = np.random.default_rng(cfg.seed)
    n = cfg.n_conversations
    freqs, source = load_value_frequencies(cfg.value_frequencies)
    values = np.asarray(freqs.index, dtype=object)
    p_values = freqs.to_numpy() / freqs.sum()
    value_code = {v: i for i, v in enumerate(values)}

    # Tasks: Zipf over ranks, names shuffled so rank is not visible in the name order.
    ranks = np.arange(1, cfg.n_tasks + 1, dtype=float)
    p_task = ranks**-cfg.zipf_exponent
    p_task /= p_task.sum()
    task_names = np.array([task_name(i) for i in range(1, cfg.n_tasks + 1)], dtype=object)
    task_code = rng.choice(cfg.n_tasks, size=n, p=p_task)

    # Human vocabulary: the paper's top five human values first, then other value names.
    others = [v for v in values if v not in HUMAN_HEAD]
    human_vocab = np.array(list(HUMAN_HEAD) + others[: max(cfg.n_human_values - len(HUMAN_HEAD), 0)], dtype=object)
    h_ranks = np.arange(1, len(human_vocab) + 1, dtype=float)
    p_human = h_ranks**-cfg.human_zipf_exponent
    p_human /= p_human.sum()
    h_conv, h_code = _draw_sets(rng, n, _sizes(rng, n, cfg.human_values_mean, cfg.human_none_share), p_human)

    a_conv, a_code = _draw_sets(rng, n, _sizes(rng, n, cfg.ai_values_mean, cfg.ai_none_share), p_values)
    extra_conv: list[np.ndarray] = []
    extra_code: list[np.ndarray] = []
    if cfg.mirroring > 0:
        mirrored = rng.random(len(h_conv)) < cfg.mirroring
        mapped = np.array([value_code.get(v, -1) for v in human_vocab], dtype=np.int64)[h_code[mirrored]]
        ok = mapped >= 0
        extra_conv.append(h_conv[mirrored][ok])
        extra_code.append(mapped[ok])
    for plant in cfg.plants:
        if plant.value not in value_code:
            raise ValueError(f"planted value {plant.value!r} is not in the value vocabulary ({source})")
        if plant.task not in set(task_names):
            raise ValueError(f"planted task {plant.task!r} is not a task name (use bench.synthetic.task_name(rank))")
        v = value_code[plant.value]
        t = int(np.flatnonzero(task_names == plant.task)[0])
        in_task = np.flatnonzero(task_code == t)
        base = float(np.isin(np.arange(n), a_conv[a_code == v]).mean())
        target = min(plant.factor * base, 1.0)
        has_v = np.isin(in_task, a_conv[a_code == v])
        lacking = in_task[~has_v]
        q = max(target - base, 0.0) / max(1.0 - base, 1e-12)
        extra_conv.append(lacking[rng.random(len(lacking)) < q])
        extra_code.append(np.full(len(extra_conv[-1]), v, dtype=np.int64))
    if extra_conv:
        key = np.unique(
            np.concatenate(
                [
                    a_conv * len(values) + a_code,
                    *(c * len(values) + k for c, k in zip(extra_conv, extra_code, strict=True)),
                ]
            )
        )
        a_conv, a_code = key // len(values), key % len(values)

    stated = rng.random(len(a_conv)) < cfg.stated_share
    rt_names = np.array(list(RESPONSE_TYPE_SHARES), dtype=object)
    rt_p = np.array(list(RESPONSE_TYPE_SHARES.values()))
    response = rng.choice(len(rt_names), size=n, p=rt_p / rt_p.sum())
    model_names = np.array(list(MODEL_SHARES), dtype=object)
    m_p = np.array(list(MODEL_SHARES.values()))
    model = model_names[rng.choice(len(model_names), size=n, p=m_p / m_p.sum())]

    everyone = np.arange(n, dtype=np.int64)
    return SyntheticData(
        config=cfg,
        ai_values=LabelSet("ai_values", a_conv, values[a_code], extracted=everyone),
        human_values=LabelSet("human_values", h_conv, human_vocab[h_code], extracted=everyone),
        ai_values_stated=LabelSet("ai_values_stated", a_conv[stated], values[a_code[stated]], extracted=everyone),
        task=LabelSet("task", everyone, task_names[task_code], extracted=everyone),
        response_type=LabelSet("response_type", everyone, rt_names[response], extracted=everyone),
        model=model,
        value_source=source,
        task_names=task_names,
    )


# ---------------------------------------------------------------------------------------------
# Database rows
# ---------------------------------------------------------------------------------------------

SYNTHETIC_PROMPT_SET = "synthetic"


@dataclass(frozen=True)
class WriteSummary:
    dataset_id: int
    run_id: int
    conversations: int
    extractions: int
    seconds: float
    method: str


def write_database(
    data: SyntheticData,
    *,
    dataset: str,
    features: Sequence[str] = ("ai_values", "human_values", "ai_values_stated", "task", "response_type"),
    extra: Mapping[str, LabelSet] | None = None,
    transcripts: Callable[[int], list[dict[str, str]]] | None = None,
) -> WriteSummary:
    """Store ``data`` as a dataset of conversations with one extraction run (needs Django set up).

    PostgreSQL: COPY (a few seconds for the paper's 308,210 conversations). Other databases:
    ``bulk_create``. The dataset must not exist yet. Conversations are marked as synthetic in
    their metadata. ``extra`` adds features the generator does not draw (e.g. subjectivity), stored
    like the others; ``transcripts(i)`` gives conversation i's messages (default: two placeholder turns).
    """
    from django.db import connection, transaction

    from corpus.models import Dataset
    from extraction.models import ExtractionRun, PromptVersion

    started = time.perf_counter()
    by_feature = {**data.features(), **(extra or {})}
    features = [*features, *(extra or {})]
    unknown = [f for f in features if f not in by_feature]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose from {sorted(by_feature)}")
    with transaction.atomic():
        if Dataset.objects.filter(name=dataset).exists():
            raise ValueError(f"dataset {dataset!r} already exists; choose another name or delete it first")
        ds = Dataset.objects.create(name=dataset, description=f"Synthetic data (seed {data.config.seed}), generated.")
        run = ExtractionRun.objects.create(
            dataset=ds, prompt_set=SYNTHETIC_PROMPT_SET, provider="synthetic", status="succeeded"
        )
        versions = {
            f: PromptVersion.objects.get_or_create(
                prompt_set=SYNTHETIC_PROMPT_SET,
                feature=f,
                content_hash="synthetic",
                defaults={"template": "(synthetic data: no prompt)", "metadata": {"synthetic": True}},
            )[0].pk
            for f in features
        }
        if connection.vendor == "postgresql":
            conv_ids = _copy_conversations(connection, ds, data, transcripts or _placeholder)
            n_ext = sum(_copy_extractions(connection, run.pk, versions[f], by_feature[f], conv_ids) for f in features)
            method = "COPY"
        else:
            conv_ids = _bulk_conversations(ds, data, transcripts or _placeholder)
            n_ext = sum(_bulk_extractions(run.pk, versions[f], by_feature[f], conv_ids) for f in features)
            method = "bulk_create"
        ExtractionRun.objects.filter(pk=run.pk).update(total_items=n_ext, done_items=n_ext)
    return WriteSummary(
        dataset_id=ds.pk,
        run_id=run.pk,
        conversations=data.n_conversations,
        extractions=n_ext,
        seconds=time.perf_counter() - started,
        method=method,
    )


def _external_id(i: int) -> str:
    return f"synthetic-{i:08d}"


def _lists_by_conversation(labels: LabelSet, n: int) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(n)]
    for c, label in zip(labels.conversation.tolist(), labels.label.tolist(), strict=True):
        out[c].append(label)
    return out


def _json_list(items: list[str]) -> str:
    import json

    return json.dumps(items, ensure_ascii=False)


def _placeholder(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": "(synthetic)"}, {"role": "assistant", "content": "(synthetic)"}]


def _copy_conversations(
    connection: Any, ds: Dataset, data: SyntheticData, transcripts: Callable[[int], list[dict[str, str]]]
) -> np.ndarray:
    import json

    n = data.n_conversations
    buf = io.StringIO()
    for i in range(n):
        turns = transcripts(i)
        # Text COPY: a backslash in the JSON (its escapes) must itself be escaped.
        messages = json.dumps(turns, ensure_ascii=False).replace("\\", "\\\\")
        buf.write(
            f"{ds.pk}\t{_external_id(i)}\topenai\t{data.model[i]}\t{messages}\t"
            f'{{"synthetic": true}}\tsynthetic-{i}\t{len(turns)}\tnow\n'
        )
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            "COPY corpus_conversation (dataset_id, external_id, source, model, messages, metadata, content_hash,"
            " turn_count, created_at) FROM STDIN"
        ) as copy:
            copy.write(buf.getvalue())
        raw.execute("SELECT id FROM corpus_conversation WHERE dataset_id = %s ORDER BY external_id", [ds.pk])
        return np.fromiter((r[0] for r in raw.fetchall()), dtype=np.int64, count=n)


def _copy_extractions(connection: Any, run_id: int, version_id: int, labels: LabelSet, conv_ids: np.ndarray) -> int:
    n = len(conv_ids)
    lists = _lists_by_conversation(labels, n)
    extracted = labels.conversations()
    buf = io.StringIO()
    for i in extracted.tolist():
        payload = _json_list(lists[i]).replace("\\", "\\\\")
        buf.write(
            f"{conv_ids[i]}\t{run_id}\t{labels.name}\t{version_id}\tsynthetic\tok\t\t{payload}\t\t\t[]\t0\t0\t0\t0\t0\t\t1\t0\tf\tnow\n"
        )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY extraction_extraction (conversation_id, run_id, feature, prompt_version_id, model, status, raw_text,"
            " labels, thinking, error, samples, input_tokens, output_tokens, cache_creation_input_tokens,"
            " cache_read_input_tokens, latency_ms, request_id, attempts, cost_usd, batch, created_at) FROM STDIN"
        ) as copy,
    ):
        copy.write(buf.getvalue())
    return len(extracted)


def _bulk_conversations(
    ds: Dataset, data: SyntheticData, transcripts: Callable[[int], list[dict[str, str]]]
) -> np.ndarray:
    from corpus.models import Conversation

    objs = [
        Conversation(
            dataset=ds,
            external_id=_external_id(i),
            source="openai",
            model=str(data.model[i]),
            messages=messages,
            metadata={"synthetic": True},
            content_hash=f"synthetic-{i}",
            turn_count=len(messages),
        )
        for i, messages in ((i, transcripts(i)) for i in range(data.n_conversations))
    ]
    Conversation.objects.bulk_create(objs, batch_size=2000)
    ids = dict(Conversation.objects.filter(dataset=ds).values_list("external_id", "id"))
    return np.array([ids[_external_id(i)] for i in range(data.n_conversations)], dtype=np.int64)


def _bulk_extractions(run_id: int, version_id: int, labels: LabelSet, conv_ids: np.ndarray) -> int:
    from extraction.models import Extraction

    lists = _lists_by_conversation(labels, len(conv_ids))
    extracted = labels.conversations().tolist()
    Extraction.objects.bulk_create(
        (
            Extraction(
                conversation_id=int(conv_ids[i]),
                run_id=run_id,
                feature=labels.name,
                prompt_version_id=version_id,
                model="synthetic",
                status="ok",
                labels=lists[i],
            )
            for i in extracted
        ),
        batch_size=2000,
    )
    return len(extracted)
