"""A coordinator takes an eligible patient (screening made by factory) through primary registration with
an electronic signature, the response evaluation and secondary registration, which randomizes at once and
ends on the result page.

The clock is moved with time-machine (ticking, so the app and the browser keep running): day 0 is
2026-03-02 (the date the factory's worked case is judged on), the evaluation and the secondary
registration happen on day 87. The session expires in between (two weeks), so the coordinator logs in again.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from registration.models import PrimaryRegistration, SecondaryRegistration
from screening.models import Patient
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.django_db(transaction=True)
def test_eligible_to_randomized(page, coordinator_a, site_a):
    make_plans()
    minimization_config()
    patient = make_eligible_screening(site=site_a).patient
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 30, tzinfo=TOKYO), tick=True) as clock:
        log_in(page, "crc_a", PASSWORD)
        # The worklist (home page) offers the primary registration.
        row = page.locator("tr", has_text=patient.screening_number)
        assert "Eligible, awaiting primary registration" in row.inner_text()
        row.get_by_role("link", name="Register (primary)").click()
        assert "All primary registration criteria are met today." in page.locator("#primary-verdict").inner_text()
        assert page.locator("#signature-meaning").inner_text() == (
            "I confirm this patient meets all primary registration criteria")
        page.get_by_label("Your password (electronic signature)").fill(PASSWORD)
        page.locator("#sign-primary").click()
        page.wait_for_url(f"**/registration/patients/{patient.pk}/certificate/")
        assert page.locator("#registration-number").inner_text() == "OLG-0001"
        assert "I confirm this patient meets all primary registration criteria" in page.content()

        clock.move_to(dt.datetime(2026, 5, 28, 10, 0, tzinfo=TOKYO))  # day 87
        page.goto(f"/registration/patients/{patient.pk}/")
        if "/accounts/login/" in page.url:
            log_in(page, "crc_a", PASSWORD)
            page.goto(f"/registration/patients/{patient.pk}/")
        assert page.locator("#patient-status").inner_text() == "Response evaluation due"
        assert page.locator("svg.timeline").count() == 1
        page.get_by_role("link", name="Record response evaluation").click()
        page.locator("#id_date").fill("2026-05-27")
        page.locator("#id_overall_response").select_option("PR")
        page.locator("#id_progression").select_option("no")
        page.locator("#id_new_distant_metastasis").select_option("no")
        page.locator("#id_remaining_lesions").fill("2")
        page.locator("#id_courses_given").fill("3")
        page.locator("#id_mdt_since_primary").select_option("no")
        page.locator("#id_ecog").select_option("0")
        for name, value in (("date", "2026-05-26"), ("anc", "2800"), ("hemoglobin", "11.8"), ("platelets", "210000"),
                            ("bilirubin", "0.6"), ("ast", "24"), ("alt", "20"), ("creatinine", "0.75")):
            page.locator(f"#id_labs-{name}").fill(value)
        page.locator("#save-evaluation").click()
        page.wait_for_url(f"**/registration/patients/{patient.pk}/")
        assert page.locator("#patient-status").inner_text() == "Secondary registration window open"

        page.get_by_role("link", name="Secondary registration").click()
        assert "All secondary registration criteria are met today." in page.locator(
            "#secondary-verdict").inner_text()
        assert page.locator("#window-dates").inner_text() == "2026-05-27 – 2026-06-24"
        page.get_by_label("Your password (electronic signature)").fill(PASSWORD)
        page.locator("#sign-secondary").click()
        # Secondary registration confirmed with the signature ends on the randomization result page.
        page.wait_for_url(f"**/randomization/patient/{patient.pk}/")
        arm = page.locator("[data-arm]").get_attribute("data-arm")
        assert arm in ("A", "B")
        assert "Secondary registration signed and the patient randomized." in page.content()
        page.goto(f"/registration/patients/{patient.pk}/")
        assert page.locator("#patient-status").inner_text() == "Randomized"
        assert "I confirm this patient meets all secondary registration criteria" in page.content()

    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.RANDOMIZED
    assert Patient.objects.get(pk=patient.pk).allocation.arm == arm
    assert PrimaryRegistration.objects.get().registration_date == dt.date(2026, 3, 2)
    assert SecondaryRegistration.objects.get().registration_date == dt.date(2026, 5, 28)
