"""Issue 15's blockers walked in a real browser, English and Japanese: after randomization the patient page,
the worklist and the patient list show the allocated arm and lead to the result; the randomization
certificate prints (only the certificate on paper); the patient page's one next step leads on (primary
registration, response evaluation).

With OLIGAMI_SCREENSHOTS=1 the pages are saved under docs/screenshots/ at a laptop's 1366x768, as a user
first sees them (the arm must be visible without scrolling)."""

import datetime as dt
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from randomization.models import Allocation
from tests.browser.conftest import log_in, pick, speaks, tr
from tests.factories import PASSWORD
from tests.followup.factories import ORIGIN, randomized_patient
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, register

TOKYO = ZoneInfo("Asia/Tokyo")
TODAY = ORIGIN + dt.timedelta(days=5)  # five days after the randomization: "recently randomized"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}


def shot(page, name, lang):
    if os.environ.get("OLIGAMI_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{lang}.png"), full_page=False)


def arm_text(lang, arm):
    return tr(lang, "Arm %(arm)s") % {"arm": arm}


def no_english_words(page):
    """A Japanese page shows no English sentence: no run of three English words in the main content
    (codes like SITEA-S0001, OLG-0001, JST, ECOG are single tokens). The test's therapy plans are named in
    English (entered data, not the interface's words)."""
    text = page.locator("main").inner_text()
    found = [words for words in re.findall(r"[A-Za-z]{2,}(?:[ ,:]+[A-Za-z]{2,}){2,}", text)
             if not words.startswith("Test regimen")]
    assert not found, found


@pytest.mark.django_db(transaction=True)
def test_the_arm_after_randomization_and_the_certificate(lang_page, lang, coordinator_a, site_a):
    page = lang_page
    page.set_viewport_size(LAPTOP)
    speaks(coordinator_a, lang)
    make_plans()
    minimization_config()
    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(9, 30), tzinfo=TOKYO), tick=True):
        with translation.override(lang):  # signed in the coordinator's language, as on the pages
            patient = randomized_patient(site_a, coordinator_a)
        arm = Allocation.objects.get(patient=patient).arm
        treatment = tr(lang, "Systemic therapy alone" if arm == "A" else
                       "Systemic therapy + metastasis-directed therapy")
        log_in(page, "crc_a", PASSWORD)

        # The worklist: the patient left its stages, and is listed as recently randomized with her arm.
        page.goto("/")
        row = page.locator("#recently-randomized-table tr", has_text=patient.screening_number)
        assert row.get_attribute("data-arm") == arm
        assert arm_text(lang, arm) in row.inner_text() and treatment in row.inner_text()
        assert row.locator(".arm-badge").is_visible()
        page.locator("#recently-randomized").scroll_into_view_if_needed()
        shot(page, "worklist-randomized", lang)

        # The patient page: the arm beside her number and in its own block, above the fold.
        row.get_by_role("link", name=patient.screening_number).click()
        page.wait_for_url(f"**/registration/patients/{patient.pk}/")
        block = page.locator("#allocated-arm")
        assert block.get_attribute("data-arm") == arm and block.is_visible()
        assert block.bounding_box()["y"] + block.bounding_box()["height"] <= LAPTOP["height"]
        assert arm_text(lang, arm) in block.inner_text() and treatment in block.inner_text()
        assert page.locator("#arm-badge").inner_text() == arm_text(lang, arm)
        assert page.locator("#patient-status").inner_text() == pick(lang, "Randomized", "ランダム化済み")
        if lang == "ja":
            assert pick(lang, "", "割付群") in block.inner_text()
            no_english_words(page)
        shot(page, "patient-randomized", lang)

        # The result page from the patient page, and the certificate from the result page.
        page.locator("#randomization-result-link").click()
        page.wait_for_url(f"**/randomization/patient/{patient.pk}/")
        assert page.locator("[data-arm]").first.get_attribute("data-arm") == arm
        page.locator("#certificate-link").click()
        page.wait_for_url(f"**/registration/patients/{patient.pk}/randomization-certificate/")
        certificate = page.locator("#randomization-certificate")
        assert page.locator("#certificate-arm").get_attribute("data-arm") == arm
        assert arm_text(lang, arm) in certificate.inner_text() and treatment in certificate.inner_text()
        assert pick(lang, "OLIGAMI (JCOG2110) randomization certificate", "OLIGAMI（JCOG2110）ランダム化確認書") in \
            certificate.inner_text()
        assert coordinator_a.printed_name in certificate.inner_text() and tr(lang, "JST") in certificate.inner_text()
        assert page.locator("#registration-number").inner_text() == patient.primary_registration.number
        if lang == "ja":
            no_english_words(page)
        shot(page, "randomization-certificate", lang)

        # Printable: on paper only the certificate (no navigation, no buttons); the Print button calls print().
        page.evaluate("window.__printed = 0; window.print = () => { window.__printed += 1; }")
        page.locator("#print-certificate").click()
        assert page.evaluate("window.__printed") >= 1  # the print dialog was asked for
        page.emulate_media(media="print")
        assert certificate.is_visible() and not page.locator("nav").first.is_visible()
        assert not page.locator("#print-certificate").is_visible()
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(pdf) > 1000
        page.emulate_media(media="screen")

        # The patient list: the arm in its column, linking to the result.
        page.goto("/screening/patients/")
        badge = page.locator("#patient-table tr", has_text=patient.screening_number).locator(".arm-badge")
        assert badge.inner_text() == arm_text(lang, arm)
        if lang == "ja":
            no_english_words(page)
        shot(page, "patients-arm", lang)
        badge.click()
        page.wait_for_url(f"**/randomization/patient/{patient.pk}/")


@pytest.mark.django_db(transaction=True)
def test_the_next_step_button_leads_on(lang_page, lang, coordinator_a, site_a):
    page = lang_page
    page.set_viewport_size(LAPTOP)
    speaks(coordinator_a, lang)
    make_plans()
    minimization_config()
    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(9, 30), tzinfo=TOKYO), tick=True):
        eligible = make_eligible_screening(site=site_a, on=TODAY - dt.timedelta(days=1),
                                           labs_on=TODAY - dt.timedelta(days=3)).patient
        on_therapy = register(make_eligible_screening(site=site_a, on=TODAY - dt.timedelta(days=20)),
                              coordinator_a).patient
        log_in(page, "crc_a", PASSWORD)

        page.goto(f"/registration/patients/{eligible.pk}/")
        button = page.locator("#next-step")
        assert button.inner_text().startswith(tr(lang, "Register (primary)"))
        assert page.locator("a.btn-primary").count() == 1  # the one next step
        if lang == "ja":
            no_english_words(page)
        shot(page, "patient-next-step", lang)
        button.click()
        page.wait_for_url(f"**/registration/patients/{eligible.pk}/primary/")
        assert page.locator("#sign-primary").is_visible()

        page.goto(f"/registration/patients/{on_therapy.pk}/")
        button = page.locator("#next-step")
        assert button.inner_text().startswith(tr(lang, "Record response evaluation"))
        button.click()
        page.wait_for_url(f"**/registration/patients/{on_therapy.pk}/evaluation/")
        assert page.locator("#save-evaluation").is_visible()
