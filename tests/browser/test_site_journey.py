"""A data manager approves and opens a pending site in a real browser, in English and Japanese (issue 17):
the sites list, the pending site's page, the approval record completed, the status changed to open with a
reason, the history row; and the consent document versions page, where a new version is announced.

Screenshots at 1366x768 into docs/screenshots/ with OLIGAMI_SCREENSHOTS=1."""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone, translation

from oligami_site.models import Site
from screening.models import ConsentDocument
from tests.browser.conftest import log_in, menu, pick, speaks, tr
from tests.factories import PASSWORD, initial_consent_version

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}


def shot(page, name, lang):
    if os.environ.get("OLIGAMI_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{lang}-1366.png"), full_page=False)


def status_label(lang, english):
    with translation.override(lang):
        return translation.pgettext("site status", english)


@pytest.mark.django_db(transaction=True)
def test_data_manager_approves_and_opens_a_site(lang_page, lang, data_manager):
    page = lang_page
    page.set_viewport_size(LAPTOP)
    speaks(data_manager, lang)
    initial_consent_version()
    site = Site.objects.create(code="KYOTO", name_en="Kyoto University", name_ja="京都大学",
                               status=Site.Status.PENDING, ethics_approval_date=dt.date(2026, 10, 15),
                               approved_protocol_version="1.0")
    log_in(page, "dm", PASSWORD)

    # The sites list: KYOTO pending, reached through the Reports menu.
    menu(page, lang, "Reports", "Sites: status and approval")
    row = page.locator("#site-list tr", has_text="KYOTO")
    assert status_label(lang, "Pending approval") in row.inner_text()
    assert pick(lang, "Pending approval", "承認待ち") in row.inner_text()
    row.get_by_role("link", name="KYOTO").click()
    page.wait_for_url(f"**/sites/{site.pk}/")
    assert page.locator("#site-status").inner_text() == status_label(lang, "Pending approval")
    assert tr(lang, "permission of the head of the institution") in page.locator("main, body").first.inner_text()
    shot(page, "site-pending", lang)

    # Opening before the approval record is complete is refused, naming what is missing.
    page.locator("#id_status").select_option("open")
    page.locator("#status-form #id_reason").fill("Approvals received")
    page.locator("#change-status").click()
    page.wait_for_load_state()
    assert Site.objects.get(pk=site.pk).status == "pending"
    assert tr(lang, "permission of the head of the institution") in page.locator("#status-form").inner_text()

    # The approval record completed.
    page.locator("#id_head_permission_date").fill("2026-11-02")
    page.locator("#id_start_date").fill("2026-11-16")
    # (a record already on file: the change needs a reason)
    page.locator("#approval-form #id_reason").fill(pick(lang, "Permission received", "許可書を受領"))
    page.locator("#save-approval").click()
    page.wait_for_url(f"**/sites/{site.pk}/")
    assert "2026-11-02" in page.locator("#approval-record").inner_text()

    # Open it, with a reason: the badge, the allowed actions and the history row.
    page.locator("#id_status").select_option("open")
    page.locator("#status-form #id_reason").fill(pick(lang, "All approvals on file", "承認書類がすべて揃った"))
    page.locator("#change-status").click()
    page.wait_for_url(f"**/sites/{site.pk}/")
    assert page.locator("#site-status").inner_text() == status_label(lang, "Open")
    assert pick(lang, "Open", "登録中") == page.locator("#site-status").inner_text()
    assert pick(lang, "All approvals on file", "承認書類がすべて揃った") in page.locator("#site-history").inner_text()
    assert "✗" not in page.locator("#site-allows").inner_text()
    shot(page, "site-open", lang)
    assert Site.objects.get(pk=site.pk).status == "open"

    # The consent document versions: a new version announced for next month.
    menu(page, lang, "Reports", "Consent document versions")
    effective = timezone.localdate() + dt.timedelta(days=30)
    page.locator("#id_version").fill("2.0")
    page.locator("#id_effective_date").fill(effective.isoformat())
    page.locator("#version-form #id_reason").fill(pick(lang, "New safety information", "新たな安全性情報"))
    page.locator("#add-version").click()
    page.wait_for_url("**/screening/consent-documents/")
    table = page.locator("#consent-documents").inner_text()
    assert "2.0" in table and tr(lang, "announced") in table and tr(lang, "in force") in table
    assert pick(lang, "announced", "予告") in table
    shot(page, "consent-documents", lang)
    assert ConsentDocument.objects.get(version="1.0").superseded_date == effective
