"""A data manager's first login in a real browser: the set-up link by e-mail, the authenticator app from the
QR page, then the admin; a site user locked out after five wrong passwords sees the locked-out page. No CSP
refusal anywhere."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.browser.conftest import log_in
from tests.factories import PASSWORD, totp_token, trial_role_user


@pytest.mark.django_db(transaction=True)
def test_a_new_data_manager_enrols_with_the_qr_page(page):
    """The password alone shows no secret (issue 13): the set-up link comes by e-mail, then the password."""
    import re

    from django.core import mail

    console = []
    page.on("console", lambda message: console.append(message.text))
    trial_role_user("Data manager", username="newdm", is_staff=True, otp_device=False)
    log_in(page, "newdm", PASSWORD)
    assert "/accounts/two-factor/setup/" in page.url
    assert page.locator("#qr-code").count() == 0 and page.locator("#otp-secret").count() == 0
    page.locator("#send-link").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Check your e-mail"
    page.goto(re.search(r"https?://[^/\s]+(/accounts/activate/\S+/)", mail.outbox[-1].body).group(1))
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    assert "/accounts/two-factor/setup/" in page.url
    qr = page.locator("#qr-code svg")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 100
    device = TOTPDevice.objects.get(user__username="newdm", confirmed=False)
    page.locator("#id_token").fill(totp_token(device))
    page.locator("#submit-token").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Welcome")
    page.goto("/admin/")
    assert "Site administration" in page.content()
    assert not [line for line in console if "Content Security Policy" in line], console


@pytest.mark.django_db(transaction=True)
def test_the_locked_out_page(page, coordinator_a):
    for _ in range(5):
        log_in(page, "crc_a", "not-the-password")
    assert page.locator("h1").inner_text() == "Account locked"
    log_in(page, "crc_a", PASSWORD)
    assert page.locator("h1").inner_text() == "Account locked"
