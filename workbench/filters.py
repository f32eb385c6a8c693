"""The dataset page's filters: a label any feature gave, subjectivity, and whether anyone reviewed the conversation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict

from annotate.models import Annotation
from corpus.models import Conversation
from extraction.models import Extraction, ExtractionRun, ExtractionStatus, Feature

CHOICES = ("", "yes", "no")


@dataclass(frozen=True)
class ConversationFilters:
    labels: tuple[str, ...] = ()  # each kept conversation has every one; "feature:label" names the feature too
    subjective: str = ""  # "", "yes" or "no"
    reviewed: str = ""  # "", "yes" or "no"

    @classmethod
    def from_query(cls, params: QueryDict) -> ConversationFilters:
        def choice(name: str) -> str:
            value = params.get(name, "").strip().lower()
            return value if value in CHOICES else ""

        labels = tuple(" ".join(v.split()) for v in params.getlist("label") if v.strip())
        return cls(labels, choice("subjective"), choice("reviewed"))

    @property
    def label(self) -> str:
        """The first label, for the form's one label box."""
        return self.labels[0] if self.labels else ""

    def query(self) -> str:
        """The filters as a query string (for the pager's links)."""
        pairs = [*(("label", v) for v in self.labels), ("subjective", self.subjective), ("reviewed", self.reviewed)]
        return "".join(f"&{urlencode({k: v})}" for k, v in pairs if v)


def _label_query(value: str) -> Q:
    """``label`` given by any feature, or ``feature:label`` by that feature only."""
    feature, sep, label = value.partition(":")
    if sep and feature in Feature.values:
        return _has_label(label.strip()) & Q(feature=feature)
    return _has_label(value)


def _has_label(label: str) -> Q:
    # Labels are a JSON list, normalised to lower case. PostgreSQL: JSON containment, which the GIN index on the
    # labels answers (extraction migration 0004) instead of a scan of every extraction. SQLite lacks the lookup:
    # matching the quoted element in the text finds the same rows there.
    if connection.vendor == "postgresql":
        return Q(labels__contains=[label.lower()])
    return Q(labels__icontains=json.dumps(label.lower()))


def conversations_filtered(
    *, conversations: QuerySet[Conversation], filters: ConversationFilters, run: ExtractionRun | None = None
) -> QuerySet[Conversation]:
    """``conversations`` narrowed by ``filters``; labels and subjectivity are read from ``run`` when one is given."""
    extractions = Extraction.objects.filter(conversation=OuterRef("pk"), status=ExtractionStatus.OK)
    if run is not None:
        extractions = extractions.filter(run=run)
    for label in filters.labels:
        conversations = conversations.filter(Exists(extractions.filter(_label_query(label))))
    if filters.subjective:
        subjective = Q()
        for accepted in settings.ANALYSIS_SUBJECTIVE_LABELS:
            subjective |= _has_label(accepted.strip())
        judged = Exists(extractions.filter(subjective, feature=Feature.SUBJECTIVITY))
        conversations = conversations.filter(judged if filters.subjective == "yes" else ~judged)
    if filters.reviewed:
        reviews = Annotation.objects.filter(deleted=False)
        # Through the review item (a sample's conversation, reviews of that sample's run) rather than the extraction:
        # the reviewed set then costs the planner a thousand rows, not a join with millions, so it starts from it
        # instead of probing every conversation (124 ms -> 9 ms with subjectivity at the paper's scale).
        if run is not None:
            reviews = reviews.filter(item__sample__run=run)
        if filters.reviewed == "yes":
            conversations = conversations.filter(pk__in=reviews.values("item__conversation_id"))
        else:
            conversations = conversations.filter(~Exists(reviews.filter(item__conversation=OuterRef("pk"))))
    return conversations
