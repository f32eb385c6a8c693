"""The cross-app pages: dashboard, dataset, conversation."""

from django.urls import path

from workbench import views

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/<int:pk>/", views.dataset_page, name="dataset-page"),
    path("conversations/<int:pk>/", views.conversation_page, name="conversation-page"),
]
