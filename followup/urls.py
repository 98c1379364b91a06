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
]
