"""Putting wrong entries right in a real browser, in English and in Japanese (issue 15): a coordinator corrects
a date of birth entered wrong and sees P9 judged again; a data manager voids a mistaken response evaluation,
which then no longer counts, and the void is on the audit trail."""

import datetime as dt

import pytest
from django.utils import timezone

from registration.models import ResponseEvaluation
from screening.models import Patient
from tests.browser.conftest import log_in, pick, speaks, tr
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import JUDGED_ON, make_eligible_screening, make_plans, record, register

DAY = dt.timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_coordinator_corrects_a_date_of_birth(lang_page, lang, coordinator_a, site_a):
    page = lang_page
    speaks(coordinator_a, lang)
    patient = make_eligible_screening(site=site_a).patient
    log_in(page, "crc_a", PASSWORD)
    page.goto(f"/screening/patients/{patient.pk}/")
    page.locator("#correct-identity").click()
    page.locator("#id_birth_date").fill(dt.date(JUDGED_ON.year - 81, 1, 1).isoformat())  # 81: P9 not met
    page.get_by_label(tr(lang, "Reason for the correction")).fill("Birth year mistyped")
    page.locator("#save-correction").click()
    page.wait_for_url(f"**/screening/patients/{patient.pk}/")
    main = page.locator("main").inner_text()
    assert tr(lang, "Sex and date of birth corrected.") in main
    assert pick(lang, "P9 is now not met", "P9 は「満たさない」になりました") in main
    assert page.locator("#patient-stage").inner_text() == pick(lang, "Screen failed", "スクリーニング不適格")
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.SCREEN_FAILED


@pytest.mark.django_db(transaction=True)
def test_data_manager_voids_a_mistaken_evaluation(lang_page, lang, data_manager, coordinator_a, site_a):
    page = lang_page
    speaks(data_manager, lang)
    make_plans()
    minimization_config()
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 90 * DAY, courses_given=0)  # confirmed at the site: window missed
    log_in(page, "dm", PASSWORD)
    page.goto(f"/registration/patients/{patient.pk}/")
    missed = pick(lang, "Secondary registration window missed", "二次登録許容期間超過")
    assert page.locator("#patient-status").inner_text() == missed
    page.locator("#void-evaluation").click()
    page.get_by_label(tr(lang, "Reason for voiding")).fill("Entered before the imaging")
    page.locator("#confirm-void").click()
    page.wait_for_url(f"**/registration/patients/{patient.pk}/")
    assert page.locator("#voided-evaluation").is_visible()
    assert "Entered before the imaging" in page.locator("#voided-evaluation").inner_text()
    assert page.locator("#patient-status").inner_text() != missed  # no longer counts
    assert ResponseEvaluation.objects.get(patient=patient).voided
    page.locator("#audit-trail-link").click()
    page.wait_for_url(f"**/audit/patients/{patient.pk}/")
    assert "Entered before the imaging" in page.locator("main").inner_text()
