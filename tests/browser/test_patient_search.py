"""Find a patient in a real browser, in both languages: from the navigation bar (a single hit opens her page;
on a tablet the box sits in the collapsed menu) and on the patient list (registration number and arm shown)."""

import datetime as dt

import pytest
from django.utils import timezone

from registration import services as registration_services
from tests.browser.conftest import log_in, speaks, tr
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

DAY = dt.timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_find_a_patient_from_the_bar_and_the_list(lang_page, lang, coordinator_a, site_a):
    page = lang_page
    speaks(coordinator_a, lang)
    make_plans()
    minimization_config()
    today = timezone.localdate()
    randomized = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(randomized, coordinator_a, today - 2 * DAY, courses_given=3)
    registration_services.register_secondary(patient=randomized, user=coordinator_a, password=PASSWORD)
    registered = register(make_eligible_screening(site=site_a, on=today - 20 * DAY), coordinator_a).patient
    randomized.refresh_from_db()
    number = registered.primary_registration.number

    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, "crc_a", PASSWORD)
    # The bar: a registration number opens that patient's page at once.
    page.locator("#nav-search").fill(number)
    page.locator("#nav-search").press("Enter")
    page.wait_for_url(f"**/screening/patients/{registered.pk}/")
    # The list: both patients for the site code, with registration numbers and the arm of the randomized one.
    page.locator("#nav-search").fill(site_a.code)
    page.locator("#nav-search").press("Enter")
    page.wait_for_url("**/screening/patients/?*")
    table = page.locator("#patient-table")
    assert number in table.inner_text() and randomized.primary_registration.number in table.inner_text()
    row = table.locator("tbody tr", has_text=randomized.screening_number)
    arm = randomized.allocation.arm  # shown as a badge: "Arm B" / "B群" (issue 15)
    assert row.locator(".patient-arm").inner_text() == (f"Arm {arm}" if lang == "en" else f"{arm}群")
    # The list's own search box, by initials that match no one: a clear message.
    page.locator("#id_q").fill("ZZ")
    page.get_by_role("button", name=tr(lang, "Filter")).click()
    assert tr(lang, "No patient matches this search at your sites.") in page.locator("#patient-table").inner_text()

    # A tablet: the box is in the collapsed menu, reached through the toggler.
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto("/")
    assert not page.locator("#nav-search").is_visible()
    page.locator(".navbar-toggler").click()
    page.locator("#nav-search").fill(randomized.screening_number)
    page.locator("#nav-search").press("Enter")
    page.wait_for_url(f"**/screening/patients/{randomized.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
