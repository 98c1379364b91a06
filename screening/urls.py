from django.urls import path

from . import consent_views, views

app_name = "screening"
urlpatterns = [
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:pk>/correct/", views.patient_correct, name="patient_correct"),
    path("patients/<int:pk>/screening/new/", views.screening_create, name="screening_create"),
    path("patients/<int:pk>/rescreen/", views.rescreen, name="rescreen"),
    path("screenings/<int:pk>/", views.checklist, name="checklist"),
    path("screenings/<int:pk>/edit/", views.screening_edit, name="screening_edit"),
    path("patients/<int:pk>/reconsent/", consent_views.reconsent, name="reconsent"),
    path("consent-documents/", consent_views.documents, name="consent_documents"),
    path("consent-documents/add/", consent_views.document_add, name="consent_document_add"),
    path("log/", views.screening_log, name="log"),
    path("log.csv", views.screening_log_csv, name="log_csv"),
]
