from django.urls import path

from . import views

app_name = "safety"
urlpatterns = [
    path("patients/<int:pk>/", views.patient_events, name="patient_events"),
    path("patients/<int:pk>/new/", views.event_create, name="event_create"),
    path("patients/<int:pk>/death/", views.death_assessment, name="death_assessment"),
    path("patients/<int:pk>/events/<int:event_id>/", views.event, name="event"),
    path("patients/<int:pk>/events/<int:event_id>/edit/", views.event_edit, name="event_edit"),
    path("patients/<int:pk>/events/<int:event_id>/report/", views.report_sign, name="report_sign"),
    path("patients/<int:pk>/events/<int:event_id>/reports/<int:report_id>/acknowledge/", views.report_acknowledge,
         name="report_acknowledge"),
    path("log/", views.sae_log, name="log"),
    path("log.csv", views.sae_log_csv, name="log_csv"),
    path("frequency/", views.frequency, name="frequency"),
]
