"""Follow-up in a real browser, English and Japanese: a coordinator records a follow-up update for a survey
from the survey list; the statistician sees the survival curves by arm; a coordinator sees them pooled only.

With OLIGAMI_SCREENSHOTS=1 the survey list and the curves are saved under docs/screenshots/."""

import os
from pathlib import Path

import pytest

from followup import services
from tests.browser.conftest import log_in, log_out, menu, pick, speaks, tr
from tests.factories import PASSWORD
from tests.followup.factories import day, randomized_patient
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_plans

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shot(page, name, lang):
    if os.environ.get("OLIGAMI_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{lang}.png"), full_page=True)


@pytest.fixture
def trial(site_a, coordinator_a, data_manager):
    make_plans()
    minimization_config()
    a = randomized_patient(site_a, coordinator_a, arm="A")
    b = randomized_patient(site_a, coordinator_a, arm="B")
    services.record_assessment(patient=a, user=coordinator_a, data={"date": day(70), "progression": True,
                                                                    "progression_sites": ["new_organ"]})
    services.record_death(patient=a, user=coordinator_a, data={"date": day(120), "cause": "breast_cancer"})
    services.record_assessment(patient=b, user=coordinator_a, data={"date": day(84), "progression": False})
    survey = services.open_survey(cutoff_date=day(150), user=data_manager)
    return {"a": a, "b": b, "survey": survey}


@pytest.mark.django_db(transaction=True)
def test_coordinator_records_a_follow_up_update_for_a_survey(lang_page, lang, trial, coordinator_a):
    page = lang_page
    speaks(coordinator_a, lang)
    log_in(page, "crc_a", PASSWORD)
    menu(page, lang, "Reports", "Follow-up surveys")
    page.wait_for_url("**/followup/surveys/")
    page.locator("#surveys a").first.click()
    page.wait_for_load_state()
    rows = page.locator("#survey-rows").inner_text()
    assert trial["b"].screening_number in rows and tr(lang, "To update") in rows
    assert pick(lang, "1 of 2 patients complete.", "2例中1例が完了。") in page.locator("#completeness").inner_text()
    shot(page, "followup-survey", lang)
    page.locator("#survey-rows tr", has_text=trial["b"].screening_number).get_by_role(
        "link", name=tr(lang, "Update")).click()
    page.wait_for_load_state()
    page.get_by_label(tr(lang, "Alive"), exact=True).check()
    page.locator("#id_last_known_alive").fill(day(148).isoformat())
    page.locator("#id_progression_since_last").select_option("no")
    page.locator("#confirm-entry").click()
    page.wait_for_url(f"**/followup/surveys/{trial['survey'].pk}/")
    assert pick(lang, "2 of 2 patients complete.", "2例中2例が完了。") in page.locator("#completeness").inner_text()
    assert tr(lang, "Confirmed") in page.locator("#survey-rows tr", has_text=trial["b"].screening_number).inner_text()
    shot(page, "followup-survey-complete", lang)


@pytest.mark.django_db(transaction=True)
def test_statistician_sees_curves_by_arm_a_coordinator_only_pooled(lang_page, lang, trial, statistician,
                                                                   coordinator_a):
    page = lang_page
    speaks(statistician, lang)
    speaks(coordinator_a, lang)
    log_in(page, "stat", PASSWORD)
    menu(page, lang, "Reports", "Survival curves")
    page.wait_for_url("**/followup/curves/")
    assert page.locator("#by-arm-note").is_visible()
    for chart in ("#km-os", "#km-pfs"):
        assert page.locator(f"{chart} polyline[data-group='A']").count() == 1
        assert page.locator(f"{chart} polyline[data-group='B']").count() == 1
    assert pick(lang, "Number at risk", "リスク数") in page.locator("#km-os").text_content()
    shot(page, "followup-curves-by-arm", lang)
    log_out(page, lang)
    log_in(page, "crc_a", PASSWORD)
    menu(page, lang, "Reports", "Survival curves")
    page.wait_for_url("**/followup/curves/")
    assert page.locator("#pooled-note").is_visible() and page.locator("#by-arm-note").count() == 0
    assert page.locator("#km-os polyline[data-group='all']").count() == 1
    assert page.locator("#km-os polyline[data-group='A'], #km-os polyline[data-group='B']").count() == 0
    shot(page, "followup-curves-pooled", lang)
