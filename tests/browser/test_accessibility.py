"""Accessibility basics in a real browser: every input of the main forms has a label, the new-patient form
is filled and submitted with the keyboard only, and a criterion's status is a word and a glyph, never colour
alone (docs/CONVENTIONS.md)."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from screening.models import Patient
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, PatientFactory
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

DAY = dt.timedelta(days=1)

# Every visible-or-not form control a person can use (hidden inputs and buttons excepted) and whether it has
# an accessible name: a <label for>, a wrapping <label>, aria-label or aria-labelledby.
UNLABELLED = """() => [...document.querySelectorAll('main input, main select, main textarea')]
  .filter(e => !['hidden', 'submit', 'button', 'reset', 'image'].includes(e.type))
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !e.getAttribute('aria-labelledby'))
  .map(e => e.name || e.id || e.outerHTML)"""


def controls_and_unlabelled(page):
    count = page.locator("main input:not([type=hidden]), main select, main textarea").count()
    return count, page.evaluate(UNLABELLED)


@pytest.mark.django_db(transaction=True)
def test_every_input_of_the_main_forms_has_a_label(page, coordinator_a, site_a):
    make_plans()
    minimization_config()
    today = timezone.localdate()
    eligible = make_eligible_screening(site=site_a, on=today - 2 * DAY)
    new = PatientFactory(site=site_a)
    registered = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    evaluated = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(evaluated, coordinator_a, today - 2 * DAY, courses_given=3)

    log_in(page, "crc_a", PASSWORD)
    forms = {
        "new patient": "/screening/patients/new/",
        "screening": f"/screening/patients/{new.pk}/screening/new/",
        "screening (edit)": f"/screening/screenings/{eligible.pk}/edit/",
        "primary signature": f"/registration/patients/{eligible.patient.pk}/primary/",
        "evaluation": f"/registration/patients/{registered.pk}/evaluation/",
        "secondary signature": f"/registration/patients/{evaluated.pk}/secondary/",
    }
    seen = {}
    for name, url in forms.items():
        response = page.goto(url)
        assert response.ok, (name, url, response.status)
        count, unlabelled = controls_and_unlabelled(page)
        seen[name] = count
        assert unlabelled == [], f"{name} ({url}): inputs without a label: {unlabelled}"
    assert seen["screening"] > 30 and seen["evaluation"] > 10, seen
    assert seen["primary signature"] >= 1 and seen["secondary signature"] >= 1, seen
    # The signature's password field is found by its label, as a screen reader announces it.
    page.get_by_label("Your password (electronic signature)").fill(PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_new_patient_with_the_keyboard_only(page, coordinator_a, site_a):
    log_in(page, "crc_a", PASSWORD)
    page.goto("/screening/patients/new/")
    active = "() => document.activeElement && (document.activeElement.name || document.activeElement.id)"
    for _ in range(60):  # Tab through the navigation to the first radio of "sex"
        page.keyboard.press("Tab")
        if page.evaluate(active) == "sex":
            break
    else:
        pytest.fail("Tab never reached the sex radio buttons")
    # Arrow keys move within a radio group; pick "female" by moving until it is checked.
    for _ in range(4):
        if page.evaluate("() => document.activeElement.value") == "female":
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert page.locator("input[name='sex'][value='female']").is_checked()
    page.keyboard.press("Tab")
    assert page.evaluate(active) == "birth_date"
    if page.locator("#id_birth_date").get_attribute("type") == "date":
        page.keyboard.type("07151968")  # Chromium's en-US date field: month, day, year
    else:
        page.keyboard.type("1968-07-15")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/screening/patients/\d+/$"))
    patient = Patient.objects.get()
    assert patient.sex == "female" and patient.birth_date == dt.date(1968, 7, 15)


@pytest.mark.django_db(transaction=True)
def test_checklist_status_is_a_word_and_a_glyph_not_colour_alone(page, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    log_in(page, "crc_a", PASSWORD)
    page.goto(f"/screening/screenings/{screening.pk}/")
    words = {"met": ("✓", ("met", "does not apply")), "not_met": ("✗", ("not met", "applies (excluded)")),
             "missing": ("?", ("missing",))}
    rows = page.locator("tr.criterion")
    assert rows.count() == 31
    for status, cell in zip(rows.evaluate_all("rows => rows.map(r => r.dataset.status)"),
                            rows.locator("td:nth-child(3)").all_inner_texts(), strict=True):
        glyph, labels = words[status]
        text = cell.strip()
        assert text.startswith(glyph) and text[1:].strip() in labels, (status, text)
