"""Two-factor authentication (TOTP): required for data managers, statisticians and admin users, optional for
site users; enrolment, verification through the real pages with real codes, replay, lockout, the admin."""

import re

import pytest
import time_machine
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from oligami_site.lockout import is_locked
from oligami_site.models import AccessEvent
from oligami_site.two_factor import OTPRequiredAdminSite, needs_second_factor, required_for
from tests.factories import PASSWORD, UserFactory, confirmed_totp_device, totp_token, trial_role_user

pytestmark = pytest.mark.django_db


def code_of(html: str) -> TOTPDevice:
    """The device behind an enrolment page, found from the secret it shows (as the user's app would)."""
    from base64 import b32decode

    secret = re.search(r'id="otp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8)).hex()
    return TOTPDevice.objects.get(key=key)


def test_who_needs_a_second_factor(data_manager, statistician, coordinator_a, monitor_a, no_role_user):
    staff = UserFactory(username="staff", is_staff=True)
    assert all(required_for(u) for u in (data_manager, statistician, staff))
    assert not any(required_for(u) for u in (coordinator_a, monitor_a, no_role_user))
    assert not needs_second_factor(coordinator_a)
    confirmed_totp_device(coordinator_a)  # a site user who enrolled
    assert needs_second_factor(coordinator_a)


@pytest.mark.parametrize("role", ["data_manager", "statistician"])
def test_trial_roles_must_give_the_code_before_any_page(password_only_client, role, data_manager, statistician):
    user = {"data_manager": data_manager, "statistician": statistician}[role]
    assert password_only_client.login(username=user.username, password=PASSWORD)
    for url in (reverse("home"), reverse("randomization:balance"), "/admin/", reverse("password_change")):
        response = password_only_client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("two_factor_verify") + "?next="), url
    # ... the real verification page, with the code the authenticator app shows now
    device = TOTPDevice.objects.get(user=user)
    response = password_only_client.post(reverse("two_factor_verify"),
                                         {"token": totp_token(device), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert password_only_client.get("/admin/").status_code == 200
    assert password_only_client.get(reverse("home")).status_code == 200


def test_a_code_is_good_once(password_only_client, data_manager):
    device = TOTPDevice.objects.get(user=data_manager)
    token = totp_token(device)
    assert password_only_client.login(username="dm", password=PASSWORD)
    assert password_only_client.post(reverse("two_factor_verify"), {"token": token}).status_code == 302
    password_only_client.post(reverse("logout"))
    assert password_only_client.login(username="dm", password=PASSWORD)
    response = password_only_client.post(reverse("two_factor_verify"), {"token": token})  # replayed
    assert response.status_code == 200 and "not correct" in response.content.decode()
    assert password_only_client.get(reverse("home")).status_code == 302


def test_wrong_codes_count_like_failed_logins_and_lock(password_only_client, data_manager):
    assert password_only_client.login(username="dm", password=PASSWORD)
    for _ in range(4):
        response = password_only_client.post(reverse("two_factor_verify"), {"token": "000000"})
        assert response.status_code == 200
    assert AccessEvent.objects.filter(kind="login_failed", username="dm").count() == 4
    response = password_only_client.post(reverse("two_factor_verify"), {"token": "000000"})
    assert response.status_code == 429 and "Account locked" in response.content.decode()
    assert is_locked("dm") and "_auth_user_id" not in password_only_client.session
    # Locked: the password alone no longer opens even the first step.
    assert not password_only_client.login(username="dm", password=PASSWORD)


def test_a_password_login_does_not_reset_the_failures_of_codes(password_only_client, data_manager):
    """Otherwise whoever knows the password could guess codes forever, 4 per login."""
    for _ in range(2):
        assert password_only_client.login(username="dm", password=PASSWORD)
        for _ in range(2):
            password_only_client.post(reverse("two_factor_verify"), {"token": "123456"})
    assert password_only_client.login(username="dm", password=PASSWORD)
    response = password_only_client.post(reverse("two_factor_verify"), {"token": "123456"})
    assert response.status_code == 429


def test_a_throttled_device_refuses_even_the_right_code_for_a_moment(password_only_client, data_manager):
    device = TOTPDevice.objects.get(user=data_manager)
    assert password_only_client.login(username="dm", password=PASSWORD)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        password_only_client.post(reverse("two_factor_verify"), {"token": "000000"})
        response = password_only_client.post(reverse("two_factor_verify"), {"token": totp_token(device)})
        assert response.status_code == 200 and "Too many wrong codes" in response.content.decode()
        clock.shift(5)
        response = password_only_client.post(reverse("two_factor_verify"), {"token": totp_token(device)})
        assert response.status_code == 302


def enrolment_granted(client, user):
    """The set-up link from the account's mailbox, then the password (oligami_site.account_views): the only
    way a user who must enrol is shown a secret (issue 13; tests/oligami_site/test_onboarding.py)."""
    from django.core import mail

    from oligami_site.accounts import send_activation

    send_activation(user=user)
    link = re.search(r"https?://[^/\s]+(/accounts/activate/\S+/)", mail.outbox[-1].body).group(1)
    step = client.get(link)["Location"]
    response = client.post(step, {"password": PASSWORD})
    assert response["Location"].startswith(reverse("two_factor_setup")), response


def test_enrolment_of_a_data_manager_without_a_device(password_only_client, db):
    user = trial_role_user("Data manager", username="newdm", otp_device=False)
    assert not TOTPDevice.objects.filter(user=user).exists()
    enrolment_granted(password_only_client, user)
    response = password_only_client.get(reverse("screening:patient_list"))
    assert response["Location"].startswith(reverse("two_factor_setup") + "?next=")
    page = password_only_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "Your role requires two-factor authentication" in html
    assert "otpauth://totp/OLIGAMI%3Anewdm?secret=" in html and "issuer=OLIGAMI" in html
    svg = html.split('<div class="mb-3" id="qr-code">', 1)[1].split("</div>", 1)[0]
    assert svg.startswith("<svg") and "<path" in svg and "style=" not in svg and "<script" not in svg
    device = code_of(html)
    assert not device.confirmed
    # A reload before the first code shows the same secret (the app may have scanned it already).
    assert code_of(password_only_client.get(reverse("two_factor_setup")).content.decode()) == device
    response = password_only_client.post(reverse("two_factor_setup"),
                                         {"token": totp_token(device), "next": reverse("screening:patient_list")})
    assert response.status_code == 302 and response["Location"] == reverse("screening:patient_list")
    device.refresh_from_db()
    assert device.confirmed
    assert password_only_client.get(reverse("screening:patient_list")).status_code == 200
    # The secret is never shown again.
    response = password_only_client.get(reverse("two_factor_setup"), follow=True)
    assert "otp-secret" not in response.content.decode() and "already set up" in response.content.decode()
    assert "otpauth://" not in password_only_client.get(reverse("two_factor")).content.decode()


def test_enrolment_refuses_a_wrong_code(password_only_client, db):
    enrolment_granted(password_only_client, trial_role_user("Statistician", username="newstat", otp_device=False))
    password_only_client.get(reverse("two_factor_setup"))
    response = password_only_client.post(reverse("two_factor_setup"), {"token": "12345x"})
    assert response.status_code == 200 and "Enter the digits" in response.content.decode()
    assert not TOTPDevice.objects.filter(user__username="newstat", confirmed=True).exists()
    assert password_only_client.get(reverse("home")).status_code == 302


def test_an_unverified_user_cannot_enrol_another_device(password_only_client, data_manager):
    """Someone who has only the password must not swap in their own authenticator app."""
    assert password_only_client.login(username="dm", password=PASSWORD)
    response = password_only_client.get(reverse("two_factor_setup"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor_verify"))
    password_only_client.post(reverse("two_factor_setup"), {"token": "123456"})
    assert TOTPDevice.objects.filter(user=data_manager).count() == 1


def test_site_users_may_enrol_and_then_need_the_code(password_only_client, coordinator_a):
    assert password_only_client.login(username="crc_a", password=PASSWORD)
    assert password_only_client.get(reverse("home")).status_code == 200  # the password is enough
    page = password_only_client.get(reverse("two_factor")).content.decode()
    assert "Off:" in page and reverse("two_factor_setup") in page
    device = code_of(password_only_client.get(reverse("two_factor_setup")).content.decode())
    assert password_only_client.post(reverse("two_factor_setup"), {"token": totp_token(device)}).status_code == 302
    assert "On:" in password_only_client.get(reverse("two_factor")).content.decode()
    password_only_client.post(reverse("logout"))
    assert password_only_client.login(username="crc_a", password=PASSWORD)
    assert password_only_client.get(reverse("home"))["Location"].startswith(reverse("two_factor_verify"))


def test_site_users_remove_it_with_their_password(client, coordinator_a):
    confirmed_totp_device(coordinator_a)
    client.force_login(coordinator_a)  # verified
    response = client.post(reverse("two_factor"), {"password": "wrong"})
    assert response.status_code == 200 and TOTPDevice.objects.filter(user=coordinator_a).exists()
    assert AccessEvent.objects.filter(kind="login_failed", username="crc_a").count() == 1
    response = client.post(reverse("two_factor"), {"password": PASSWORD}, follow=True)
    assert "removed" in response.content.decode() and not TOTPDevice.objects.filter(user=coordinator_a).exists()
    assert client.get(reverse("home")).status_code == 200


def test_trial_roles_cannot_remove_it(client, data_manager):
    client.force_login(data_manager)
    assert "cannot be removed" in client.get(reverse("two_factor")).content.decode()
    response = client.post(reverse("two_factor"), {"password": PASSWORD}, follow=True)
    assert "cannot be removed" in response.content.decode()
    assert TOTPDevice.objects.filter(user=data_manager, confirmed=True).exists()


def test_the_admin_site_itself_requires_a_verified_session(data_manager):
    """Even if a request reached the admin without the middleware, the admin site refuses it."""
    from django.contrib import admin

    assert isinstance(admin.site, OTPRequiredAdminSite)
    request = RequestFactory().get("/admin/")
    request.user = data_manager
    data_manager.is_verified = lambda: False
    assert not admin.site.has_permission(request)
    data_manager.is_verified = lambda: True
    assert admin.site.has_permission(request)


def test_admin_users_need_it_too(password_only_client):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    assert password_only_client.login(username="root", password=PASSWORD)
    assert password_only_client.get("/admin/")["Location"].startswith(reverse("two_factor_verify"))


def test_the_next_address_stays_on_this_site(password_only_client, data_manager):
    device = TOTPDevice.objects.get(user=data_manager)
    assert password_only_client.login(username="dm", password=PASSWORD)
    for evil in ("https://evil.example/", "//evil.example/", "home", "a\x00b", "/\x00x"):
        response = password_only_client.get(reverse("two_factor_verify"), {"next": evil})
        assert response.status_code == (400 if "\x00" in evil else 200)  # a NUL: refused whole (middleware)
    response = password_only_client.post(reverse("two_factor_verify"),
                                         {"token": totp_token(device), "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_the_test_client_completes_the_second_factor_only_for_enrolled_users(client, data_manager, coordinator_a):
    """The shared `client` logs data managers in with their device, as the verification page would."""
    assert client.login(username="dm", password=PASSWORD)
    assert client.get("/admin/").status_code == 200
    client.force_login(coordinator_a)
    assert client.get(reverse("home")).status_code == 200
