"""Celery tasks of the roof: ISO dates in, one service call, idempotent (a re-run opens nothing twice)."""

from datetime import date

from celery import shared_task
from django.utils import timezone

from . import checks, export_jobs


@shared_task(acks_late=True)  # idempotent: the duplicate guard makes a redelivery harmless
def daily_checks(day: str | None = None) -> dict:
    today = date.fromisoformat(day) if day else timezone.localdate()
    return {"day": today.isoformat(), "checks": checks.run(today=today)}


@shared_task(acks_late=True)  # a redelivery (the worker died mid-file) writes the file again from the start
def write_export(job_id: int) -> dict:
    """Write an export job's file (oversight/export_jobs.py); sent by request_export after commit."""
    job = export_jobs.write(job_id)
    return {"job": job.pk, "status": job.status, "rows": job.rows, "sha256": job.sha256}


@shared_task
def purge_exports() -> int:
    """Delete the expired export files (beat, hourly)."""
    return export_jobs.purge_expired()
