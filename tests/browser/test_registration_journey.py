"""The coordinator journey end to end, in English and in Japanese: log in, new patient, screening, the
checklist, primary registration with an electronic signature, the response evaluation, secondary
registration (which randomizes at once), the result page and the patient's audit trail.

The clock is moved with time-machine (ticking, so the app and the browser keep running): day 0 is
2026-03-02 (the date the worked case of `eligible_inputs` is judged on), the evaluation and the secondary
registration happen on day 87. The session expires in between, so the coordinator logs in again.
"""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine

from registration.models import PrimaryRegistration, SecondaryRegistration
from screening.models import Patient
from tests.browser.conftest import log_in, pick, speaks, tr
from tests.browser.test_screening_journey import fill_screening
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_plans, record_courses
from tests.screening.factories import eligible_inputs

TOKYO = ZoneInfo("Asia/Tokyo")
PRIMARY_MEANING = "I confirm this patient meets all primary registration criteria"
SECONDARY_MEANING = "I confirm this patient meets all secondary registration criteria"


def fill_evaluation(page):
    page.locator("#id_date").fill("2026-05-27")
    page.locator("#id_overall_response").select_option("PR")
    page.locator("#id_progression").select_option("no")
    page.locator("#id_new_distant_metastasis").select_option("no")
    page.locator("#id_remaining_lesions").fill("2")
    page.locator("#id_mdt_since_primary").select_option("no")
    page.locator("#id_ecog").select_option("0")
    for name, value in (("date", "2026-05-26"), ("anc", "2800"), ("hemoglobin", "11.8"), ("platelets", "210000"),
                        ("bilirubin", "0.6"), ("ast", "24"), ("alt", "20"), ("creatinine", "0.75")):
        page.locator(f"#id_labs-{name}").fill(value)


@pytest.mark.django_db(transaction=True)
def test_coordinator_journey(lang_page, lang, coordinator_a, site_a):
    page = lang_page
    speaks(coordinator_a, lang)
    make_plans()
    minimization_config()
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 30, tzinfo=TOKYO), tick=True) as clock:
        log_in(page, "crc_a", PASSWORD)
        assert page.locator("html").get_attribute("lang") == lang

        # New patient and screening: the checklist is all met, with the eligible banner.
        page.get_by_role("link", name=tr(lang, "Patients"), exact=True).first.click()
        page.get_by_role("link", name=tr(lang, "New patient")).click()
        page.check("input[name='sex'][value='female']")
        page.fill("#id_birth_date", "1968-07-15")
        page.click("#create-patient")
        page.wait_for_url(re.compile(r"/screening/patients/\d+/$"))
        number = "SITEA-S0001"
        assert number in page.locator("h1").inner_text()
        page.click("#start-screening")
        fill_screening(page, *eligible_inputs())
        page.click("#save-check")
        page.wait_for_url("**/screening/screenings/*/")
        banner = page.locator("#eligible-banner").inner_text()
        assert pick(lang, "Eligible for primary registration", "一次登録の適格") in banner
        statuses = page.locator("tr.criterion").evaluate_all("rows => rows.map(r => r.dataset.status)")
        assert len(statuses) == 31 and set(statuses) == {"met"}
        patient = Patient.objects.get(screening_number=number)

        # The worklist (home page) offers the primary registration; signing needs the password again.
        page.goto("/")
        row = page.locator("tr", has_text=number)
        assert pick(lang, "Eligible, awaiting primary registration", "適格（一次登録待ち）") in row.inner_text()
        row.get_by_role("link", name=tr(lang, "Register (primary)")).click()
        assert tr(lang, "All primary registration criteria are met today.") in page.locator(
            "#primary-verdict").inner_text()
        assert page.locator("#signature-meaning").inner_text() == tr(lang, PRIMARY_MEANING)
        if lang == "ja":
            assert "一次登録" in page.locator("main").inner_text()
        page.get_by_label(tr(lang, "Your password (electronic signature)")).fill(PASSWORD)
        page.locator("#sign-primary").click()
        page.wait_for_url(f"**/registration/patients/{patient.pk}/certificate/")
        assert page.locator("#registration-number").inner_text() == "OLG-0001"
        assert tr(lang, PRIMARY_MEANING) in page.content()

        # Day 87: the response evaluation opens the secondary registration window.
        clock.move_to(dt.datetime(2026, 5, 28, 10, 0, tzinfo=TOKYO))
        record_courses(patient, coordinator_a, 3, dt.date(2026, 5, 27))  # S1 reads the recorded courses (issue 16)
        page.goto(f"/registration/patients/{patient.pk}/")
        if "/accounts/login/" in page.url:
            log_in(page, "crc_a", PASSWORD)
            page.goto(f"/registration/patients/{patient.pk}/")
        assert page.locator("#patient-status").inner_text() == pick(lang, "Response evaluation due", "効果判定時期")
        assert page.locator("svg.timeline").count() == 1
        page.get_by_role("link", name=tr(lang, "Record response evaluation")).click()
        fill_evaluation(page)
        page.locator("#save-evaluation").click()
        page.wait_for_url(f"**/registration/patients/{patient.pk}/")
        assert page.locator("#patient-status").inner_text() == pick(
            lang, "Secondary registration window open", "二次登録許容期間中")

        # Secondary registration, signed, randomizes at once and ends on the result page.
        page.locator("#next-step").click()  # the patient page's one next step: secondary registration
        assert tr(lang, "All secondary registration criteria are met today.") in page.locator(
            "#secondary-verdict").inner_text()
        if lang == "ja":
            assert "二次登録" in page.locator("h1").inner_text()
        assert page.locator("#window-dates").inner_text() == "2026-05-27 – 2026-06-24"
        page.get_by_label(tr(lang, "Your password (electronic signature)")).fill(PASSWORD)
        page.locator("#sign-secondary").click()
        page.wait_for_url(f"**/randomization/patient/{patient.pk}/")
        arm = page.locator("[data-arm]").get_attribute("data-arm")
        assert arm in ("A", "B")
        assert pick(lang, "Secondary registration signed and the patient randomized.",
                    "二次登録に署名し、患者をランダム化しました。") in page.content()
        page.goto(f"/registration/patients/{patient.pk}/")
        assert page.locator("#patient-status").inner_text() == pick(lang, "Randomized", "ランダム化済み")

        # The audit trail shows both signatures with their meaning.
        page.locator("#audit-trail-link").click()
        page.wait_for_url(f"**/audit/patients/{patient.pk}/")
        signatures = page.locator("#trail-signatures").inner_text()
        assert tr(lang, PRIMARY_MEANING) in signatures and tr(lang, SECONDARY_MEANING) in signatures
        if lang == "ja":
            assert "監査証跡" in page.locator("main").inner_text()

    patient.refresh_from_db()
    assert patient.stage == Patient.Stage.RANDOMIZED and patient.allocation.arm == arm
    assert PrimaryRegistration.objects.get().registration_date == dt.date(2026, 3, 2)
    assert SecondaryRegistration.objects.get().registration_date == dt.date(2026, 5, 28)
