from django.urls import path

from . import views

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
    path("log/", views.screening_log, name="log"),
    path("log.csv", views.screening_log_csv, name="log_csv"),
]
