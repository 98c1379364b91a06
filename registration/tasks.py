"""Celery tasks of the registration app: ids (or ISO dates) in, one service call, idempotent.

``daily_reminders`` is started by Celery beat every day at 08:00 Asia/Tokyo (settings.CELERY_BEAT_SCHEDULE;
exactly one beat process in a deployment). Reminders come from this daily scan, never from far-future
ETAs: a restarted worker or a lost message loses nothing, because the next run scans again.
``catch_up_reminders`` is sent by beat every hour after 08:00: a daily firing lost while the broker was
down (beat logs "Couldn't apply scheduled task" and moves on) runs at the next check (issue 21).
"""

import smtplib
from datetime import date, datetime

from celery import shared_task
from django.utils import timezone

from . import reminders

# Retries of an SMTP/delivery error: 60 s, 120 s, 240 s, 480 s, then 600 s (capped), with jitter: about
# 25 minutes in all. Every countdown stays far below the Redis visibility timeout (3600 s, settings), so a
# retry waiting in the broker is never handed to a second worker as if the first had died.
RETRY_BACKOFF = 60
RETRY_BACKOFF_MAX = 600
MAX_RETRIES = 5


@shared_task(
    acks_late=True,  # only because the task is idempotent: a redelivery re-scans, and the notice table
    # and the digest rows make sure nothing is sent twice (registration/reminders.py)
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=RETRY_BACKOFF,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def daily_reminders(day: str | None = None) -> dict:
    """Scan and send the reminders of ``day`` (ISO date; beat sends none: today in Asia/Tokyo)."""
    today = date.fromisoformat(day) if day else timezone.localdate()
    scanned, sent = reminders.run_daily(today=today)
    return {"day": today.isoformat(), "due": scanned.due, "created": scanned.created, "sent": sent.sent,
            "waiting": sent.waiting, "failed": sent.failed}


@shared_task(acks_late=True)  # idempotent, like daily_reminders: a redelivery checks again
def catch_up_reminders(now: str | None = None) -> dict:
    """The hourly "has today's job run?" check (beat): runs the day's job if a firing was lost to a broker
    outage or the worker running it died. ``now`` (ISO datetime) only for tests and by hand."""
    moment = datetime.fromisoformat(now) if now else timezone.now()
    outcome = reminders.catch_up(now=moment)
    if outcome is None:
        return {"caught_up": False}
    scanned, sent = outcome
    return {"caught_up": True, "day": scanned.today.isoformat(), "due": scanned.due, "created": scanned.created,
            "sent": sent.sent, "waiting": sent.waiting, "failed": sent.failed}
