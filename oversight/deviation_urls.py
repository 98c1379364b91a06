from django.urls import path

from . import deviation_views as views

app_name = "deviations"
urlpatterns = [
    path("", views.deviation_list, name="list"),
    path("new/", views.deviation_new, name="new"),
    path("<int:pk>/", views.deviation_detail, name="detail"),
]
