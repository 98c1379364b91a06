"""A coordinator screens a patient in the browser: the checklist turns green with the eligible banner;
a fourth lesion turns P5 red."""

import datetime as dt
from decimal import Decimal

import pytest

from screening.models import Patient
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.screening.factories import eligible_inputs, post_value

RADIO_FIELDS = {"ecog"}


def fill_screening(page, data, lesions, labs):
    for name, value in data.items():
        field = page.locator(f"[name='{name}']").first
        tag, kind = field.evaluate("e => [e.tagName, e.type]")
        text = post_value(value)
        if kind == "radio":
            page.check(f"input[name='{name}'][value='{text}']")
        elif kind == "checkbox":  # P14's "not given" parts
            page.set_checked(f"input[name='{name}']", bool(value))
        elif tag == "SELECT":
            page.select_option(f"select[name='{name}']", text)
        else:
            page.fill(f"[name='{name}']", text)
    for i, lesion in enumerate(lesions):
        for name, value in lesion.items():
            selector = f"[name='lesions-{i}-{name}']"
            if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
                page.select_option(selector, post_value(value))
            else:
                page.fill(selector, post_value(value))
    for name, value in labs.items():
        page.fill(f"[name='labs-{name}']", post_value(value))


def add_third_and_fourth_lesion(page):
    """Two more oligometastases in the screening form's empty lesion rows (P5 then fails: four lesions)."""
    for i, (organ, size) in ((2, ("liver", "25")), (3, ("lung", "5"))):
        page.select_option(f"[name='lesions-{i}-organ']", organ)
        page.fill(f"[name='lesions-{i}-diameter_mm']", size)
        page.select_option(f"[name='lesions-{i}-mdt_feasible']", "True")


def criterion_status(page, cid):
    return page.locator(f"#criterion-{cid}").get_attribute("data-status")


@pytest.mark.django_db(transaction=True)
def test_coordinator_screens_a_patient_to_eligible_then_a_fourth_lesion_fails_p5(page, coordinator_a, site_a):
    log_in(page, "crc_a", PASSWORD)
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="New patient").click()
    page.check("input[name='sex'][value='female']")
    page.fill("#id_birth_date", "1968-07-15")
    page.click("#create-patient")
    page.wait_for_url("**/screening/patients/*/")
    assert "SITEA-S0001" in page.locator("h1").inner_text()

    page.click("#start-screening")
    data, lesions, labs = eligible_inputs()  # the eligible luminal worked case, judged 2026-03-02
    fill_screening(page, data, lesions, labs)
    page.click("#save-check")
    page.wait_for_url("**/screening/screenings/*/")

    banner = page.locator("#eligible-banner")
    assert banner.is_visible() and "Eligible for primary registration" in banner.inner_text()
    statuses = page.locator("tr.criterion").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert len(statuses) == 31 and set(statuses) == {"met"}
    assert page.locator("#criterion-P16 td .status-met").first.inner_text().strip() == "✓ met"
    assert page.locator("#subtype").inner_text() == "luminal"
    assert Patient.objects.get().stage == Patient.Stage.ELIGIBLE

    # Screen failure: a third and a fourth oligometastasis. A reason is needed to change an evaluated screening.
    page.click("#edit-screening")
    add_third_and_fourth_lesion(page)
    page.click("#save-check")
    assert "Give a reason for the change" in page.content()
    page.fill("#id_reason", "Two more lesions on the PET report")
    page.click("#save-check")
    page.wait_for_url("**/screening/screenings/*/")

    assert criterion_status(page, "P5") == "not_met"
    p5 = page.locator("#criterion-P5").inner_text()
    assert "✗ not met" in p5 and "4" in p5
    assert page.locator("#eligible-banner").count() == 0
    assert "Not eligible (screen failure)" in page.locator("#verdict-summary").inner_text()
    assert Patient.objects.get().stage == Patient.Stage.SCREEN_FAILED

    # The screening log lists the failure with its criterion.
    page.get_by_role("link", name="Screening log").click()
    row = page.locator("tr.log-row").first
    assert "SITEA-S0001" in row.inner_text() and "P5" in row.inner_text()


@pytest.mark.django_db(transaction=True)
def test_draft_with_missing_labs_shows_grey_and_no_banner(page, coordinator_a, site_a):
    log_in(page, "crc_a", PASSWORD)
    page.goto("/screening/patients/new/")
    page.check("input[name='sex'][value='female']")
    page.fill("#id_birth_date", (dt.date.today() - dt.timedelta(days=365 * 50)).isoformat())
    page.click("#create-patient")
    page.click("#start-screening")
    data, lesions, _labs = eligible_inputs()
    data["lvef_percent"] = Decimal("50")  # P17: exactly 50 fails
    fill_screening(page, data, lesions, {})
    page.click("#save-draft")
    page.wait_for_url("**/edit/")
    assert "Still missing: P16" in page.content()
    page.goto(page.url.replace("/edit/", "/"))
    assert criterion_status(page, "P16") == "missing"
    assert criterion_status(page, "P17") == "not_met"
    assert "? missing" in page.locator("#criterion-P16").inner_text()
    assert page.locator("#eligible-banner").count() == 0
