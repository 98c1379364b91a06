from django.urls import path

from . import views

app_name = "followup"
urlpatterns = [
    path("patients/<int:pk>/", views.patient, name="patient"),
    path("patients/<int:pk>/course/", views.course, name="course"),
    path("patients/<int:pk>/mdt/", views.mdt, name="mdt"),
    path("patients/<int:pk>/contamination/", views.contamination, name="contamination"),
    path("patients/<int:pk>/assessment/", views.assessment, name="assessment"),
    path("patients/<int:pk>/death/", views.death, name="death"),
    path("patients/<int:pk>/alive/", views.alive, name="alive"),
    path("patients/<int:pk>/withdrawal/", views.withdrawal, name="withdrawal"),
    path("curves/", views.curves, name="curves"),
    path("surveys/", views.surveys, name="surveys"),
    path("surveys/<int:survey_id>/", views.survey, name="survey"),
    path("surveys/<int:survey_id>/patients/<int:pk>/", views.survey_entry, name="survey_entry"),
    path("surveys/<int:survey_id>/patients/<int:pk>/lost/", views.lost, name="lost"),
]
