from django.urls import path

from . import views

app_name = "randomization"
urlpatterns = [
    path("patient/<int:patient_id>/", views.result, name="result"),
    path("balance/", views.balance, name="balance"),
    path("balance.csv", views.balance_csv, name="balance_csv"),
    path("allocations.csv", views.allocations_csv, name="allocations_csv"),
]
