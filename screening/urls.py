from django.urls import path  # noqa: F401  (views are added by the screening features)

app_name = "screening"
urlpatterns = []
