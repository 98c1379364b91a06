"""A data query from question to closing in a real browser, in English and in Japanese: the data manager
raises it from the patient page, the coordinator corrects the value through the screening's own page
(naming the query in the reason) and answers, the data manager sees the linked change and closes it;
then the central monitoring report."""

import pytest

from oversight.models import DataQuery
from tests.browser.conftest import log_in, log_out, menu, pick, speaks, tr
from tests.factories import PASSWORD
from tests.registration.factories import make_eligible_screening


def ptr(lang, context, text):
    from django.utils import translation

    with translation.override(lang):
        return translation.pgettext(context, text)


@pytest.mark.django_db(transaction=True)
def test_data_query_journey(lang_page, lang, data_manager, coordinator_a, site_a):
    page = lang_page
    speaks(data_manager, lang)
    speaks(coordinator_a, lang)
    screening = make_eligible_screening(site=site_a)
    patient = screening.patient

    # The data manager raises the query from the patient page.
    log_in(page, "dm", PASSWORD)
    page.goto(f"/registration/patients/{patient.pk}/")
    page.locator("#open-query").click()
    page.locator("#id_record").select_option(f"screening:{screening.pk}")
    page.locator("#id_field").select_option("screening:ecog")
    page.locator("#id_text").fill("ECOG 0 here, 1 in the clinic note of the same day?")
    page.get_by_role("button", name=tr(lang, "Send the query to the site")).click()
    page.wait_for_load_state()
    query = DataQuery.objects.get()
    assert page.locator("#query-status").inner_text() == ptr(lang, "data query", "open")
    assert "ECOG 0 here" in page.locator("#query-thread").inner_text()
    log_out(page, lang)

    # The coordinator finds it on the worklist, corrects the value on the screening page, and answers.
    log_in(page, coordinator_a.username, PASSWORD)
    summary = page.locator("#query-summary")
    assert summary.is_visible() and pick(lang, "1 waiting for the site", "施設の回答待ち1件") in summary.inner_text()
    summary.get_by_role("link", name=tr(lang, "Open the list")).click()
    page.get_by_role("link", name=query.number).click()
    assert page.locator("#step-answer").is_visible() and page.locator("#step-close").count() == 0
    page.goto(f"/screening/screenings/{screening.pk}/edit/")
    page.locator("input[name=ecog][value='1']").check()
    page.locator("#id_reason").fill(f"{query.number}: ECOG 1 as in the clinic note")
    page.locator("#save-check").click()
    page.wait_for_load_state()
    screening.refresh_from_db()
    assert screening.ecog == 1
    page.goto(f"/queries/{query.pk}/")
    page.locator("#text-answer").fill("Corrected to 1 from the clinic note.")
    page.get_by_role("button", name=tr(lang, "Send the answer")).click()
    page.wait_for_load_state()
    assert page.locator("#query-status").inner_text() == ptr(lang, "data query", "answered")
    log_out(page, lang)

    # The data manager sees the change that names the query, and closes it.
    log_in(page, "dm", PASSWORD)
    page.goto(f"/queries/{query.pk}/")
    assert query.number in page.locator("#linked-changes").inner_text()
    page.locator("#text-close").fill("Thank you.")
    page.get_by_role("button", name=tr(lang, "Close the query")).click()
    page.wait_for_load_state()
    assert page.locator("#query-status").inner_text() == ptr(lang, "data query", "closed")

    # The central monitoring report, reached from the Reports menu.
    page.goto("/")
    menu(page, lang, "Reports", "Central monitoring report")
    assert page.locator("h1").inner_text() == pick(lang, "Central monitoring report", "中央モニタリングレポート")
    table = page.locator("#monitoring-table").inner_text()
    assert site_a.code in table
    assert page.locator("html").get_attribute("lang") == lang
