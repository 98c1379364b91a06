"""The Celery application: broker from CELERY_BROKER_URL (Redis in production, filesystem by default)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oligami_site.settings")

app = Celery("oligami_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
