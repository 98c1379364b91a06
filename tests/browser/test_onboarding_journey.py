"""Onboarding without a shared secret, in a real browser (issue 13): a new data manager follows the e-mailed
activation link, chooses the password, enrols the authenticator app and is logged in; the password reset
request in Japanese. No CSP refusal anywhere."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from oligami_site import accounts
from tests.factories import UserFactory, totp_token

NEW_PASSWORD = "a-long-new-passphrase-2026"


def path_of(message, where):
    return re.search(rf"https?://[^/\s]+({where}\S+/)", message.body).group(1)


@pytest.mark.django_db(transaction=True)
def test_a_new_data_manager_activates_enrols_and_is_logged_in(page):
    console = []
    page.on("console", lambda message: console.append(message.text))
    user = UserFactory(username="newdm", is_staff=True, otp_device=False)
    user.set_unusable_password()
    user.save()
    user.groups.add(Group.objects.get(name="Data manager"))
    accounts.send_activation(user=user)
    page.goto(path_of(mail.outbox[-1], "/accounts/activate/"))
    assert page.url.endswith("/set-password/")  # the token left the address bar
    assert page.locator("h1").inner_text() == "Activate your account"
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    assert "/accounts/two-factor/setup/" in page.url
    qr = page.locator("#qr-code svg")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 100
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    page.locator("#id_token").fill(totp_token(device))
    page.locator("#submit-token").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Welcome")
    page.goto("/admin/")
    assert "Site administration" in page.content()
    # The link is spent.
    page.goto(path_of(mail.outbox[-1], "/accounts/activate/"))
    assert page.locator("h1").inner_text() == "This link is not valid"
    assert not [line for line in console if "Content Security Policy" in line], console


@pytest.mark.django_db(transaction=True)
def test_the_password_reset_request_in_japanese(page_ja, coordinator_a):
    console = []
    page_ja.on("console", lambda message: console.append(message.text))
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    page_ja.goto("/accounts/login/")
    page_ja.locator("#forgot-password").click()
    page_ja.wait_for_load_state()
    assert page_ja.locator("h1").inner_text() == "パスワードの再設定"
    page_ja.locator("#id_email").fill(coordinator_a.email)
    page_ja.locator("#submit-id-submit").click()
    page_ja.wait_for_load_state()
    assert page_ja.locator("h1").inner_text() == "メールを確認してください"
    assert [m.to for m in mail.outbox] == [[coordinator_a.email]]
    assert "パスワード" in mail.outbox[0].subject
    # The link leads to the new password; the login page follows (the reset never logs in).
    page_ja.goto(path_of(mail.outbox[0], "/accounts/password-reset/"))
    page_ja.locator("#id_new_password1").fill(NEW_PASSWORD)
    page_ja.locator("#id_new_password2").fill(NEW_PASSWORD)
    page_ja.locator("#submit-id-submit").click()
    page_ja.wait_for_load_state()
    assert page_ja.locator("h1").inner_text() == "新しいパスワードを設定しました"
    coordinator_a.refresh_from_db()
    assert coordinator_a.check_password(NEW_PASSWORD)
    assert not [line for line in console if "Content Security Policy" in line], console
