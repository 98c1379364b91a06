"""The session-timeout path in a real browser, in English and in Japanese: after more than 30 minutes
without a request (docs/security.md) the next click lands on the login page; each request restarts the
30 minutes. The server's clock is moved with time-machine (the browser's cookie stays)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.conftest import log_in, pick, speaks, tr
from tests.factories import PASSWORD

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.django_db(transaction=True)
def test_idle_over_30_minutes_lands_on_the_login_page(lang_page, lang, coordinator_a, site_a):
    page = lang_page
    speaks(coordinator_a, lang)
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=TOKYO), tick=True) as clock:
        log_in(page, "crc_a", PASSWORD)
        assert "/accounts/login/" not in page.url

        clock.move_to(dt.datetime(2026, 3, 2, 9, 29, tzinfo=TOKYO))  # 29 minutes idle: still signed in
        page.get_by_role("link", name=tr(lang, "Patients"), exact=True).first.click()
        page.wait_for_url("**/screening/patients/")

        clock.move_to(dt.datetime(2026, 3, 2, 10, 0, tzinfo=TOKYO))  # 31 minutes since that click
        page.get_by_role("link", name=tr(lang, "New patient")).click()
        page.wait_for_url("**/accounts/login/?next=/screening/patients/new/")
        assert page.locator("#id_username").is_visible()
        assert pick(lang, "Log in to the OLIGAMI site manager", "OLIGAMI 施設管理システムにログイン") in page.locator(
            "h1").inner_text()

        log_in(page, "crc_a", PASSWORD)  # signing in again works
        assert "/accounts/login/" not in page.url
