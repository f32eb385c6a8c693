"""The cross-app pages: dashboard, dataset, conversation, the lead's adjudication, and the prompt engineer's loop
(prompts/)."""

from django.urls import path

from workbench import adjudication, prompt_compare, prompt_runs, prompts, views

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/<int:pk>/", views.dataset_page, name="dataset-page"),
    path("conversations/<int:pk>/", views.conversation_page, name="conversation-page"),
    path("adjudication/", adjudication.adjudication_list, name="adjudication-list-page"),
    path("adjudication/<int:extraction_id>/", adjudication.adjudication_page, name="adjudication-page"),
    path("prompts/", prompts.prompt_set_list, name="prompt-set-list"),
    path("prompts/diff/", prompts.prompt_diff_page, name="prompt-diff-page"),
    path("prompts/compare/", prompt_compare.prompt_compare_page, name="prompt-compare-page"),
    path("prompts/versions/<int:pk>/", prompts.prompt_version_page, name="prompt-version-page"),
    path("prompts/runs/<int:pk>/", prompt_runs.prompt_run_page, name="prompt-run-page"),
    path("prompts/runs/<int:pk>/progress.json", prompt_runs.prompt_run_progress, name="prompt-run-progress"),
    path("prompts/sets/<str:name>/", prompts.prompt_set_page, name="prompt-set-page"),
    path("prompts/sets/<str:name>/candidate/", prompts.prompt_candidate_page, name="prompt-candidate-page"),
    path("prompts/sets/<str:name>/run/", prompt_runs.prompt_run_new, name="prompt-run-new"),
    path("prompts/sets/<str:name>/download.zip", prompts.prompt_set_download, name="prompt-set-download"),
]
