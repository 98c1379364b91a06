from django.urls import path  # noqa: F401  (views are added by the randomization features)

app_name = "randomization"
urlpatterns = []
