"""Pages: the home page lists datasets and links to every part of the loop."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from corpus.selectors import dataset_list


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"datasets": dataset_list()})
