"""Sessions end after 30 minutes without a request (shared ward computers); each request restarts the clock.
Signing inside a session still asks for the password again (tests/registration: the signature tests)."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def test_the_settings():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_HTTPONLY is True and settings.SESSION_COOKIE_SAMESITE == "Lax"


def test_a_request_after_31_idle_minutes_goes_to_the_login_page(client, coordinator_a):
    with time_machine.travel(START, tick=False) as clock:
        assert client.login(username="crc_a", password=PASSWORD)
        assert client.get(reverse("home")).status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        response = client.get(reverse("screening:patient_list"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")


def test_activity_keeps_the_session_alive(client, coordinator_a):
    with time_machine.travel(START, tick=False) as clock:
        assert client.login(username="crc_a", password=PASSWORD)
        for _ in range(4):  # two hours of work, a request every 29 minutes
            clock.shift(dt.timedelta(minutes=29))
            assert client.get(reverse("home")).status_code == 200
        clock.shift(dt.timedelta(minutes=30, seconds=1))
        assert client.get(reverse("home")).status_code == 302


def test_the_cookie_expires_with_the_session(client, coordinator_a):
    assert client.login(username="crc_a", password=PASSWORD)
    response = client.get(reverse("home"))
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == 1800 and cookie["httponly"] and cookie["samesite"] == "Lax"


def test_a_data_managers_session_ends_too_and_the_code_is_asked_again(client, password_only_client, data_manager):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.factories import totp_token

    device = TOTPDevice.objects.get(user=data_manager)
    with time_machine.travel(START, tick=False) as clock:
        assert password_only_client.login(username="dm", password=PASSWORD)
        password_only_client.post(reverse("two_factor_verify"), {"token": totp_token(device)})
        assert password_only_client.get("/admin/").status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        assert password_only_client.get("/admin/")["Location"].startswith("/admin/login/")
        assert password_only_client.login(username="dm", password=PASSWORD)
        assert password_only_client.get("/admin/")["Location"].startswith(reverse("two_factor_verify"))
