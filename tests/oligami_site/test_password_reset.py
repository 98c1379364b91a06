"""Password reset by e-mail (issue 13), with Django's own views: no account enumeration, rate-limited, single
use, never a way around the second factor, no patient data in the e-mail."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode

from oligami_site import accounts
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-new-passphrase-2026"
RESET = "/accounts/password-reset/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def link_in(message) -> str:
    match = re.search(r"https?://\S+(/accounts/password-reset/\S+/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_the_login_page_links_to_the_reset(client):
    html = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") == RESET and f'href="{RESET}"' in html


def test_known_and_unknown_addresses_get_the_same_answer(client, coordinator_a):
    known = client.post(RESET, {"email": coordinator_a.email})
    unknown = client.post(RESET, {"email": "nobody@hospital.example"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"]) == (
        302, reverse("password_reset_done"))
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [coordinator_a.email]
    known_page = client.post(RESET, {"email": coordinator_a.email.upper()}, follow=True)
    unknown_page = client.post(RESET, {"email": "nobody@hospital.example"}, follow=True)
    assert without_csrf(known_page.content.decode()) == without_csrf(unknown_page.content.decode())
    assert len(mail.outbox) == 2  # the address matched case-insensitively


def test_the_reset_sets_the_password_once(client, coordinator_a):
    client.post(RESET, {"email": coordinator_a.email})
    link = link_in(mail.outbox[0])
    step = client.get(link)
    assert step.status_code == 302 and step["Location"].endswith("/set-password/")
    response = client.post(step["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_complete")
    coordinator_a.refresh_from_db()
    assert coordinator_a.check_password(NEW_PASSWORD)
    assert "_auth_user_id" not in client.session  # the reset does not log in: the login page does, in full
    response = client.get(link)
    assert response.status_code == 200 and "not valid" in response.content.decode()


def test_the_reset_does_not_bypass_the_second_factor(password_only_client, data_manager):
    client = password_only_client
    client.post(RESET, {"email": data_manager.email})
    step = client.get(link_in(mail.outbox[0]))["Location"]
    client.post(step, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert "_auth_user_id" not in client.session
    assert client.login(username="dm", password=NEW_PASSWORD)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor_verify"))
    assert client.get("/admin/").status_code == 302


def test_requests_are_limited_per_address_given(client, coordinator_a):
    for _ in range(accounts.RESETS_PER_EMAIL):
        client.post(RESET, {"email": coordinator_a.email})
    assert len(mail.outbox) == accounts.RESETS_PER_EMAIL
    before = without_csrf(client.get(reverse("password_reset_done")).content.decode())
    response = client.post(RESET, {"email": coordinator_a.email}, follow=True)
    assert response.status_code == 200 and without_csrf(response.content.decode()) == before
    assert len(mail.outbox) == accounts.RESETS_PER_EMAIL  # the N+1th sends nothing


def test_requests_are_limited_per_client_address(client, db):
    users = [UserFactory(username=f"u{i}") for i in range(accounts.RESETS_PER_CLIENT + 1)]
    for user in users[:-1]:
        assert client.post(RESET, {"email": user.email}).status_code == 302
    assert len(mail.outbox) == accounts.RESETS_PER_CLIENT
    response = client.post(RESET, {"email": users[-1].email})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == accounts.RESETS_PER_CLIENT
    # ... another address is not held up by this one
    client.post(RESET, {"email": users[-1].email}, REMOTE_ADDR="10.1.2.3")
    assert len(mail.outbox) == accounts.RESETS_PER_CLIENT + 1


def test_the_limit_ends_with_its_window(client, coordinator_a):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(accounts.RESETS_PER_EMAIL + 1):
            client.post(RESET, {"email": coordinator_a.email})
        assert len(mail.outbox) == accounts.RESETS_PER_EMAIL
        clock.shift(dt.timedelta(seconds=accounts.RATE_WINDOW_SECONDS + 1))
        client.post(RESET, {"email": coordinator_a.email})
    assert len(mail.outbox) == accounts.RESETS_PER_EMAIL + 1


def test_the_mail_has_no_patient_data_and_speaks_the_users_language(client, coordinator_a, site_a):
    from tests.factories import PatientFactory

    patient = PatientFactory(site=site_a)
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    client.post(RESET, {"email": coordinator_a.email})
    message = mail.outbox[0]
    text = message.subject + message.body
    assert patient.screening_number not in text and str(patient.birth_date) not in text
    assert "パスワード" in text and "crc_a" in text
    assert message.body.count("http") == 1 and "http://127.0.0.1:8000/accounts/password-reset/" in message.body


def test_an_account_not_yet_activated_may_reset(client, db):
    """The activation link may have expired: the reset e-mail proves the same mailbox."""
    user = UserFactory(username="newcrc")
    user.set_unusable_password()
    user.save()
    client.post(RESET, {"email": user.email})
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_an_inactive_account_gets_nothing(client, db):
    user = UserFactory(username="gone", is_active=False)
    client.post(RESET, {"email": user.email})
    assert not mail.outbox


def test_an_expired_reset_link_is_refused(client, coordinator_a, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client.post(RESET, {"email": coordinator_a.email})
        clock.shift(dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1))
        response = client.get(link_in(mail.outbox[0]))
    assert response.status_code == 200 and "not valid" in response.content.decode()


@pytest.mark.parametrize("uidb64", ["%00", "MQ%00", urlsafe_base64_encode(b"1\x00"),
                                    urlsafe_base64_encode(b"\xff"), urlsafe_base64_encode(b"9" * 30), "x" * 2000])
@pytest.mark.parametrize("token", ["abc-def", "%00", "set-password", "zzzzzzzzzzzzzzzzzzzzzzzz-0"])
def test_malformed_reset_links_get_a_clear_page(client, uidb64, token, db):
    client.raise_request_exception = False
    response = client.get(f"{RESET}{uidb64}/{token}/")
    nul = "%00" in uidb64 + token  # refused before the view: 400 (oligami_site.middleware)
    assert response.status_code == (400 if nul else 200) and (nul or "not valid" in response.content.decode())


def test_hostile_reset_requests(client, db):
    client.raise_request_exception = False
    for email in ["", "\x00", "a\x00@b.example", "x" * 10_000 + "@b.example", ["a@b.example", "c@d.example"]]:
        response = client.post(RESET, {"email": email})
        assert response.status_code in (200, 302, 400)
    assert not mail.outbox


def test_the_reset_pages_speak_japanese(client):
    html = client.get(RESET, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "パスワードの再設定" in html
    html = client.get(reverse("password_reset_done"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "メール" in html


def test_the_reset_pages_extend_the_sites_base_template(client):
    html = client.get(RESET).content.decode()
    assert "| OLIGAMI</title>" in html and 'id="id_email"' in html
    assert "Django administration" not in html  # not the admin's own registration templates
