"""Forms of the validation pages: a lead sets a feature's trust target (in percent, as people say it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

RUN, PROJECT = "run", "project"


class TrustTargetForm(forms.Form):
    feature = forms.ChoiceField()
    scope = forms.ChoiceField(
        choices=[(RUN, "this run only"), (PROJECT, "project default (every run without its own)")], initial=RUN
    )
    share_pct = forms.FloatField(label="at least (%)", min_value=50, max_value=100, initial=95)
    half_width_pct = forms.FloatField(label="± at most (%)", min_value=0.5, max_value=25, initial=5)

    def __init__(self, *args: Any, features: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["feature"].choices = [(f, f) for f in features]  # type: ignore[attr-defined]
