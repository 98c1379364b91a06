"""The immediate e-mail on the real broker (issue 18, SAFETY.md "Deadlines"): no mocks of the broker, the
worker or the database.

A late entry whose first-report deadline is already within 24 hours is recorded through the service in a
committed transaction; the service sends ``safety.tasks.escalate_event`` on commit to Redis; a real
``celery worker`` process (another process, its own connection to the same PostgreSQL test database)
consumes it and writes the e-mails with the file backend into a temporary folder. The test reads that
folder: one message to the site investigator and one to the data manager, nobody else, once.

Needs PostgreSQL (DATABASE_URL: the worker must see the rows this process committed, which an SQLite file
in another process would too, but the deployment's pair is PostgreSQL + Redis) and Redis
(CELERY_BROKER_URL). Skipped without them; a failure when OLIGAMI_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import datetime as dt
import email
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.utils import timezone
from kombu import Connection

from safety import services
from safety.models import DeadlineAlert
from tests.conftest import need, uses_postgresql, uses_redis
from tests.oligami_site.test_processes import _redis_reachable
from tests.safety.helpers import event_data, on_treatment

pytestmark = [pytest.mark.services, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DELIVERY_TIMEOUT = 90  # seconds: the worker's start (Django set-up) on a busy machine, then one task
QUIET_PERIOD = 5  # seconds after delivery in which no second copy may appear


def _database_url() -> str:
    """The pytest test database (test_<name>), as the worker must see it."""
    db = settings.DATABASES["default"]
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(db['USER'], safe='')}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/" \
           f"{db['NAME']}"


def _mails(folder: Path) -> list[email.message.Message]:
    """Every message the file backend wrote (one file per connection, messages separated by a dashed line)."""
    found = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_text(encoding="utf-8").split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                found.append(email.message_from_string(chunk))
    return found


@pytest.fixture
def services_up():
    need(uses_postgresql(), "PostgreSQL (DATABASE_URL)")
    need(uses_redis(), "Redis (CELERY_BROKER_URL=redis://...)")
    need(_redis_reachable(settings.CELERY_BROKER_URL), f"Redis at {settings.CELERY_BROKER_URL}")


@pytest.fixture
def worker(services_up, transactional_db, tmp_path):
    """A real worker on the test database and the broker; mail files in tmp_path/mail. Killed at teardown
    (before the test database is flushed: this fixture needs transactional_db, so it is torn down first)."""
    from oligami_site.celery import app

    # The service sends the escalation through a shared task, which belongs to Celery's *current* app. A test
    # that made a client app of its own (Celery(...) is current by default) and left the process would send
    # it to that app's broker, never to this worker: the project's app is made current again, with a fresh
    # producer pool on the test's broker (the CI failure of stop 23: 0 of 2 e-mails, no error).
    app.set_current()
    app._pool = None
    app.amqp._producer_pool = None
    from safety.tasks import escalate_event

    assert escalate_event.app is app
    with app.connection_for_write() as connection:
        expected = Connection(settings.CELERY_BROKER_URL).as_uri()
        assert connection.as_uri() == expected, f"the app publishes to {connection.as_uri()}, not {expected}"
    app.control.purge()  # nothing left in the queue by an earlier run reaches this worker
    env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "OLIGAMI_VAR_DIR": str(tmp_path), "CELERY_TASK_ALWAYS_EAGER": "false"}
    for name in ("EMAIL_URL", "CELERY_RESULT_BACKEND", "OLIGAMI_ENV"):
        env.pop(name, None)  # the file backend of the default settings, into OLIGAMI_VAR_DIR/mail
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "oligami_site", "worker", "--pool=solo", "--concurrency=1",
         "--without-mingle", "--without-gossip", "-l", "info", "-Q", "celery"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process, tmp_path / "mail"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


def test_due_soon_late_entry_is_mailed_once_by_the_worker(worker, plans, site_a, coordinator_a, investigator_a,
                                                          coordinator_b, data_manager):
    process, mail_dir = worker
    patient = on_treatment(site_a, coordinator_a)  # a course ongoing since 2026-03-05: R2b for a Grade 4 event
    # The site learned of the Grade 4 event 49 hours ago: its first report (72 hours) is due in 23 hours, so it
    # is "due within 24 hours" the moment it is entered, and must be e-mailed at once (not by the next scan).
    aware = timezone.localtime(timezone.now() - dt.timedelta(hours=49)).replace(microsecond=0)
    event = services.record_event(patient=patient, user=coordinator_a,
                                  data=event_data(onset_date=aware.date(), awareness=aware))
    assert event.reportable and event.rule == "R2b"

    started = time.monotonic()
    expected = sorted([investigator_a.email, data_manager.email])
    while True:
        mails = _mails(mail_dir) if mail_dir.exists() else []
        if len(mails) >= len(expected):
            break
        if process.poll() is not None or time.monotonic() - started > DELIVERY_TIMEOUT:
            log = (mail_dir.parent / "worker.log").read_text(errors="replace")
            pytest.fail(f"the worker delivered {len(mails)} of {len(expected)} e-mails within "
                        f"{DELIVERY_TIMEOUT} s (worker exit code {process.poll()}); its log:\n{log[-4000:]}")
        time.sleep(0.5)
    delivered_after = time.monotonic() - started
    time.sleep(QUIET_PERIOD)  # a redelivered task or a second alert would show up now

    mails = _mails(mail_dir)
    assert sorted(m["To"] for m in mails) == expected, "the site investigator and the data managers, once each"
    assert coordinator_a.email not in {m["To"] for m in mails} and coordinator_b.email not in {m["To"] for m in mails}
    for message in mails:
        assert "due within 24 hours" in message["Subject"] and patient.screening_number in message["Subject"]
    alert = DeadlineAlert.objects.get(adverse_event=event)  # one alert, stored and marked sent by the worker
    assert alert.level == DeadlineAlert.Level.DUE_SOON and alert.report == "first"
    assert alert.sent_at is not None and sorted(alert.recipients.split(", ")) == expected
    print(f"delivered by the worker {delivered_after:.1f} s after the commit")
