"""Two instances against one database and one Redis: exactly-once randomization and reminders (issue 21).

Usage: BENCH_DB=oligami_bench_i21 .venv/bin/python bench/two_instances.py [--patients 20] [--site TWOINST]
           [--broker redis://127.0.0.1:6379/1]
Needs a migrated bench database with a randomization configuration (bench/generate.py, or
`bench/run.py --keep-db`) and a reachable Redis (its own db number). Exit status 1 when any duplicate
or error is found.

1. Set-up, in this process, through the real services (tests/registration/factories.py): a site of its
   own (--site, default TWOINST), a coordinator and an investigator, N patients primary registered 90 days ago and
   evaluated 2 days ago (secondary registration open today), and N eligible patients whose labs are
   valid for the last day today (a reminder due today).
2. Processes, all on the same database and Redis: two gunicorn instances (production settings, the same
   SECRET_KEY as two machines would share, 2 workers each), two Celery workers (prefork, concurrency 2),
   and one beat with its own schedule file.
3. Randomization: for each patient the coordinator's secondary-registration form (password signature)
   is posted to both instances at the same moment (threads released by a barrier, one session per
   instance), the double submit two machines would see behind a load balancer.
4. Reminders: the beat entries are sent by name at the same moment as two beats, a redelivery and the
   hourly catch-up would (daily job twice, catch-up twice); the two workers consume them. Beat runs
   throughout, as in production (it fires nothing else during the run unless an hourly check falls in it).
5. Counts: allocations per patient and sequence gaps, `verify_allocations`; notices per reminder key;
   e-mails per (recipient, subject) in the workers' shared file outbox; task errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

from common import ROOT, VAR_DIR, emit, setup_django, table

setup_django()

from bench_pages import Gunicorn, Http  # noqa: E402
from celery import Celery  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from oligami_site.models import Membership  # noqa: E402
from randomization.models import Allocation, RandomizationConfig  # noqa: E402
from registration.models import Notice  # noqa: E402
from screening import consents  # noqa: E402
from screening.models import Patient  # noqa: E402
from tests.factories import PASSWORD, SiteFactory, UserFactory  # noqa: E402
from tests.registration.factories import JUDGED_ON, make_eligible_screening, record, register  # noqa: E402

DAY = dt.timedelta(days=1)


def set_up(n: int, code: str):
    """The site, its two users, n patients ready for secondary registration, n with a reminder due today."""
    if not RandomizationConfig.objects.filter(active=True).exists():
        raise SystemExit("no active randomization configuration: generate the bench database first")
    site = SiteFactory(code=code)  # open, on a complete approval record
    if Patient.objects.filter(site=site).exists():
        raise SystemExit(f"site {code} has patients already: give another --site")
    domain = f"{code.lower()}.invalid"
    coordinator = UserFactory(username=f"{code.lower()}_crc", email=f"crc@{domain}")
    investigator = UserFactory(username=f"{code.lower()}_pi", email=f"pi@{domain}")
    Membership.objects.create(user=coordinator, site=site, role=Membership.Role.COORDINATOR)
    Membership.objects.create(user=investigator, site=site, role=Membership.Role.INVESTIGATOR)
    today = timezone.localdate()

    def eligible(on):
        # P18: the consent document version in force on the consent date (the factory's consent date is its
        # screening date moved like the others; the bench database has 1.0 superseded by 2.0).
        consent_day = on - (JUDGED_ON - dt.date(2026, 2, 20))
        return make_eligible_screening(site=site, on=on, consent_version=consents.version_on(consent_day))

    ready = []
    for _ in range(n):
        patient = register(eligible(today - 90 * DAY), coordinator).patient
        record(patient, coordinator, today - 2 * DAY, courses_given=3)
        ready.append(patient.pk)
    for _ in range(n):  # labs drawn 6 days before screening: last valid day today (labs_last_day due)
        eligible(today - 8 * DAY)
    return site, coordinator, ready


class Processes:
    """Two gunicorn instances, two workers, one beat; stopped in reverse order."""

    def __init__(self, broker: str):
        self.broker = broker
        self.key = secrets.token_urlsafe(64)
        self.var = VAR_DIR / "two-instances"
        self.var.mkdir(parents=True, exist_ok=True)
        self.webs = []
        self.procs = []

    def env(self):
        from common import bench_env

        return bench_env(CELERY_BROKER_URL=self.broker, CELERY_RESULT_BACKEND=self.broker,
                         OLIGAMI_VAR_DIR=str(self.var), EMAIL_URL="", SITE_URL="https://twoinst.invalid")

    def __enter__(self):
        for _ in range(2):
            web = Gunicorn(CELERY_BROKER_URL=self.broker, OLIGAMI_VAR_DIR=str(self.var))
            web.env["SECRET_KEY"] = self.key  # two machines share the key (sessions verify on both)
            web.__enter__()
            self.webs.append(web)
        env = self.env()
        env.pop("EMAIL_URL")  # the embedded default: one file per message in OLIGAMI_VAR_DIR/mail
        celery = str(ROOT / ".venv" / "bin" / "celery")
        for name in ("w1", "w2"):
            log = open(self.var / f"worker-{name}.log", "w")  # noqa: SIM115 (the process owns it)
            self.procs.append(subprocess.Popen(
                [celery, "-A", "oligami_site", "worker", "-n", f"{name}@%h", "--concurrency=2", "-l", "warning"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log = open(self.var / "beat.log", "w")  # noqa: SIM115
        self.procs.append(subprocess.Popen(
            [celery, "-A", "oligami_site", "beat", "-l", "warning", "--schedule", str(self.var / "beat-schedule")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        return self

    def __exit__(self, *exc):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        for web in reversed(self.webs):
            web.__exit__(None, None, None)


def at_once(calls):
    """Run the callables in threads released together; return their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 (reported)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def randomize_twice(webs, username, patients):
    clients = []
    for web in webs:
        client = Http(web.port)
        client.login(username, PASSWORD)  # the factories' password (tests/factories.py)
        clients.append(client)
    outcomes = Counter()
    for pk in patients:
        path = reverse("registration:secondary", kwargs={"pk": pk})
        tokens = [client.csrf(path) for client in clients]
        forms = [{"csrfmiddlewaretoken": token, "password": PASSWORD} for token in tokens]
        results = at_once([lambda c=c, f=f, p=path: c.request("POST", p, f)
                           for c, f in zip(clients, forms, strict=True)])
        for result in results:
            if isinstance(result, Exception):
                outcomes[f"error {type(result).__name__}"] += 1
            else:
                status, location, _content = result
                outcomes[f"{status} {'result' if '/randomization/' in location else location or 'page'}"] += 1
    return outcomes


def reminders_twice(broker, timeout=600):
    """Send the beat entries by name at the same moment (two beats, a redelivery, the hourly catch-up) and
    wait for their results.

    Sent from four threads at once by an app *without* a result backend, and the results read by polling
    the stored task state: Celery's Redis result backend subscribes each sent task on one shared pubsub
    connection, which is not thread-safe (celery/celery#3761, #4670). The "hang" of the first runs (4 x 600 s)
    was the broker variable below; with it fixed, results are still read without pubsub for that reason.
    """
    # Celery lets the CELERY_BROKER_URL variable win over broker=..., and bench_env set it to memory:// for this
    # process: without this line the "beats" published into their own memory and nothing ever came back.
    os.environ["CELERY_BROKER_URL"] = broker
    sender = Celery("two-beats", broker=broker, set_as_current=False)
    reader = Celery("two-beats-results", broker=broker, backend=broker, set_as_current=False)
    daily = settings.CELERY_BEAT_SCHEDULE["daily-reminders"]["task"]
    check = settings.CELERY_BEAT_SCHEDULE["reminders-catch-up"]["task"]
    # The hourly check at 08:30 Tokyo today (after the daily firing's time, whatever the clock says now).
    now = dt.datetime.combine(timezone.localdate(), dt.time(8, 30), tzinfo=ZoneInfo(settings.TIME_ZONE)).isoformat()
    sends = [lambda: sender.send_task(daily), lambda: sender.send_task(daily),
             lambda: sender.send_task(check, kwargs={"now": now}),
             lambda: sender.send_task(check, kwargs={"now": now})]
    results = []
    for sent in at_once(sends):
        if isinstance(sent, Exception):
            results.append({"error": f"not sent: {type(sent).__name__}: {sent}"})
            continue
        results.append(_wait_for_result(reader, sent.id, timeout))
    return results


def _wait_for_result(reader, task_id: str, timeout: float) -> dict:
    """The task's return value once the worker stored it (a plain GET of the result key, no pubsub)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta = reader.backend.get_task_meta(task_id)
        if meta["status"] == "SUCCESS":
            return meta["result"]
        if meta["status"] in ("FAILURE", "REVOKED"):
            return {"error": f"{meta['status']}: {meta.get('result')}"}
        time.sleep(0.5)
    return {"error": f"no result within {timeout} s (task {task_id})"}


def mails(folder: Path):
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(message_from_bytes(chunk, policy=policy.default))
    return messages


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--site", default="TWOINST", help="code of the site the script creates (must be new)")
    parser.add_argument("--broker", default=os.environ.get("TWO_INSTANCES_BROKER", "redis://127.0.0.1:6379/1"))
    args = parser.parse_args()
    started = time.perf_counter()
    site, coordinator, ready = set_up(args.patients, args.site)
    with Processes(args.broker) as procs:
        outcomes = randomize_twice(procs.webs, coordinator.username, ready)
        task_results = reminders_twice(args.broker)
        mail_folder = procs.var / "mail"

    per_patient = Counter(Allocation.objects.filter(patient_id__in=ready).values_list("patient_id", flat=True))
    sequences = sorted(Allocation.objects.values_list("sequence", flat=True))
    gaps = [b for a, b in zip(sequences, sequences[1:], strict=False) if b != a + 1]
    out = io.StringIO()
    try:
        call_command("verify_allocations", stdout=out)
        verified = "OK"
    except Exception as exc:  # noqa: BLE001 (reported)
        verified = f"FAILED: {exc}"
    notices = Counter(Notice.objects.filter(site=site).values_list("patient_id", "kind", "due_date", "audience"))
    messages = [m for m in mails(mail_folder) if f"@{args.site.lower()}.invalid" in str(m["To"])]
    per_message = Counter((str(m["To"]), str(m["Subject"])) for m in messages)
    result = {
        "benchmark": "two_instances", "patients": len(ready), "posts": sum(outcomes.values()),
        "post_outcomes": dict(outcomes),
        "randomized": len(per_patient), "duplicate_allocations": sum(n - 1 for n in per_patient.values()),
        "not_randomized": len(ready) - len(per_patient), "sequence_gaps": len(gaps), "verify_allocations": verified,
        "notices": len(notices), "duplicate_notices": sum(n - 1 for n in notices.values()),
        "emails": len(messages), "duplicate_emails": sum(n - 1 for n in per_message.values()),
        "task_errors": [r for r in task_results if "error" in r],
        "tasks_created": [r.get("created") for r in task_results],
        "seconds": round(time.perf_counter() - started, 1),
    }
    emit(result)
    rows = [{"measure": k, "value": v} for k, v in result.items() if k != "benchmark"]
    print(table(rows, [("measure", "measure"), ("value", "value")]))
    bad = (result["duplicate_allocations"] or result["not_randomized"] or result["sequence_gaps"]
           or verified != "OK" or result["duplicate_notices"] or result["duplicate_emails"] or result["task_errors"]
           or not result["notices"] or not result["emails"] or any(re.match(r"5\d\d|error", k) for k in outcomes))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
