"""The randomization result page and the balance report in a real browser (English and Japanese): the
site's own patient's arm, no arm counts for the site, totals for data managers, all for the statistician."""

import pytest

from randomization import services
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config, ready_patient


@pytest.mark.django_db(transaction=True)
def test_site_opens_the_result(page, coordinator_a, investigator_a, site_a):
    minimization_config()
    patient = ready_patient(site_a)
    record = services.randomize(patient=patient, factors={"subtype": "her2", "lesions": "2-3"}, user=investigator_a)

    log_in(page, "crc_a", PASSWORD)
    page.goto(f"/randomization/patient/{patient.pk}/")
    assert page.locator("h1").inner_text() == f"Randomization of {patient.screening_number}"
    result = page.locator("#allocation-result")
    assert f"Arm {record.arm}" in result.inner_text()
    assert "JST" in result.inner_text()
    assert investigator_a.printed_name in page.locator("#signature").inner_text()
    steps = page.locator("#next-steps").inner_text()
    assert "systemic therapy alone" in steps and "radiation or surgery" in steps
    assert "this patient" in page.locator("#next-steps .border-primary").inner_text()

    # No arm counts for site staff (issue 13): no balance link, and the page itself is not found.
    assert page.get_by_role("link", name="Balance").count() == 0
    assert page.goto("/randomization/balance/").status == 404


@pytest.mark.django_db(transaction=True)
def test_statistician_sees_the_balance_of_every_factor_in_japanese(page_ja, statistician, coordinator_a, site_a):
    minimization_config()
    services.randomize(patient=ready_patient(site_a), factors={"subtype": "luminal", "lesions": "1"},
                       user=coordinator_a)
    statistician.preferred_language = "ja"  # a signed-in user's profile decides the language
    statistician.save()
    log_in(page_ja, "stat", PASSWORD)
    page_ja.goto("/randomization/balance/")
    table = page_ja.locator("#balance-table").inner_text()
    assert page_ja.locator("html").get_attribute("lang") == "ja"
    assert "SITEA" in table and "2-3" in table  # site, subtype and lesion rows: the statistician's (issue 13)
    assert page_ja.locator("#balance-chart rect").count() >= 2 * 6


@pytest.mark.django_db(transaction=True)
def test_data_manager_sees_the_totals_by_arm_only(page, data_manager, coordinator_a, site_a):
    minimization_config()
    record = services.randomize(patient=ready_patient(site_a), factors={"subtype": "luminal", "lesions": "1"},
                                user=coordinator_a)
    log_in(page, "dm", PASSWORD)
    page.goto("/randomization/balance/")
    assert page.locator("#total-a").inner_text() == ("1" if record.arm == "A" else "0")
    assert "SITEA" not in page.locator("#balance-table").inner_text()
    assert page.locator("#balance-chart").count() == 0
