"""Safety in a real browser, English and Japanese (issue 18): a coordinator records a Grade 4 adverse event
from the patient page, the site investigator signs the first expedited report from the worklist, and the
data manager acknowledges it from the SAE log."""

import datetime as dt

import pytest
from django.utils import timezone

from safety.models import AdverseEvent, ExpeditedReport
from tests.browser.conftest import log_in, log_out, pick, speaks, tr
from tests.factories import PASSWORD
from tests.followup.factories import ORIGIN
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_plans
from tests.safety.helpers import on_treatment


@pytest.fixture
def patient(site_a, coordinator_a):
    make_plans()
    minimization_config()
    return on_treatment(site_a, coordinator_a)


@pytest.mark.django_db(transaction=True)
def test_grade_4_event_first_report_signed_and_acknowledged(lang_page, lang, patient, coordinator_a, investigator_a,
                                                            data_manager):
    page = lang_page
    for user in (coordinator_a, investigator_a, data_manager):
        speaks(user, lang)

    # The coordinator records the Grade 4 event from the patient page.
    log_in(page, "crc_a", PASSWORD)
    page.goto(f"/registration/patients/{patient.pk}/")
    page.locator("#safety-link").click()
    page.locator("#add-event").click()
    page.wait_for_load_state()
    page.locator("#id_term").fill("Febrile neutropenia")
    page.locator("#id_grade").fill("4")
    page.locator("#id_onset_date").fill((ORIGIN + dt.timedelta(days=10)).isoformat())
    page.locator("#id_hospitalization_24h").check()
    page.locator("#id_causality").select_option("probable")
    page.locator("#id_action_taken").select_option("interrupted")
    aware = timezone.localtime() - dt.timedelta(hours=2)
    page.locator("#id_awareness").fill(aware.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#save-event").click()
    page.wait_for_url("**/safety/patients/*/events/*/")
    assert "R2b" in page.locator("#event-rule").inner_text()
    assert tr(lang, "First report") in page.locator("#event-deadlines").inner_text()
    assert page.locator("#sign-report").count() == 0  # a coordinator does not sign reports
    log_out(page, lang)

    # The investigator sees the deadline on the worklist and signs the first report.
    log_in(page, "pi_a", PASSWORD)
    deadlines = page.locator("#safety-deadlines")
    assert pick(lang, "Expedited safety reports", "緊急報告（安全性）") in deadlines.inner_text()
    deadlines.get_by_role("link", name=patient.screening_number).first.click()  # first and second deadline rows
    page.wait_for_url("**/safety/patients/*/events/*/")
    page.locator("#id_narrative").fill("Admitted with febrile neutropenia on day 10 of course 4; G-CSF given.")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#sign-report").click()
    page.wait_for_load_state()
    report = page.locator("#report-1")
    assert tr(lang, "First report") in report.inner_text() and investigator_a.printed_name in report.inner_text()
    assert page.locator("#event-deadlines").inner_text().count(tr(lang, "Second (detailed) report")) == 1
    log_out(page, lang)

    # The data manager acknowledges it from the SAE log.
    log_in(page, "dm", PASSWORD)
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
        toggler.click()
    page.locator("#nav-sae-log").click()
    page.wait_for_url("**/safety/log/")
    page.locator("#log-table").get_by_role("link", name=patient.screening_number).click()
    page.wait_for_url("**/safety/patients/*/events/*/")
    page.locator("#report-1 textarea").fill("Received. Please send the blood counts with the second report.")
    page.locator("#report-1 .acknowledge").click()
    page.wait_for_load_state()
    assert pick(lang, "Acknowledged by the study office", "研究事務局が受領確認") in page.locator(
        "#report-1").inner_text()
    report = ExpeditedReport.objects.get(adverse_event=AdverseEvent.objects.get())
    assert report.acknowledged_by == data_manager and report.signature.user == investigator_a
