from django.urls import path  # noqa: F401  (views are added by the registration features)

app_name = "registration"
urlpatterns = []
