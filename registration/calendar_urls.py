"""/calendar/: the page that manages one's feed URL, and the feed itself (no login: the token is the key)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.calendar_page, name="calendar"),
    path("<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
