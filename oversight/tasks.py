"""Celery tasks of the roof: ISO dates in, one service call, idempotent (a re-run opens nothing twice)."""

from datetime import date

from celery import shared_task
from django.utils import timezone

from . import checks


@shared_task(acks_late=True)  # idempotent: the duplicate guard makes a redelivery harmless
def daily_checks(day: str | None = None) -> dict:
    today = date.fromisoformat(day) if day else timezone.localdate()
    return {"day": today.isoformat(), "checks": checks.run(today=today)}
