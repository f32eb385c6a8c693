"""The model behind each conversation, as the descriptive tables read it: one array query on PostgreSQL, chunks of
ids elsewhere; both give what the ORM gives."""

from __future__ import annotations

import numpy as np
import pytest

from corpus.models import Conversation
from results.selectors import conversation_models
from tests.validation import factories as f

pytestmark = pytest.mark.django_db


def test_conversation_models_equal_the_orm_for_the_ids_asked_and_leave_out_unknown_models() -> None:
    dataset = f.DatasetFactory.create()
    models = ["model-a", "model-b", "", "model-a", "model-c", "", "model-b"]
    made = [
        f.ConversationFactory.create(dataset=dataset, external_id=f"c{i}", model=model)
        for i, model in enumerate(models)
    ]
    asked = np.array([c.pk for c in made[1:6]] + [10**9], dtype=np.int64)  # one id that does not exist
    found = conversation_models(conversations=asked)
    reference = dict(Conversation.objects.filter(pk__in=asked.tolist()).exclude(model="").values_list("pk", "model"))
    assert found == reference == {made[1].pk: "model-b", made[3].pk: "model-a", made[4].pk: "model-c"}
    assert conversation_models(conversations=np.array([], dtype=np.int64)) == {}
