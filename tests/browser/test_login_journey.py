import pytest

from tests.browser.conftest import log_in, log_out
from tests.factories import PASSWORD


@pytest.mark.django_db(transaction=True)
def test_coordinator_logs_in_and_sees_home(page, coordinator_a, site_a):
    console = []
    page.on("console", lambda message: console.append(message.text))
    log_in(page, "crc_a", PASSWORD)
    assert page.locator("h1").inner_text().startswith("Welcome")
    assert "SITEA" in page.content()
    log_out(page)
    # Nothing on these pages is refused by the Content-Security-Policy.
    assert not [line for line in console if "Content Security Policy" in line], console


@pytest.mark.django_db(transaction=True)
def test_wrong_password_shows_message(page, coordinator_a):
    log_in(page, "crc_a", "not-the-password")
    assert "Please enter a correct username and password" in page.content()
