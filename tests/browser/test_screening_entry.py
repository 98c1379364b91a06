"""Issue 20, screening entry in the browser: "Add lesion" adds rows in the page (five lesions in a first entry,
no save-then-edit round trip, no reason asked), bone-only findings are disabled for other organs, dates show
yyyy-mm-dd whatever the browser's locale, and no sex is pre-selected; on a tablet in Japanese too."""

import pytest

from screening.models import Lesion, Patient, Screening
from tests.browser.conftest import log_in
from tests.browser.test_screening_journey import fill_screening
from tests.factories import PASSWORD
from tests.screening.factories import eligible_inputs


def new_patient(page):
    page.goto("/screening/patients/new/")
    assert page.locator("input[name='sex']").count() == 2  # female, male: no blank radio
    assert page.locator("input[name='sex']:checked").count() == 0
    birth = page.locator("#id_birth_date")
    assert birth.get_attribute("type") == "text" and birth.get_attribute("placeholder") == "yyyy-mm-dd"
    page.check("input[name='sex'][value='female']")
    page.fill("#id_birth_date", "1968-07-15")
    page.click("#create-patient")
    page.wait_for_url("**/screening/patients/*/")
    page.click("#start-screening")


@pytest.mark.django_db(transaction=True)
def test_add_lesion_rows_in_a_first_entry_and_bone_fields(page, coordinator_a, site_a):
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, "crc_a", PASSWORD)
    new_patient(page)
    rows = page.locator("#lesion-table tr.lesion-row")
    assert rows.count() == 4
    page.click("#add-lesion")
    assert rows.count() == 5
    assert page.locator("input[name='lesions-TOTAL_FORMS']").input_value() == "5"
    # A lung lesion: its bone findings are disabled; choosing bone enables them again.
    page.select_option("select[name='lesions-4-organ']", "lung")
    bone_only = page.locator("#lesion-table tr.lesion-row").nth(4).locator("[data-bone-only]")
    assert bone_only.count() > 0 and all(bone_only.nth(i).is_disabled() for i in range(bone_only.count()))
    page.select_option("select[name='lesions-4-organ']", "bone")
    assert not bone_only.first.is_disabled()
    page.select_option("select[name='lesions-4-organ']", "lung")

    data, lesions, labs = eligible_inputs()
    fill_screening(page, data, lesions, labs)
    for i, size in ((2, "12"), (3, "9"), (4, "8")):
        page.select_option(f"[name='lesions-{i}-organ']", "lung")
        page.fill(f"[name='lesions-{i}-diameter_mm']", size)
        page.select_option(f"[name='lesions-{i}-mdt_feasible']", "True")
    page.click("#save-check")
    page.wait_for_url("**/screening/screenings/*/")  # saved at once: no reason asked for a first entry
    screening = Screening.objects.get()
    assert Lesion.objects.filter(screening=screening).count() == 5
    assert Patient.objects.get().stage == Patient.Stage.SCREEN_FAILED  # five lesions fail P5


@pytest.mark.django_db(transaction=True)
def test_tablet_in_japanese(page_ja, coordinator_a, site_a):
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    page_ja.set_viewport_size({"width": 768, "height": 1024})
    log_in(page_ja, "crc_a", PASSWORD)
    new_patient(page_ja)
    assert page_ja.locator("#add-lesion").is_visible()
    assert page_ja.locator("#add-lesion").inner_text() == "病変を追加"
    assert page_ja.locator("#id_screening_date").get_attribute("placeholder") == "yyyy-mm-dd"
    # The page itself does not scroll sideways on a tablet (the lesion table scrolls in its own box).
    assert page_ja.evaluate("document.documentElement.scrollWidth") <= 768
