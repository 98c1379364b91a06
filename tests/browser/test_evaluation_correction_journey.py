"""A mistyped evaluation is no trap (issue 15), in a real browser, in English and in Japanese: a coordinator
records the evaluation on the day of primary registration with no course given, is warned before it is saved,
confirms it (as a hurried coordinator would), sees the patient shown as "window missed", corrects the date and
the courses with a reason, and the patient is back in the secondary registration window; the audit trail
shows the correction with its reason."""

import datetime as dt

import pytest
from django.utils import timezone

from registration.models import ResponseEvaluation
from tests.browser.conftest import log_in, pick, speaks, tr
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record_courses, register

DAY = dt.timedelta(days=1)


def fill_evaluation(page, on: dt.date):
    page.locator("#id_date").fill(on.isoformat())
    page.locator("#id_overall_response").select_option("PR")
    page.locator("#id_progression").select_option("no")
    page.locator("#id_new_distant_metastasis").select_option("no")
    page.locator("#id_remaining_lesions").fill("2")
    page.locator("#id_mdt_since_primary").select_option("no")
    page.locator("#id_ecog").select_option("0")
    for name, value in (("date", on.isoformat()), ("anc", "2800"), ("hemoglobin", "11.8"), ("platelets", "210000"),
                        ("bilirubin", "0.6"), ("ast", "24"), ("alt", "20"), ("creatinine", "0.75")):
        page.locator(f"#id_labs-{name}").fill(value)


@pytest.mark.django_db(transaction=True)
def test_too_early_evaluation_is_warned_then_corrected(lang_page, lang, coordinator_a, site_a):
    page = lang_page
    speaks(coordinator_a, lang)
    make_plans()
    minimization_config()
    today = timezone.localdate()
    primary_date = today - 90 * DAY  # luminal: 3 courses of 28 days planned
    patient = register(make_eligible_screening(site=site_a, on=primary_date), coordinator_a).patient

    log_in(page, "crc_a", PASSWORD)
    page.goto(f"/registration/patients/{patient.pk}/")
    page.get_by_role("link", name=tr(lang, "Record response evaluation")).click()
    # The page says which day is the earliest useful one before anything is typed.
    assert (primary_date + 56 * DAY).isoformat() in page.locator("main").inner_text()

    # Mistyped: dated the day of primary registration, 0 courses given. Warned, nothing saved.
    fill_evaluation(page, primary_date)  # no course recorded yet
    page.locator("#save-evaluation").click()
    warnings = page.locator("#evaluation-warnings")
    warnings.wait_for()
    assert warnings.locator("[data-warning=too_early]").count() == 1
    assert warnings.locator("[data-warning=fewer_courses]").count() == 1
    assert pick(lang, "before day 56", "56 日目より前") in warnings.inner_text()
    assert not ResponseEvaluation.objects.filter(patient=patient).exists()

    # Confirmed anyway: saved, and the patient is shown as "window missed".
    page.get_by_label(tr(lang, "I confirm: save the evaluation as entered")).check()
    page.locator("#save-evaluation").click()
    page.wait_for_url(f"**/registration/patients/{patient.pk}/")
    assert page.locator("#patient-status").inner_text() == pick(
        lang, "Secondary registration window missed", "二次登録許容期間超過")

    # The correction: the real date (today, day 90), with a reason, once the courses are recorded (S1 reads them,
    # issue 16); no warning left.
    record_courses(patient, coordinator_a, 3, today)
    page.get_by_role("link", name=tr(lang, "Correct response evaluation")).click()
    fill_evaluation(page, today)
    page.get_by_label(tr(lang, "Reason for the change")).fill("Date and courses mistyped")
    page.locator("#save-evaluation").click()
    page.wait_for_url(f"**/registration/patients/{patient.pk}/")
    assert page.locator("#patient-status").inner_text() == pick(
        lang, "Secondary registration window open", "二次登録許容期間中")
    evaluation = ResponseEvaluation.objects.get(patient=patient)
    assert evaluation.date == today
    assert page.locator("#evaluation-courses").inner_text() == "3 / 3"

    # The audit trail names the correction and its reason.
    page.locator("#audit-trail-link").click()
    page.wait_for_url(f"**/audit/patients/{patient.pk}/")
    assert "Date and courses mistyped" in page.locator("main").inner_text()
    if lang == "ja":
        assert "監査証跡" in page.locator("main").inner_text()
