"""`make screenshots`: every page, at a laptop's and a tablet's size, in English and Japanese, into docs/screenshots/.

Starts the app on a throw-away SQLite in a temporary OLIGAMI_VAR_DIR (`migrate` + `seed_demo`), serves it
with `runserver --noreload` on a free loopback port, and drives Debian's Chromium (/usr/bin/chromium, never a
browser download) through Playwright as each role sees the app: the coordinator crc_tmdu for the site pages,
the data manager dm (enrolling the authenticator app through the real TOTP pages) for the trial-wide pages,
the statistician stat, the monitor, and a visitor who is not logged in (login, lockout, error pages).

Files are named `<page>-<lang>-<width>.png` (1366 = laptop 1366x768, 768 = tablet 768x1024), viewport only
(what a user sees first; a page that overflows sideways shows it). Run:
`.venv/bin/python -m tests.browser.screenshots [--out DIR] [--only NAME,NAME]`.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "screenshots-demo-1"
CHROMIUM = "/usr/bin/chromium"
VIEWPORTS = {"1366": {"width": 1366, "height": 768}, "768": {"width": 768, "height": 1024}}
LANGS = ("en", "ja")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"runserver did not answer on port {port}")


def log_in(page, username):
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    if "/accounts/two-factor/" in page.url:  # trial-wide roles: enrol (first time) or verify, with a real code
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from tests.factories import totp_token

        device = TOTPDevice.objects.filter(user__username=username).latest("id")
        page.locator("#id_token").fill(totp_token(device))
        page.locator("#submit-token").click()
        page.wait_for_load_state()


def switch_language(page, lang):
    page.goto("/accounts/password/")
    page.select_option("#language-select", lang)
    page.locator("footer button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == lang, page.url


def shoot(page, url, name, lang, size, out):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    path = out / f"{name}-{lang}-{size}.png"
    page.screenshot(path=str(path), full_page=False)
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KB")


def pages_by_user():
    """(username or None for a visitor, [(url, name)]) from the demo data: one patient at each step."""
    from randomization.models import Allocation
    from registration.models import PrimaryRegistration
    from screening.models import Patient, Screening

    tmdu = Patient.objects.filter(site__code="TMDU")
    allocation = Allocation.objects.select_related("patient").filter(patient__site__code="TMDU").first()
    screening = Screening.objects.filter(patient__site__code="TMDU", outcome="eligible").latest("id")
    registered = PrimaryRegistration.objects.filter(patient__site__code="TMDU").select_related("patient")
    on_therapy = registered.filter(patient__stage__in=["registered"]).first()
    unscreened = tmdu.filter(stage="screening").first() or tmdu.first()
    randomized = allocation.patient if allocation else screening.patient
    site = [("/", "worklist"), ("/screening/patients/", "patients"),
            ("/screening/patients/new/", "patient-new"),
            (f"/screening/patients/{unscreened.pk}/", "patient-detail"),
            (f"/screening/patients/{unscreened.pk}/screening/new/", "screening-entry"),
            (f"/screening/screenings/{screening.pk}/edit/", "screening-edit"),
            (f"/screening/screenings/{screening.pk}/", "checklist"),
            ("/screening/log/", "screening-log"),
            (f"/registration/patients/{randomized.pk}/", "patient-timeline"),
            (f"/registration/patients/{randomized.pk}/certificate/", "certificate"),
            (f"/audit/patients/{randomized.pk}/", "audit-trail"),
            ("/calendar/", "calendar"), ("/reports/", "reports-site"),
            ("/exports/", "error-403"), ("/no-such-page/", "error-404"),
            ("/accounts/two-factor/", "two-factor"), ("/accounts/password/", "password-change")]
    eligible = tmdu.filter(stage="eligible").first()
    if eligible:
        site.append((f"/registration/patients/{eligible.pk}/primary/", "primary-registration"))
    if on_therapy:
        site.append((f"/registration/patients/{on_therapy.patient.pk}/evaluation/", "evaluation"))
        site.append((f"/registration/patients/{on_therapy.patient.pk}/secondary/", "secondary-registration"))
    if allocation:
        site.append((f"/randomization/patient/{allocation.patient.pk}/", "randomization-result"))
        site.append((f"/registration/patients/{allocation.patient.pk}/randomization-certificate/",
                     "randomization-certificate"))
    dm = [("/", "dm-home"), ("/screening/patients/", "dm-patients"), ("/reports/", "reports-consort"),
          ("/reports/not-randomized/", "not-randomized"), ("/exports/", "exports"),
          ("/exports/analysis/dictionary/", "data-dictionary"), ("/accounts/locked/", "locked-accounts"),
          ("/randomization/balance/", "balance"), (f"/audit/patients/{randomized.pk}/", "dm-audit-trail")]
    # Sites and consent (issue 17, docs/sites-and-consent.md): the pending demo site and the patient who
    # awaits re-consent.
    from oligami_site.models import Site

    dm += [("/sites/", "sites"), ("/screening/consent-documents/", "dm-consent-documents")]
    kyoto = Site.objects.filter(code="KYOTO").first()
    if kyoto:
        dm.append((f"/sites/{kyoto.pk}/", "site-pending"))
    awaiting = Patient.objects.filter(site__code="OKAYAMA", initials="FC").first()
    if awaiting:
        dm.append((f"/screening/patients/{awaiting.pk}/reconsent/", "reconsent"))
    site.append(("/screening/consent-documents/", "consent-documents"))
    stat = [("/", "stat-home"), ("/randomization/balance/", "stat-balance")]
    monitor = [("/", "monitor-home"), ("/screening/patients/", "monitor-patients")]
    visitor = [("/accounts/login/", "login"), ("/no-such-page/", "visitor-404")]
    return [("crc_tmdu", site), ("dm", dm), ("stat", stat), ("monitor", monitor), (None, visitor)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", default="", help="comma-separated page names (default: every page)")
    args = parser.parse_args(argv)
    only = {name for name in args.only.split(",") if name}
    out = args.out.resolve()
    tmp = tempfile.TemporaryDirectory(prefix="oligami-screenshots-")
    env = {**os.environ, "OLIGAMI_VAR_DIR": tmp.name, "OLIGAMI_DEMO_PASSWORD": PASSWORD,
           "DJANGO_SETTINGS_MODULE": "oligami_site.settings", "DJANGO_ALLOW_ASYNC_UNSAFE": "true"}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "OLIGAMI_ENV"):
        env.pop(name, None)
    os.environ.clear()
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], check=True, cwd=ROOT)
    subprocess.run([*manage, "seed_demo"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    port = free_port()
    server = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        import django

        django.setup()
        from playwright.sync_api import sync_playwright

        out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            for username, pages in pages_by_user():
                pages = [(url, name) for url, name in pages if not only or name in only]
                if not pages:
                    continue
                # One login per user (a one-time code cannot be used twice); sizes and languages switched in it.
                context = browser.new_context(base_url=f"http://127.0.0.1:{port}", timezone_id="Asia/Tokyo",
                                              locale="ja-JP", viewport=VIEWPORTS["1366"])
                page = context.new_page()
                if username:
                    log_in(page, username)
                for size, viewport in VIEWPORTS.items():
                    page.set_viewport_size(viewport)
                    for lang in LANGS:
                        if username:
                            switch_language(page, lang)
                        else:
                            context.set_extra_http_headers({"Accept-Language": lang})
                            context.clear_cookies()
                        for url, name in pages:
                            shoot(page, url, name, lang, size, out)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        tmp.cleanup()


if __name__ == "__main__":
    main()
