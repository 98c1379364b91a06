"""A data manager's day in a real browser: the admin console, an export, the reports (CONSORT diagram) and
a patient's audit trail, all reached through the pages' own links."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from registration import services
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

DAY = dt.timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_data_manager_journey(page, data_manager, coordinator_a, site_a):
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

    # The admin console: the patients list, searched by screening number, with the history of the record.
    page.get_by_role("link", name="Admin console").click()
    page.get_by_role("link", name="Patients").first.click()
    page.locator("#searchbar").fill(number)
    page.locator("#changelist-search input[type=submit]").click()
    page.get_by_role("link", name=number).click()
    page.get_by_role("link", name="History").click()
    assert "Randomized" in page.locator("#content").inner_text()

    # An export: the lab panels, as a CSV download.
    page.goto("/")
    page.get_by_role("link", name="Exports").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Lab panels").click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("site,screening_number,registration_number,labs_id,date")
    assert number in csv_text and "1.30" in csv_text

    # The reports: the CONSORT diagram from live data.
    page.get_by_role("link", name="Reports").click()
    diagram = page.locator("#consort-diagram")
    assert diagram.is_visible()
    assert "Randomized: n = 1" in diagram.inner_html()
    assert page.locator("#consort-total").inner_text() == "1"

    # The audit trail of the patient: who changed the creatinine, when and why.
    page.goto(f"/registration/patients/{patient.pk}/")
    page.locator("#audit-trail-link").click()
    page.wait_for_url(f"**/audit/patients/{patient.pk}/")
    page.locator("#trail-record").select_option("labpanel")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("#audit-trail tbody tr")
    changed = rows.filter(has_text="Creatinine re-measured")
    assert changed.count() == 1
    text = changed.inner_text()
    assert "creatinine (mg/dL): 0.80 → 1.30" in text and coordinator_a.printed_name in text
    assert "I confirm this patient meets all secondary registration criteria" in page.locator(
        "#trail-signatures").inner_text()
