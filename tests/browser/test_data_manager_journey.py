"""A data manager's day in a real browser, in English and in Japanese: the admin console, an export, the
reports (CONSORT diagram), the balance and a patient's audit trail, all reached through the pages' own links."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from registration import services
from tests.browser.conftest import log_in, menu, pick, speaks, tr
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

DAY = dt.timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_data_manager_journey(lang_page, lang, data_manager, coordinator_a, site_a):
    page = lang_page
    speaks(data_manager, lang)
    make_plans()
    minimization_config()
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    services.record_evaluation(
        patient=patient, data={"date": today - 2 * DAY, "overall_response": "PR", "progression": False,
                               "new_distant_metastasis": False, "remaining_lesions": 2, "courses_given": 3,
                               "mdt_since_primary": False, "ecog": 0},
        labs={"date": today - 2 * DAY, "anc": Decimal("3000"), "hemoglobin": Decimal("12.0"),
              "platelets": Decimal("220000"), "bilirubin": Decimal("0.6"), "ast": Decimal("20"),
              "alt": Decimal("20"), "creatinine": Decimal("1.30")},
        user=coordinator_a, reason="Creatinine re-measured")
    services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    number = patient.screening_number

    log_in(page, "dm", PASSWORD)
    assert page.locator("html").get_attribute("lang") == lang

    # The admin console: the patients list, searched by screening number, with the history of the record.
    menu(page, lang, "Data centre", "Admin console")
    page.get_by_role("link", name=tr(lang, "Patients")).first.click()
    page.locator("#searchbar").fill(number)
    page.locator("#changelist-search input[type=submit]").click()
    page.get_by_role("link", name=number).click()
    page.get_by_role("link", name=tr(lang, "History")).click()
    assert "randomized" in page.locator("#content").inner_text().lower()  # the stage change, as stored

    # An export: the lab panels, as a CSV download.
    page.goto("/")
    menu(page, lang, "Reports", "Exports")
    with page.expect_download() as download:
        page.get_by_role("link", name=tr(lang, "Lab panels")).click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("site,screening_number,registration_number,labs_id,date")
    assert number in csv_text and "1.30" in csv_text

    # The reports: the CONSORT diagram from live data.
    menu(page, lang, "Reports", "Accrual and CONSORT")
    diagram = page.locator("#consort-diagram")
    assert diagram.is_visible()
    assert pick(lang, "Randomized: n = 1", "ランダム化") in diagram.inner_html() and "n = 1" in diagram.inner_html()
    assert page.locator("#consort-total").inner_text() == "1"

    # The balance: the data manager's is the totals by arm (by site and factor is the statistician's, issue 13).
    menu(page, lang, "Reports", "Balance")
    page.wait_for_url("**/randomization/balance/")
    assert page.locator("#total-a").is_visible() and "SITEA" not in page.locator("#balance-table").inner_text()
    assert page.locator("#balance-chart").count() == 0
    if lang == "ja":
        assert "群間バランス" in page.locator("h1").inner_text()

    # The audit trail of the patient: who changed the creatinine, when and why.
    page.goto(f"/registration/patients/{patient.pk}/")
    page.locator("#audit-trail-link").click()
    page.wait_for_url(f"**/audit/patients/{patient.pk}/")
    page.locator("#trail-record").select_option("labpanel")
    page.get_by_role("button", name=tr(lang, "Show")).click()
    rows = page.locator("#audit-trail tbody tr")
    changed = rows.filter(has_text="Creatinine re-measured")
    assert changed.count() == 1
    text = changed.inner_text()
    assert pick(lang, "creatinine (mg/dL)", "クレアチニン（mg/dL）") + ": 0.80 → 1.30" in text
    assert coordinator_a.printed_name in text
    # The meaning is stored as a code and shown in the reader's language (issue 14), whoever signed.
    assert tr(lang, "I confirm this patient meets all secondary registration criteria") in page.locator(
        "#trail-signatures").inner_text()
