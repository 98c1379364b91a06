"""`make screenshots`: a small PNG of each main page, in English and Japanese, into docs/screenshots/.

Starts the app on a throw-away SQLite in a temporary OLIGAMI_VAR_DIR (`migrate` + `seed_demo`), serves it
with `runserver --noreload` on a free loopback port, and drives Debian's Chromium (/usr/bin/chromium, never a
browser download) through Playwright: the coordinator crc_tmdu for the site pages, the data manager dm
(enrolling the authenticator app through the real TOTP pages) for the reports. Run:
`.venv/bin/python -m tests.browser.screenshots`.
"""

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
VIEWPORT = {"width": 1280, "height": 800}


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
    if "/accounts/two-factor/" in page.url:  # the data manager: enrol (first time) or verify, with a real code
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from tests.factories import totp_token

        device = TOTPDevice.objects.filter(user__username=username).latest("id")
        page.locator("#id_token").fill(totp_token(device))
        page.locator("#submit-token").click()
        page.wait_for_load_state()


def switch_language(page, lang):
    page.select_option("#language-select", lang)
    page.locator("footer button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == lang, page.url


def shoot(page, url, name, lang):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    path = OUT / f"{name}-{lang}.png"
    page.screenshot(path=str(path), full_page=False)
    print(f"  {path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")


def main():
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
        from randomization.models import Allocation
        from screening.models import Screening

        allocation = Allocation.objects.select_related("patient").filter(patient__site__code="TMDU").first()
        screening = Screening.objects.filter(patient__site__code="TMDU", outcome="eligible").latest("id")
        timeline = allocation.patient if allocation else screening.patient
        site_pages = [("/", "worklist"), ("/screening/patients/", "patients"),
                      (f"/screening/screenings/{screening.pk}/", "checklist"),
                      (f"/registration/patients/{timeline.pk}/", "patient-timeline")]
        if allocation:
            site_pages.append((f"/randomization/patient/{allocation.patient.pk}/", "randomization-result"))
        dm_pages = [("/reports/", "reports-consort"), ("/randomization/balance/", "balance")]

        from playwright.sync_api import sync_playwright

        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            for username, pages in (("crc_tmdu", site_pages), ("dm", dm_pages)):
                context = browser.new_context(viewport=VIEWPORT, base_url=f"http://127.0.0.1:{port}",
                                              timezone_id="Asia/Tokyo", locale="ja-JP")
                page = context.new_page()
                log_in(page, username)
                for lang in ("en", "ja"):
                    switch_language(page, lang)
                    for url, name in pages:
                        shoot(page, url, name, lang)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        tmp.cleanup()


if __name__ == "__main__":
    main()
