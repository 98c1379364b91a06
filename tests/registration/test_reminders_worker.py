"""The beat-triggered reminder task in a real Celery worker process: the message is sent by name exactly as
beat sends it (the CELERY_BEAT_SCHEDULE entry: task name, no arguments), a separate `celery worker`
consumes it, and the digest lands in a file outbox (EMAIL_FILE_PATH = $OLIGAMI_VAR_DIR/mail). No mocks.

- Redis: the broker of production and CI, on PostgreSQL (the worker connects to the test database
  through DATABASE_URL; transactional_db so that it sees the committed rows). Skipped locally without
  PostgreSQL and Redis, a failure in CI.
- kombu's filesystem broker (the embedded default, no service): runs everywhere. On PostgreSQL the worker
  uses the test database itself; on SQLite the test database is in memory, which another process cannot
  open, so the test copies it into a file with SQLite's online backup API and points the worker at the
  file. That keeps the set-up in-process (fixtures, no second migrate) and checks the worker's writes in
  the copy.
"""

import email
import os
import sqlite3
import subprocess
import sys
from email import policy
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from registration.models import Notice
from tests.conftest import need, redis_url, uses_postgresql
from tests.oligami_site.test_processes import _redis_reachable
from tests.registration.reminder_helpers import DAY, eligible

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BEAT_ENTRY = settings.CELERY_BEAT_SCHEDULE["daily-reminders"]


def _postgres_url() -> str:
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _due_today(site):
    """An eligible patient whose labs are valid for the last day today (Tokyo): "labs last day" is due.

    The rule keeps returning it for three more days, so a run just after midnight still finds it.
    """
    return eligible(site, on=timezone.localdate() - 8 * DAY)  # labs drawn 6 days before screening: today - 14


def _mails(folder: Path) -> list[email.message.EmailMessage]:
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=policy.default))
    return messages


def _beat_sends_to_a_worker(*, broker_url, backend_url, transport_options, env_extra, monkeypatch) -> list[dict]:
    """Start a worker, send the beat entry twice (a redelivery), return the two task results."""
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)  # Celery lets the variable win over broker=...
    env = {**os.environ, "CELERY_BROKER_URL": broker_url, "CELERY_RESULT_BACKEND": backend_url, **env_extra}
    env.pop("EMAIL_URL", None)  # the file backend of the embedded default, into $OLIGAMI_VAR_DIR/mail
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "oligami_site", "worker", "--pool=solo", "--concurrency=1", "--without-mingle",
         "--without-gossip", "-l", "warning", "-Q", "celery"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        client = Celery("beat-like", broker=broker_url, backend=backend_url, set_as_current=False)
        client.conf.broker_transport_options = transport_options
        results = []
        for _ in range(2):
            async_result = client.send_task(BEAT_ENTRY["task"], args=BEAT_ENTRY.get("args", ()),
                                            kwargs=BEAT_ENTRY.get("kwargs", {}))
            try:
                results.append(async_result.get(timeout=60))
            except Exception:
                worker.terminate()
                print(worker.communicate(timeout=30)[0].decode(errors="replace"))
                raise
        return results
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.communicate(timeout=30)


def _check(results, outbox: Path, patient, coordinator, investigator):
    first, redelivered = results
    today = timezone.localdate()
    assert first["day"] in (today.isoformat(), (today - DAY).isoformat())  # the worker's Tokyo date (or midnight)
    assert first["sent"] == [f"{patient.site.code}: 1 notices to 2 recipients"], first
    assert redelivered["sent"] == [] and redelivered["created"] == 0, redelivered  # nothing twice
    messages = _mails(outbox)
    assert sorted(m["To"] for m in messages) == sorted([coordinator.email, investigator.email])
    for message in messages:
        body = message.get_body(("plain",)).get_content()
        assert patient.screening_number in body and "[OLIGAMI]" in message["Subject"]
        assert message.get_body(("html",)) is not None


def test_beat_schedule_runs_the_daily_task_at_eight_tokyo_time():
    schedule = BEAT_ENTRY["schedule"]
    assert BEAT_ENTRY["task"] == "registration.tasks.daily_reminders" and not BEAT_ENTRY.get("args")
    assert (schedule.hour, schedule.minute) == ({8}, {0}) and settings.CELERY_TIMEZONE == "Asia/Tokyo"
    # The job and its hourly catch-up check (test_reminders_catch_up.py); exactly one beat process (README).
    assert {"daily-reminders", "reminders-catch-up"} <= set(settings.CELERY_BEAT_SCHEDULE)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_runs_the_beat_task(tmp_path, monkeypatch, plans, site_a, coordinator_a,
                                                   investigator_a):
    need(uses_postgresql(), "PostgreSQL (DATABASE_URL: the worker process must see the test database)")
    url = redis_url()
    need(_redis_reachable(url), f"Redis at {url}")
    patient = _due_today(site_a)
    results = _beat_sends_to_a_worker(
        broker_url=url, backend_url=url, transport_options={"visibility_timeout": 3600}, monkeypatch=monkeypatch,
        env_extra={"DATABASE_URL": _postgres_url(), "OLIGAMI_VAR_DIR": str(tmp_path)})
    _check(results, tmp_path / "mail", patient, coordinator_a, investigator_a)
    assert list(Notice.objects.values_list("status", flat=True)) == ["sent"]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_filesystem_broker_runs_the_beat_task(tmp_path, monkeypatch, plans, site_a,
                                                                   coordinator_a, investigator_a):
    patient = _due_today(site_a)
    var = tmp_path / "var"
    env_extra = {"OLIGAMI_VAR_DIR": str(var)}
    copy = None
    if uses_postgresql():
        env_extra["DATABASE_URL"] = _postgres_url()
    else:
        copy = tmp_path / "worker.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(copy) as target:
            connection.connection.backup(target)
        env_extra["DATABASE_URL"] = f"sqlite:///{copy}"
    queue = var / "celery" / "queue"
    options = {"data_folder_in": str(queue), "data_folder_out": str(queue),
               "processed_folder": str(var / "celery" / "processed"), "store_processed": False,
               "control_folder": str(var / "celery" / "control")}
    for folder in (queue, var / "celery" / "processed", var / "celery" / "control", tmp_path / "results"):
        folder.mkdir(parents=True, exist_ok=True)
    results = _beat_sends_to_a_worker(broker_url="filesystem://", backend_url=f"file://{tmp_path / 'results'}",
                                      transport_options=options, env_extra=env_extra, monkeypatch=monkeypatch)
    _check(results, var / "mail", patient, coordinator_a, investigator_a)
    if copy is None:
        statuses = list(Notice.objects.values_list("status", flat=True))
    else:
        with sqlite3.connect(copy) as db:
            statuses = [row[0] for row in db.execute("SELECT status FROM registration_notice")]
    assert statuses == ["sent"]
