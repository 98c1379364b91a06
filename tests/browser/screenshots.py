"""`make screenshots`: every page, at a laptop's and a tablet's size, in English and Japanese, into var/screenshots/.

Starts the app on a throw-away SQLite in a temporary OLIGAMI_VAR_DIR (`migrate` + `seed_demo`), serves it
with `runserver --noreload` on a free loopback port, and drives Debian's Chromium (/usr/bin/chromium, never a
browser download) through Playwright as each role sees the app: the coordinator crc_tmdu for the site pages,
the data manager dm (enrolling the authenticator app through the real TOTP pages) for the trial-wide pages,
the statistician stat, the monitor, and a visitor who is not logged in (login, lockout, error pages).

Files are named `<page>-<lang>-<width>.png` (1366 = laptop 1366x768, 768 = tablet 768x1024), viewport only
(what a user sees first; a page that overflows sideways shows it). var/ is not committed: look at the shots
there. `--after DIR` (`make screenshots-after`) also copies the curated set of issue 20's pages (CURATED) into
DIR, docs/screenshots/after/ beside docs/screenshots/before/ (docs/screenshots/README.md pairs them). Run:
`.venv/bin/python -m tests.browser.screenshots [--out DIR] [--only NAME,NAME] [--after DIR]`.
A page whose shot fails (a demo record missing) is reported and the others go on; the run then exits 1.
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
OUT = ROOT / "var" / "screenshots"
AFTER = ROOT / "docs" / "screenshots" / "after"
# The pages issue 20 names, before and after (docs/screenshots/README.md): the navigation bar (its menu opened),
# the patient list with a search, the data manager's home, the screening entry with its lesion table, the error
# pages, the reports (CONSORT and accrual) and the patient's timeline; and the certificate and audit trail of the
# "before" set (Japanese everywhere).
CURATED = ("nav-menu", "dm-nav-menu", "patients-search", "dm-home", "screening-edit", "error-403", "error-404",
           "reports-consort", "reports-accrual", "patient-timeline", "certificate", "dm-audit-trail")
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
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from oligami_site import two_factor
    from oligami_site.models import User
    from tests.factories import totp_token

    user = User.objects.get(username=username)
    device = None
    if two_factor.required_for(user):
        # The demo's trial-wide roles enrol through a link in their mailbox (oligami_site.two_factor); the
        # screenshots give them a confirmed authenticator directly (set-up only) and type its current code.
        device = (TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()
                  or TOTPDevice.objects.create(user=user, name="Screenshots", confirmed=True))
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    if device is not None:
        page.locator("#id_token").fill(totp_token(device))
        page.locator("#submit-token").click()
        page.wait_for_load_state()


def switch_language(page, lang):
    page.goto("/accounts/password/")
    page.select_option("#language-select", lang)
    page.locator("footer button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == lang, page.url


def open_menu(page, size):
    """The navigation bar with its Reports menu open (on a tablet: the collapsed bar opened first)."""
    if size == "768":
        page.locator(".navbar-toggler").click()
        page.locator("#mainnav.show").wait_for()
    page.locator("#nav-reports").click()
    page.locator("#nav-reports + .dropdown-menu.show").wait_for()


def scroll_to(selector):
    """Scroll the element to the top of the viewport (less a little, for its heading)."""
    def action(page, size):
        page.locator(selector).first.evaluate(
            "e => { e.scrollIntoView({block: 'start', behavior: 'instant'});"
            " window.scrollBy({top: -90, behavior: 'instant'}); }")
    return action


def shoot(page, url, name, lang, size, out, action=None):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if action is not None:
        action(page, size)
    path = out / f"{name}-{lang}-{size}.png"
    page.screenshot(path=str(path), full_page=False)
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KB")


def pages_by_user():
    """(username or None for a visitor, [(url, name[, action])]) from the demo data: one patient at each step."""
    from followup.models import Death, FollowupSurvey
    from oligami_site.models import Site
    from oversight.models import Cutoff, DataQuery, Deviation
    from randomization.models import Allocation
    from registration.models import PrimaryRegistration
    from safety.models import AdverseEvent
    from screening.models import Patient, Screening

    tmdu = Patient.objects.filter(site__code="TMDU")
    allocation = Allocation.objects.select_related("patient").filter(patient__site__code="TMDU").first()
    screening = Screening.objects.filter(patient__site__code="TMDU", outcome="eligible").latest("id")
    registered = PrimaryRegistration.objects.filter(patient__site__code="TMDU").select_related("patient")
    on_therapy = registered.filter(patient__stage__in=["registered"]).first()
    unscreened = tmdu.filter(stage="screening").first() or tmdu.first()
    randomized = allocation.patient if allocation else screening.patient
    found = tmdu.exclude(initials="").first()
    # A screening the site may still edit (before primary registration), with lesions: its lesion table.
    latest = [p.screenings.order_by("-number").first() for p in tmdu.filter(
        stage__in=["screening", "eligible", "screen_failed"]).order_by("sequence")]
    editable = next((s for s in latest if s is not None and s.lesions.exists()), screening)
    site = [("/", "worklist"), ("/screening/patients/", "patients"),
            (f"/screening/patients/?q={found.initials if found else 'S0001'}", "patients-search"),
            ("/", "nav-menu", open_menu),
            ("/screening/patients/new/", "patient-new"),
            (f"/screening/patients/{unscreened.pk}/", "patient-detail"),
            (f"/screening/patients/{unscreened.pk}/screening/new/", "screening-entry"),
            (f"/screening/screenings/{editable.pk}/edit/", "screening-edit", scroll_to("#lesion-table")),
            (f"/screening/screenings/{screening.pk}/", "checklist"),
            (f"/screening/patients/{unscreened.pk}/correct/", "patient-correct"),
            ("/screening/log/", "screening-log"),
            (f"/registration/patients/{randomized.pk}/", "patient-timeline", scroll_to(".timeline-figure")),
            (f"/registration/patients/{randomized.pk}/", "patient-page"),
            (f"/registration/patients/{randomized.pk}/certificate/", "certificate"),
            (f"/audit/patients/{randomized.pk}/", "audit-trail"),
            ("/calendar/", "calendar"), ("/reports/", "reports-site"),
            ("/exports/", "error-403"), ("/no-such-page/", "error-404"),
            ("/accounts/two-factor/", "two-factor"), ("/accounts/password/", "password-change"),
            ("/queries/", "queries"), ("/deviations/", "deviations"), ("/deviations/new/", "deviation-new"),
            ("/monitoring/", "monitoring"), ("/safety/log/", "sae-log"), ("/safety/frequency/", "ae-frequency"),
            ("/followup/curves/", "curves"), ("/followup/surveys/", "surveys"),
            (f"/followup/patients/{randomized.pk}/", "followup"),
            (f"/followup/patients/{randomized.pk}/course/", "followup-course"),
            (f"/followup/patients/{randomized.pk}/mdt/", "followup-mdt"),
            (f"/followup/patients/{randomized.pk}/assessment/", "followup-assessment"),
            (f"/followup/patients/{randomized.pk}/alive/", "followup-alive"),
            (f"/followup/patients/{randomized.pk}/death/", "followup-death"),
            (f"/followup/patients/{randomized.pk}/withdrawal/", "followup-withdrawal"),
            (f"/followup/patients/{randomized.pk}/contamination/", "followup-contamination"),
            (f"/safety/patients/{randomized.pk}/", "safety-events"),
            (f"/safety/patients/{randomized.pk}/new/", "safety-event-new")]
    eligible = tmdu.filter(stage="eligible").first()
    if eligible:
        site.append((f"/registration/patients/{eligible.pk}/primary/", "primary-registration"))
    if on_therapy:
        site.append((f"/registration/patients/{on_therapy.patient.pk}/evaluation/", "evaluation"))
        site.append((f"/registration/patients/{on_therapy.patient.pk}/secondary/", "secondary-registration"))
        site.append((f"/registration/patients/{on_therapy.patient.pk}/off-study/", "off-study"))
    if allocation:
        site.append((f"/randomization/patient/{allocation.patient.pk}/", "randomization-result"))
        site.append((f"/registration/patients/{allocation.patient.pk}/randomization-certificate/",
                     "randomization-certificate"))
    event = AdverseEvent.objects.filter(patient__site__code="TMDU").order_by("-pk").first()
    if event:
        site.append((f"/safety/patients/{event.patient_id}/events/{event.pk}/", "safety-event"))
        site.append((f"/safety/patients/{event.patient_id}/events/{event.pk}/report/", "safety-report-sign"))
    death = Death.objects.filter(patient__site__code="TMDU").first()
    if death:
        site.append((f"/safety/patients/{death.patient_id}/death/", "safety-death-assessment"))
    query = DataQuery.objects.filter(patient__site__code="TMDU").first()
    if query:
        site.append((f"/queries/{query.pk}/", "query"))
    deviation = Deviation.objects.filter(patient__site__code="TMDU").first()
    if deviation:
        site.append((f"/deviations/{deviation.pk}/", "deviation"))
    dm = [("/", "dm-home"), ("/", "dm-nav-menu", open_menu), ("/screening/patients/", "dm-patients"),
          ("/reports/", "reports-consort"), ("/reports/", "reports-accrual", scroll_to("#accrual")),
          ("/reports/not-randomized/", "not-randomized"), ("/exports/", "exports"),
          ("/exports/analysis/dictionary/", "data-dictionary"), ("/accounts/locked/", "locked-accounts"),
          ("/randomization/balance/", "balance"), (f"/audit/patients/{randomized.pk}/", "dm-audit-trail"),
          ("/audit/search/", "audit-search"), ("/queries/", "dm-queries"), ("/cutoffs/", "cutoffs"),
          ("/monitoring/", "dm-monitoring"), ("/safety/log/", "dm-sae-log"), ("/followup/surveys/", "dm-surveys"),
          (f"/queries/patients/{randomized.pk}/new/", "query-new")]  # (consent-documents/add/ is POST only)
    survey = FollowupSurvey.objects.order_by("-pk").first()
    if survey:
        dm.append((f"/followup/surveys/{survey.pk}/", "survey"))
        dm.append((f"/followup/surveys/{survey.pk}/patients/{randomized.pk}/", "survey-entry"))
    cutoff = Cutoff.objects.order_by("-pk").first()
    if cutoff:
        dm.append((f"/cutoffs/{cutoff.pk}/", "cutoff"))
    if on_therapy:
        dm.append((f"/registration/patients/{on_therapy.patient.pk}/evaluation/void/", "evaluation-void"))
    # Sites and consent (issue 17, docs/sites-and-consent.md): the pending demo site and the patient who
    # awaits re-consent.
    dm += [("/sites/", "sites"), ("/screening/consent-documents/", "dm-consent-documents")]
    kyoto = Site.objects.filter(code="KYOTO").first()
    if kyoto:
        dm.append((f"/sites/{kyoto.pk}/", "site-pending"))
    tmdu_site = Site.objects.filter(code="TMDU").first()
    if tmdu_site:
        dm.append((f"/sites/{tmdu_site.pk}/", "site-open"))
    awaiting = Patient.objects.filter(site__code="OKAYAMA", initials="FC").first()
    if awaiting:
        dm.append((f"/screening/patients/{awaiting.pk}/reconsent/", "reconsent"))
    site.append(("/screening/consent-documents/", "consent-documents"))
    stat = [("/", "stat-home"), ("/randomization/balance/", "stat-balance"), ("/followup/curves/", "stat-curves"),
            ("/reports/", "stat-reports"), ("/safety/frequency/", "stat-ae-frequency")]
    monitor = [("/", "monitor-home"), ("/screening/patients/", "monitor-patients"),
               (f"/audit/patients/{randomized.pk}/", "monitor-audit-trail")]
    visitor = [("/accounts/login/", "login"), ("/no-such-page/", "visitor-404"),
               ("/accounts/password-reset/", "password-reset"), ("/accounts/password-reset/sent/",
                                                                  "password-reset-sent")]
    return [("crc_tmdu", site), ("dm", dm), ("stat", stat), ("monitor", monitor), (None, visitor)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", default="", help="comma-separated page names (default: every page)")
    parser.add_argument("--after", type=Path, default=None,
                        help=f"also copy the curated set ({', '.join(CURATED)}) into this folder")
    args = parser.parse_args(argv)
    only = {name for name in args.only.split(",") if name}
    out = args.out.resolve()
    tmp = tempfile.TemporaryDirectory(prefix="oligami-screenshots-")
    # DEBUG off: the error pages as users see them (not Django's debug 404); static files still come from the
    # apps (WHITENOISE_USE_FINDERS outside production).
    env = {**os.environ, "OLIGAMI_VAR_DIR": tmp.name, "OLIGAMI_DEMO_PASSWORD": PASSWORD, "DEBUG": "False",
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
        failures = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            for username, pages in pages_by_user():
                pages = [entry for entry in pages if not only or entry[1] in only]
                if not pages:
                    continue
                # One login per user (a one-time code cannot be used twice); sizes and languages switched in it.
                context = browser.new_context(base_url=f"http://127.0.0.1:{port}", timezone_id="Asia/Tokyo",
                                              locale="ja-JP", viewport=VIEWPORTS["1366"],
                                              reduced_motion="reduce")  # Bootstrap's smooth scrolling off
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
                        for url, name, *action in pages:
                            for attempt in (1, 2):  # once more when a late navigation interrupted it
                                try:
                                    shoot(page, url, name, lang, size, out, *action)
                                    break
                                except Exception as exc:  # a missing demo record or a changed page: say so
                                    if attempt == 2:
                                        failures.append(f"{name}-{lang}-{size}: {exc}".splitlines()[0])
                                        print(f"  FAILED {name}-{lang}-{size}: {exc}".splitlines()[0])
                context.close()
            browser.close()
        if args.after is not None:
            copy_curated(out, args.after.resolve())
    finally:
        server.terminate()
        server.wait(timeout=10)
        tmp.cleanup()
    if failures:
        raise SystemExit(f"{len(failures)} shots failed:\n" + "\n".join(failures))


def copy_curated(out: Path, after: Path):
    import shutil

    after.mkdir(parents=True, exist_ok=True)
    for name in CURATED:
        for lang in LANGS:
            for size in VIEWPORTS:
                source = out / f"{name}-{lang}-{size}.png"
                if source.exists():
                    shutil.copy2(source, after / source.name)
    total = sum(f.stat().st_size for f in after.glob("*.png"))
    print(f"curated set in {after}: {total // 1024} KB")


if __name__ == "__main__":
    main()
