"""A broker outage at the firing time, with real processes (issue 21): a private redis-server that the test
kills and restarts, a real `celery worker` (prefork, as deploy/systemd runs it) busy with a task when Redis
dies, and beat's messages sent by name exactly as beat sends them. No mocks.

What it proves:
- the 08:00 firing sent while Redis is down is lost (the send fails, as beat's does: "Couldn't apply
  scheduled task"), and the next hourly catch-up check runs the day's job: 0 lost daily scans;
- the worker that lost Redis mid-task either reconnects by itself or exits with a status its systemd unit
  restarts (deploy/systemd/oligami-worker.service); restarted as systemd would, it serves tasks again.

Needs the redis-server binary and, for the worker to see the test data, PostgreSQL (DATABASE_URL) or the
SQLite copy trick of test_reminders_worker.py. Skipped without redis-server locally; a failure in CI.
"""

import datetime as dt
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from celery.exceptions import TimeoutError
from django.conf import settings
from django.db import connection
from django.utils import timezone

from registration.models import Notice, ReminderRun
from tests.conftest import need, uses_postgresql
from tests.oligami_site.test_processes import _free_port, _redis_reachable
from tests.registration.test_reminders_worker import _due_today, _mails, _postgres_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UNIT = ROOT / "deploy" / "systemd" / "oligami-worker.service"
TOKYO = ZoneInfo("Asia/Tokyo")


class Redis:
    """A throw-away redis-server on a free loopback port (no persistence: a restart starts empty)."""

    def __init__(self, folder: Path):
        self.port = _free_port()
        self.folder = folder
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if _redis_reachable(self.url):
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def _restart_rule() -> str:
    return re.search(r"^Restart=(\S+)", UNIT.read_text(), re.MULTILINE).group(1)


def _systemd_restarts(status: int) -> bool:
    """Whether systemd's Restart= rule of the worker unit restarts a process that exited with ``status``."""
    rule = _restart_rule()
    return rule == "always" or (rule in ("on-failure", "on-abnormal") and status != 0 if rule == "on-failure"
                                else rule == "on-abnormal" and status < 0)


def _worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "oligami_site", "worker", "--concurrency=1", "--without-mingle",
         "--without-gossip", "-l", "info", "-Q", "celery", "-I", "tests.registration.outage_tasks"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_worker_unit_restarts_a_worker_that_exits_with_an_error():
    assert _systemd_restarts(1) and _restart_rule() == "always"
    assert "StartLimitIntervalSec=0" in UNIT.read_text()  # systemd never gives up restarting it


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_at_the_firing_time_loses_no_daily_scan(tmp_path, monkeypatch, plans, site_a, coordinator_a,
                                                                investigator_a):
    need(shutil.which("redis-server") is not None, "redis-server")
    patient = _due_today(site_a)
    var = tmp_path / "var"
    env_extra = {"OLIGAMI_VAR_DIR": str(var)}
    copy = None
    if uses_postgresql():
        env_extra["DATABASE_URL"] = _postgres_url()
    else:  # the in-memory test database copied to a file the worker can open (test_reminders_worker.py)
        copy = tmp_path / "worker.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(copy) as target:
            connection.connection.backup(target)
        env_extra["DATABASE_URL"] = f"sqlite:///{copy}"
    redis = Redis(tmp_path)
    redis.start()
    monkeypatch.setenv("CELERY_BROKER_URL", redis.url)  # Celery lets the variable win over broker=...
    env = {**os.environ, "CELERY_BROKER_URL": redis.url, "CELERY_RESULT_BACKEND": redis.url, **env_extra}
    env.pop("EMAIL_URL", None)  # e-mails as files in $OLIGAMI_VAR_DIR/mail
    log = tmp_path / "worker.log"
    worker = _worker(env, log)
    client = Celery("beat-like", broker=redis.url, backend=redis.url, set_as_current=False)
    client.conf.broker_transport_options = {"visibility_timeout": 3600}
    exits = []
    try:
        # A long task is running when Redis dies.
        marker = tmp_path / "inside"
        client.send_task("tests.registration.outage_tasks.hold", args=[str(marker), 6])
        _wait_for(marker.exists, 90, "the worker to start the task")
        redis.kill()

        # 08:00: beat fires the daily job while the broker is down: the message cannot be sent (beat logs
        # "Couldn't apply scheduled task" and waits for the next day).
        daily = settings.CELERY_BEAT_SCHEDULE["daily-reminders"]
        with pytest.raises(Exception, match="(?i)connect|refused"):
            client.send_task(daily["task"], retry=False)
        time.sleep(2)
        redis.start()  # Redis is back, empty (no persistence): the lost firing is nowhere

        # The worker reconnects, or it exits (kombu fails while restoring its unacknowledged message, then
        # the warm shutdown waits for the running task) and systemd restarts it by the unit's Restart= rule.
        deadline = time.monotonic() + 180
        while True:
            if worker.poll() is not None:
                exits.append(worker.returncode)
                assert _systemd_restarts(worker.returncode), f"exit status {worker.returncode} is not restarted"
                worker = _worker(env, log)
            try:
                assert client.send_task("oligami_site.tasks.ping").get(timeout=10) == "pong"
                break
            except TimeoutError:
                assert time.monotonic() < deadline, "no worker serves tasks after the outage"

        # 08:30: beat's hourly check, as beat sends it (no arguments but the moment, which the task
        # otherwise takes from the clock): the day's job had not run, so it runs now.
        check = settings.CELERY_BEAT_SCHEDULE["reminders-catch-up"]
        today = timezone.localdate()
        now = dt.datetime.combine(today, dt.time(8, 30), tzinfo=TOKYO).isoformat()
        result = client.send_task(check["task"], kwargs={"now": now}).get(timeout=120)
        assert result["caught_up"] and result["day"] == today.isoformat(), result
        assert result["sent"] == [f"{site_a.code}: 1 notices to 2 recipients"], result
        # 09:30: the day has run; nothing more is sent.
        later = dt.datetime.combine(today, dt.time(9, 30), tzinfo=TOKYO).isoformat()
        assert client.send_task(check["task"], kwargs={"now": later}).get(timeout=120) == {"caught_up": False}
    except Exception:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=60)
        if redis.process.poll() is None:
            redis.kill()

    messages = _mails(var / "mail")
    assert sorted(m["To"] for m in messages) == sorted([coordinator_a.email, investigator_a.email])
    assert all(patient.screening_number in m.get_body(("plain",)).get_content() for m in messages)
    if copy is None:
        runs = list(ReminderRun.objects.values_list("day", flat=True))
        statuses = list(Notice.objects.values_list("status", flat=True))
    else:
        with sqlite3.connect(copy) as db:
            runs = [dt.date.fromisoformat(r[0]) for r in db.execute("SELECT day FROM registration_reminderrun")]
            statuses = [r[0] for r in db.execute("SELECT status FROM registration_notice")]
    assert runs == [today] and statuses == ["sent"]  # 0 lost daily scans, each reminder sent once
    print(f"worker exits during the outage: {exits or 'none (reconnected)'}")
