"""The cross-app pages: dashboard, dataset, conversation, adjudication."""

from django.urls import path

from workbench import adjudication, views

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/<int:pk>/", views.dataset_page, name="dataset-page"),
    path("conversations/<int:pk>/", views.conversation_page, name="conversation-page"),
    path("adjudication/", adjudication.adjudication_list, name="adjudication-list-page"),
    path("adjudication/<int:extraction_id>/", adjudication.adjudication_page, name="adjudication-page"),
]
