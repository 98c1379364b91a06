"""Bad input found by the outside attack (issue 13, "smaller holes"): a 4xx with a clear message, never a 500.

On PostgreSQL a NUL byte in a query parameter is a database error ("A string literal cannot contain NUL"),
so a NUL in the calendar token, in the username of the locked accounts page or anywhere in a path, a
query string or a form body answers 400 (oligami_site.badinput.RejectNulMiddleware) before any view runs.
The admin's autocomplete widget used to render a non-integer `user` or `site` by querying the database
with it (a ValueError, 500); it now renders the form's error instead.
"""

import pytest
from django.urls import reverse

from oligami_site.models import Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anonymous(client):
    client.raise_request_exception = False
    return client


def test_a_nul_in_the_calendar_token_answers_400_not_500(anonymous):
    response = anonymous.get("/calendar/%00.ics")
    assert response.status_code == 400
    assert "null character" in response.content.decode()


def test_a_nul_in_the_username_to_unlock_answers_400_not_500(client, data_manager):
    client.raise_request_exception = False
    client.force_login(data_manager)
    response = client.post(reverse("locked_accounts"), {"username": "crc\x00a"})
    assert response.status_code == 400
    assert "null character" in response.content.decode()


@pytest.mark.parametrize("where", ["path", "query", "form"])
def test_a_nul_anywhere_in_a_request_answers_400_with_a_clear_page(anonymous, where):
    if where == "path":
        response = anonymous.get("/screening/%00/")
    elif where == "query":
        response = anonymous.get("/accounts/login/", {"next": "/\x00"})
    else:
        response = anonymous.post("/accounts/login/", {"username": "a\x00", "password": "x"})
    assert response.status_code == 400
    assert "null character" in response.content.decode()


@pytest.mark.parametrize("field", ["user", "site"])
@pytest.mark.parametrize("bad", ["abc", "1.5", "1e3", "99999999999999999999999"])
def test_the_membership_admin_form_with_a_non_integer_user_or_site_shows_the_error(client, site_a, field, bad):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.raise_request_exception = False
    client.force_login(superuser)
    other = UserFactory(username="new_person")
    data = {"user": other.pk, "site": site_a.pk, "role": "coordinator", "active": "on", "_change_reason": "x",
            "reason": "New coordinator", field: bad}
    response = client.post(reverse("admin:oligami_site_membership_add"), data)
    assert response.status_code == 200, response.status_code
    assert "Select a valid choice" in response.content.decode()
    assert not Membership.objects.filter(user=other).exists()


def test_the_400_page_carries_the_protective_headers(anonymous):
    response = anonymous.get("/calendar/%00.ics")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_a_nul_in_the_session_cookie_answers_400_not_500(anonymous, settings):
    anonymous.cookies[settings.SESSION_COOKIE_NAME] = "abcdefgh\x00ijkl"
    assert anonymous.get("/").status_code == 400
