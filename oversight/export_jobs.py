"""Exports as background jobs (issue 21): a data manager asks, a Celery worker writes the file, the page
shows the progress and then a download link for the requester alone, with the file's SHA-256, until it
expires.

Why: streamed in the request, the analysis export at 100,000 patients outlived gunicorn's timeout and
the browser got HTTP 200 with part of a file. Now no request does work that grows with the trial: the
request inserts one row and sends one task after commit; the worker writes.

- ``request_export(user=..., kind=...)``: one ExportJob row, and the task sent with delay_on_commit (a
  worker never looks for a row that is not committed yet).
- ``write(job_id)``: the same rows and CSV as the direct exports (oversight/exports.py: same columns,
  same role rules), streamed from the database cursor (``iterator()``: a server-side cursor on
  PostgreSQL) into a temporary file, hashed as it is written, renamed into place when complete: a file
  that can be downloaded is always whole. Memory stays flat whatever the size; progress is saved every
  PROGRESS_EVERY rows. A redelivered task (the worker died) writes the file again from the start.
- ``open_for(job, user)``: the file for its requester, while it is ready and not expired; None otherwise.
- ``purge_expired()``: deletes expired files (beat, hourly).

Not clinical data (a copy of it, for the data centre): the job rows are not audited; downloads are
recorded in the log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import exports, reports
from .models import ExportJob

log = logging.getLogger(__name__)

ANALYSIS = "analysis"
PROGRESS_EVERY = 1000  # rows between two progress saves (one UPDATE each)


def kinds() -> dict[str, str]:
    """{kind: title} of every export a job can write: the analysis data set and each table."""
    return {ANALYSIS: str(_("Analysis data set")), **{key: str(t.title) for key, t in exports.TABLES.items()}}


def _source(kind: str):
    """(header, rows iterator, total rows) of an export; the total is one COUNT."""
    if kind == ANALYSIS:
        return exports.analysis_header(), exports.analysis_rows(), reports.flow_queryset(None).count()
    table = exports.TABLES[kind]
    return table.header(), table.rows(), table.queryset().count()


def path_of(job: ExportJob) -> Path:
    return Path(settings.EXPORT_DIR) / f"{job.token}.csv"


def request_export(*, user, kind: str) -> ExportJob:
    """Queue an export for ``user`` (the view checks the role). Raises KeyError for an unknown kind."""
    if kind not in kinds():
        raise KeyError(kind)
    from .tasks import write_export  # the task module imports this one

    with transaction.atomic():
        job = ExportJob.objects.create(requested_by=user, kind=kind, token=secrets.token_urlsafe(32))
        write_export.delay_on_commit(job.pk)
    log.info("Export %s (%s) requested by %s", job.pk, kind, user)
    return job


def _save(job: ExportJob, **fields) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=list(fields))


def write(job_id: int) -> ExportJob:
    """Write the job's file (see the module docstring). Returns the job, done or failed."""
    job = ExportJob.objects.get(pk=job_id)
    if job.status in (ExportJob.Status.DONE, ExportJob.Status.EXPIRED):
        return job  # a redelivered message after the file was written: nothing to do
    header, rows, total = _source(job.kind)
    _save(job, status=ExportJob.Status.RUNNING, started_at=timezone.now(), rows=0, total=total, error="")
    target = path_of(job)
    partial = target.with_suffix(".part")
    digest = hashlib.sha256()
    written = size = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as out:
            for number, line in enumerate(exports.csv_lines(header, rows)):
                data = line.encode("utf-8")
                out.write(data)
                digest.update(data)
                size += len(data)
                written = number  # data rows: the header is line 0
                if number and number % PROGRESS_EVERY == 0:
                    _save(job, rows=written)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except Exception as exc:
        with contextlib.suppress(OSError):  # the folder itself may be what failed
            partial.unlink(missing_ok=True)
        log.exception("Export %s (%s) failed", job.pk, job.kind)
        _save(job, status=ExportJob.Status.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}")
        return job
    now = timezone.now()
    _save(job, status=ExportJob.Status.DONE, rows=written, size=size, sha256=digest.hexdigest(), finished_at=now,
          expires_at=now + timedelta(hours=settings.EXPORT_TTL_HOURS))
    log.info("Export %s (%s): %d rows, %d bytes, sha256 %s", job.pk, job.kind, written, size, job.sha256)
    return job


def open_for(job: ExportJob, user):
    """The job's file opened for reading, for its requester while it is ready and not expired; else None."""
    if job.requested_by_id != user.pk or job.status != ExportJob.Status.DONE:
        return None
    if job.expires_at is None or job.expires_at <= timezone.now():
        return None
    try:
        handle = open(path_of(job), "rb")  # noqa: SIM115 (FileResponse closes it)
    except FileNotFoundError:
        return None
    log.info("Export %s (%s) downloaded by %s", job.pk, job.kind, user)
    return handle


def purge_expired() -> int:
    """Delete the files of expired jobs and mark them expired; returns how many."""
    expired = list(ExportJob.objects.filter(status=ExportJob.Status.DONE, expires_at__lte=timezone.now()))
    for job in expired:
        path_of(job).unlink(missing_ok=True)
        _save(job, status=ExportJob.Status.EXPIRED)
    return len(expired)
