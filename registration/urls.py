from django.urls import path

from . import views

app_name = "registration"
urlpatterns = [
    path("patients/<int:pk>/", views.patient, name="patient"),
    path("patients/<int:pk>/primary/", views.primary, name="primary"),
    path("patients/<int:pk>/certificate/", views.certificate, name="certificate"),
    path("patients/<int:pk>/randomization-certificate/", views.randomization_certificate,
         name="randomization_certificate"),
    path("patients/<int:pk>/evaluation/", views.evaluation, name="evaluation"),
    path("patients/<int:pk>/evaluation/void/", views.evaluation_void, name="evaluation_void"),
    path("patients/<int:pk>/secondary/", views.secondary, name="secondary"),
    path("patients/<int:pk>/off-study/", views.off_study, name="off_study"),
]
