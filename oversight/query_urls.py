from django.urls import path

from . import query_views as views

app_name = "queries"
urlpatterns = [
    path("", views.query_list, name="list"),
    path("patients/<int:pk>/new/", views.query_open, name="open"),
    path("<int:pk>/", views.query_detail, name="detail"),
    path("<int:pk>/<slug:step>/", views.query_step, name="step"),
]
