"""Server-rendered pages of the corpus app."""

from django.urls import path

from corpus import views

urlpatterns = [
    path("", views.home, name="home"),
]
