"""Pages under gunicorn on the bench database: latency as a ratio to a floor page, and query counts.

Usage: .venv/bin/python bench/bench_pages.py [--rounds 40] [--concurrency 2] [--queries-only]

1. Query counts, in this process: Django's test client logs in through the login form (and the
   one-time-code step for the data manager), GETs each page once to warm up, then once inside
   CaptureQueriesContext.
2. Latency: gunicorn with the production settings (OLIGAMI_ENV=production, a random SECRET_KEY,
   ALLOWED_HOSTS=127.0.0.1, X-Forwarded-Proto: https as a TLS proxy would send; 2 sync workers, the
   project's deploy/gunicorn.conf.py) serves the bench database; the users log in over HTTP through
   the real login form (password, then the TOTP code for the data manager); bench/load.py, a second
   process, requests every page once per round in a new random order, 2 connections at a time.
   Each page's median and p95 are divided by the floor's, measured in the same rounds.

The floor is /accounts/password/ of the same coordinator: a login-required page that renders base.html
and a small form, so it carries everything every page pays (session read and save, user, CSRF,
context processors, middleware incl. the second-factor check) and nothing of the trial data. The
anonymous login page is reported beside it for reference.
Pages: as the coordinator of the busiest site (worklist, patient list, patient page of a randomized
patient, screening log, reports for her site) and as a data manager (balance: totals by arm, reports
trial-wide, patients not randomized, and every changelist of the admin console, trial-wide: `admin_<app>_<model>`).
After randomization (bench/generate_followup.py writes their data): the follow-up and safety pages of a
randomized patient with adverse events and assessments, the survey list and the open survey, survival curves
and AE frequency (statistician: by arm; the others pooled), the SAE log, data queries, deviations (data
manager and site), the central monitoring report, cut-offs, the data manager's home, the site page and the
consent documents. A page name ends in the role it is requested as (_dm, _site, _stat) where it has several.
"""

from __future__ import annotations

import argparse
import http.client
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from common import PASSWORD, ROOT, VAR_DIR, bench_env, emit, median, ms, percentile, setup_django, table

setup_django()

from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402

from oligami_site.models import Membership  # noqa: E402
from screening.models import Patient  # noqa: E402

FLOOR = "floor"


def _url(name, **kwargs):
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def subjects():
    """The busiest site's coordinator, a randomized patient of that site, the data manager."""
    busiest = (Patient.objects.values("site_id").annotate(n=Count("id")).order_by("-n", "site_id").first())
    site_id = busiest["site_id"]
    coordinator = (Membership.objects.filter(site_id=site_id, role=Membership.Role.COORDINATOR)
                   .select_related("user", "site").first())
    patient = Patient.objects.filter(site_id=site_id, stage=Patient.Stage.RANDOMIZED).order_by("sequence").first()
    # The follow-up and safety pages: a randomized patient of that site with adverse events and assessments
    # (generate_followup.py), else the same patient.
    from followup.models import FollowupSurvey
    from safety.models import AdverseEvent

    followed = (Patient.objects.filter(site_id=site_id, stage=Patient.Stage.RANDOMIZED,
                                       pk__in=AdverseEvent.objects.values("patient_id"), assessments__isnull=False)
                .order_by("sequence").values_list("pk", flat=True).first()) or patient.pk
    survey = FollowupSurvey.objects.order_by("-cutoff_date").values_list("pk", flat=True).first()
    return {"site": coordinator.site.code, "site_id": site_id, "site_patients": busiest["n"],
            "crc": coordinator.user.username, "dm": "bench_dm", "stat": "bench_stat", "patient": patient.pk,
            "followed_patient": followed, "survey": survey, "patients_total": Patient.objects.count()}


def pages(subject):
    """(name, path, who): who is "crc", "dm" or None (anonymous)."""
    rows = [
        (FLOOR, _url("password_change"), "crc"),
        ("login_page_anon", _url("login"), None),
        ("worklist", _url("home"), "crc"),
        ("patient_list", _url("screening:patient_list"), "crc"),
        ("patient_page", _url("registration:patient", pk=subject["patient"]), "crc"),
        ("screening_log", _url("screening:log"), "crc"),
        ("balance", _url("randomization:balance"), "dm"),  # site staff see no arm counts (issue 13)
        ("reports_site", _url("oversight:reports"), "crc"),
        ("floor_dm", _url("password_change"), "dm"),
        ("reports_trial", _url("oversight:reports"), "dm"),
        ("not_randomized", _url("oversight:not_randomized"), "dm"),
        # After randomization (followup/, safety/, oversight/) and the core pages added with them.
        ("followup_patient", _url("followup:patient", pk=subject["followed_patient"]), "crc"),
        ("safety_patient", _url("safety:patient_events", pk=subject["followed_patient"]), "crc"),
        ("surveys_dm", _url("followup:surveys"), "dm"),
        ("survey_dm", subject["survey"] and _url("followup:survey", survey_id=subject["survey"]), "dm"),
        ("survey_site", subject["survey"] and _url("followup:survey", survey_id=subject["survey"]), "crc"),
        ("curves_stat", _url("followup:curves"), "stat"),
        ("curves_site", _url("followup:curves"), "crc"),
        ("sae_log_dm", _url("safety:log"), "dm"),
        ("sae_log_site", _url("safety:log"), "crc"),
        ("ae_frequency_stat", _url("safety:frequency"), "stat"),
        ("ae_frequency_dm", _url("safety:frequency"), "dm"),
        ("queries_dm", _url("queries:list"), "dm"),
        ("queries_site", _url("queries:list"), "crc"),
        ("deviations_dm", _url("deviations:list"), "dm"),
        ("deviations_site", _url("deviations:list"), "crc"),
        ("monitoring_dm", _url("oversight:monitoring"), "dm"),
        ("cutoffs_dm", _url("oversight:cutoffs"), "dm"),
        ("home_dm", _url("home"), "dm"),
        ("site_page_site", _url("site_detail", pk=subject["site_id"]), "crc"),
        ("site_page_dm", _url("site_detail", pk=subject["site_id"]), "dm"),
        ("consent_documents_dm", _url("screening:consent_documents"), "dm"),
    ]
    rows += [(f"admin_{label}", path, "dm") for label, path in admin_changelists()]
    return [r for r in rows if r[1] is not None]


def admin_changelists():
    """Every changelist of the admin console (label, path), as the data manager sees it: trial-wide."""
    from django.contrib import admin

    out = []
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label):
        out.append((model._meta.label_lower.replace(".", "_"),
                    _url(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")))
    return out


# --- one-time codes (as the user's authenticator app) --------------------------------------------


def totp_device(username):
    from django.apps import apps

    if not apps.is_installed("django_otp.plugins.otp_totp"):
        return None
    model = apps.get_model("otp_totp", "TOTPDevice")
    return model.objects.filter(user__username=username, confirmed=True).order_by("pk").first()


def otp_token(username) -> str:
    """The current code of the user's device; the next step's when the current one was used already
    (django-otp refuses a code twice and accepts one step of drift)."""
    from django_otp.oath import TOTP

    device = totp_device(username)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if device.last_t is not None and totp.t() <= device.last_t:
        totp.time += device.step * (device.last_t + 1 - totp.t())
    return f"{totp.token():0{device.digits}d}"


# --- query counts in process ----------------------------------------------------------------------


def client_login(username) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"login of {username} failed ({response.status_code})")
    verify = _url("two_factor_verify")
    response = client.get(reverse("home"))
    if verify and response.status_code == 302 and response["Location"].startswith(verify):
        response = client.post(response["Location"], {"token": otp_token(username)})
        if response.status_code != 302:
            raise RuntimeError(f"one-time code of {username} refused")
    return client


def count_queries(client, path):
    def get():
        response = client.get(path)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        return response

    get()  # warm (first-use caches such as content types)
    with CaptureQueriesContext(connection) as ctx:
        response = get()
    return response.status_code, len(ctx.captured_queries)


def query_counts(subject, page_list):
    """Each page's queries in process. The reports' cache is off here, so the reports pages count the
    queries of a miss (every patient classified); a hit runs fewer (the data version, the sites)."""
    from django.test.utils import override_settings

    setup_test_environment()
    clients = {"crc": client_login(subject["crc"]), "dm": client_login(subject["dm"]),
               "stat": client_login(subject["stat"]), None: Client()}
    out = {}
    with override_settings(OLIGAMI_REPORTS_CACHE_SECONDS=0):
        for name, path, who in page_list:
            status, count = count_queries(clients[who], path)
            out[name] = {"status": status, "queries": count}
    return out


# --- gunicorn and HTTP login ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """A tiny client for the login steps, keeping cookies by name (TLS is what the proxy header says)."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, form=None):
        headers = {"Host": f"127.0.0.1:{self.port}", "X-Forwarded-Proto": "https"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"https://127.0.0.1:{self.port}{path}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        conn.close()
        return response.status, response.getheader("Location") or "", content

    def csrf(self, path):
        status, _loc, content = self.request("GET", path)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', content)
        if status != 200 or not match:
            raise RuntimeError(f"no CSRF token on {path} ({status})")
        return match.group(1)

    def login(self, username, password=PASSWORD):
        login = reverse("login")
        status, location, _ = self.request("POST", login, {"csrfmiddlewaretoken": self.csrf(login),
                                                           "username": username, "password": password})
        if status != 302:
            raise RuntimeError(f"HTTP login of {username} failed ({status})")
        status, location, _ = self.request("GET", reverse("home"))
        verify = _url("two_factor_verify")
        if verify and status == 302 and urllib.parse.urlsplit(location).path == verify:
            path = urllib.parse.urlsplit(location).path + "?" + urllib.parse.urlsplit(location).query
            token = self.csrf(path)
            status, location, _ = self.request("POST", path, {"csrfmiddlewaretoken": token,
                                                              "token": otp_token(username)})
            if status != 302:
                raise RuntimeError(f"HTTP one-time code of {username} refused ({status})")
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


class Gunicorn:
    def __init__(self, workers=2, **extra_env):
        self.port = free_port()
        self.env = bench_env(
            **extra_env, OLIGAMI_ENV="production", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64),
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="false", STATIC_ROOT=VAR_DIR / "static", GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY=workers, GUNICORN_THREADS=1, CONN_MAX_AGE=60)
        self.proc = None

    def __enter__(self):
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=self.env,
                       check=True)
        gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
        self.log = open(VAR_DIR / "gunicorn.log", "w")  # noqa: SIM115 (closed in __exit__)
        self.proc = subprocess.Popen([str(gunicorn), "-c", "deploy/gunicorn.conf.py", "--log-level", "warning",
                                      "oligami_site.wsgi"], cwd=ROOT, env=self.env, start_new_session=True,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _l, _c = Http(self.port).request("GET", reverse("login"))
                if status == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited")
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its own workers
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_load(port, page_list, cookies, rounds, concurrency, max_seconds):
    import json

    spec = {"host": "127.0.0.1", "port": port, "rounds": rounds, "warmup": 3, "concurrency": concurrency,
            "max_seconds": max_seconds, "headers": {"Host": f"127.0.0.1:{port}", "X-Forwarded-Proto": "https"},
            "pages": [{"name": n, "path": p, "cookie": cookies.get(w, "")} for n, p, w in page_list]}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py")], input=json.dumps(spec),
                            capture_output=True, text=True, check=True, timeout=max_seconds + 120)
    return json.loads(result.stdout)


def latencies(subject, page_list, rounds, concurrency, max_seconds, reports_cache=True):
    extra = {} if reports_cache else {"OLIGAMI_REPORTS_CACHE_SECONDS": "0"}
    with Gunicorn(**extra) as server:
        cookies = {"crc": Http(server.port).login(subject["crc"]), "dm": Http(server.port).login(subject["dm"]),
                   "stat": Http(server.port).login(subject["stat"])}
        load = run_load(server.port, page_list, cookies, rounds, concurrency, max_seconds)
    floor = load["latencies"][FLOOR]
    floor_median, floor_p95 = median(floor), percentile(floor, 95)
    out = {}
    for name, _path, _who in page_list:
        values = load["latencies"][name]
        out[name] = {
            "n": len(values), "median_ms": ms(median(values)), "p95_ms": ms(percentile(values, 95)),
            "median_ratio": round(median(values) / floor_median, 2),
            "p95_ratio": round(percentile(values, 95) / floor_p95, 2),
            "statuses": load["statuses"][name], "bytes": load["bytes"].get(name),
        }
    return out, {"load_seconds": load["seconds"], "stopped_by_time": load["stopped_by_time"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--max-seconds", type=int, default=300)
    parser.add_argument("--queries-only", action="store_true")
    parser.add_argument("--pages", default="", help="comma-separated page names (the floors are always measured)")
    parser.add_argument("--no-reports-cache", action="store_true",
                        help="serve with OLIGAMI_REPORTS_CACHE_SECONDS=0: every reports request classifies anew")
    args = parser.parse_args()
    subject = subjects()
    page_list = pages(subject)
    if args.pages:
        wanted = {*args.pages.split(","), FLOOR, "floor_dm"}
        page_list = [row for row in page_list if row[0] in wanted
                     or ("admin" in wanted and row[0].startswith("admin_"))]
    counts = query_counts(subject, page_list)
    # Changelists the data manager may not view (403) are listed with their count but not timed.
    page_list = [row for row in page_list if not row[0].startswith("admin_") or counts[row[0]]["status"] == 200]
    result = {"benchmark": "pages", **subject, "queries": counts}
    rows = [{"page": n, "path": p, "as": w or "anonymous", "queries": counts[n]["queries"],
             "status": counts[n]["status"]} for n, p, w in page_list]
    columns = [("page", "page"), ("as", "as"), ("status", "status"), ("queries", "queries")]
    if not args.queries_only:
        lat, meta = latencies(subject, page_list, args.rounds, args.concurrency, args.max_seconds,
                              reports_cache=not args.no_reports_cache)
        result.update({"latency": lat, **meta, "rounds": args.rounds, "concurrency": args.concurrency,
                       "reports_cache": not args.no_reports_cache})
        for row in rows:
            row.update(lat[row["page"]])
            row["http"] = ",".join(f"{k}x{v}" for k, v in sorted(row.pop("statuses").items()))
        columns += [("median_ms", "median ms"), ("p95_ms", "p95 ms"), ("median_ratio", "median/floor"),
                    ("p95_ratio", "p95/floor"), ("http", "HTTP")]
    emit(result)
    print(f"{subject['patients_total']:,} patients; busiest site {subject['site']} ({subject['site_patients']:,} "
          f"patients), coordinator {subject['crc']}, data manager {subject['dm']}")
    print(table(rows, columns))


if __name__ == "__main__":
    main()
