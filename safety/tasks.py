"""Celery tasks of the safety app: ids in, one call, idempotent (DeadlineAlert's unique constraint and the
claim in deadlines.escalate: a redelivered task sends nothing twice)."""

import smtplib

from celery import shared_task
from django.utils import timezone

from . import deadlines


@shared_task(acks_late=True, autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
             retry_backoff=30, retry_backoff_max=300, max_retries=5)
def escalate_event(event_id: int) -> dict:
    """Sent on commit by every service that judges an event: a deadline already near or passed, at once."""
    return deadlines.escalate(now=timezone.now(), event_ids=[event_id])


@shared_task(acks_late=True)
def scan_deadlines() -> dict:
    """Every few minutes (beat): deadlines that have just come within 24 hours, or just passed."""
    return deadlines.escalate(now=timezone.now())
