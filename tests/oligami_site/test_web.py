"""Login, home page, navigation by role, and that every URL needs a login."""

import io

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.factories import PASSWORD

# Reachable without login: the login page itself, the language switch (a POST that only sets a cookie)
# and static files. Everything else must redirect an anonymous visitor to the login page.
# The iCalendar feed (/calendar/<token>.ics) is also public: calendar programs cannot log in, so its secret
# token is the credential; an unknown or revoked token answers 404 (tests/registration/test_reminders_calendar.py).
# Password reset and account activation (issue 13) are for people who cannot log in: the e-mailed link is the
# credential (tests/oligami_site/test_password_reset.py, test_onboarding.py).
PUBLIC = {"login", "set_language", "calendar_feed", "password_reset", "password_reset_done", "password_reset_confirm",
          "password_reset_complete", "activate"}


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.app_name == "admin" or (p.namespace or "") == "admin":
                yield prefix + str(p.pattern), "admin", p
                continue
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name, p


def _concrete(route: str) -> str:
    """A URL for a pattern: each converter replaced by a plausible value."""
    import re

    route = re.sub(r"<int:[^>]+>", "1", route)
    route = re.sub(r"<(str|slug):[^>]+>", "x", route)
    route = re.sub(r"<path:[^>]+>", "x", route)
    route = re.sub(r"<uuid:[^>]+>", "00000000-0000-0000-0000-000000000000", route)
    route = re.sub(r"<[^>]+>", "1", route)
    route = route.replace("^", "").replace("$", "").replace("\\", "")
    return "/" + route


@pytest.mark.django_db
def test_every_url_requires_login(client):
    checked = 0
    for route, name, _ in _walk(get_resolver().url_patterns):
        if name in PUBLIC:
            continue
        url = _concrete(route)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code == 405:  # a method the view does not serve at all (GET of logout)
                continue
            assert response.status_code in (301, 302), f"{method.upper()} {url} ({name}): {response.status_code}"
            assert "login" in response["Location"], f"{url} ({name}) redirects to {response['Location']}"
        checked += 1
    assert checked >= 4


@pytest.mark.django_db
def test_login_page_renders_with_local_bootstrap(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/bootstrap/css/bootstrap.min.css" in html
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_wrong_login_gives_clear_message(client, coordinator_a):
    response = client.post(reverse("login"), {"username": "crc_a", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_malformed_login_post_is_not_a_500(client):
    response = client.post(reverse("login"), {"username": "x" * 10000, "password": ["a", "b"]})
    assert response.status_code == 200
    response = client.post(reverse("login"), {})
    assert response.status_code == 200


@pytest.mark.django_db
def test_home_shows_own_sites_and_roles_only(client, coordinator_a, site_a, site_b, coordinator_b):
    client.login(username="crc_a", password=PASSWORD)
    html = client.get(reverse("home")).content.decode()
    assert "SITEA" in html and "Clinical research coordinator" in html
    assert "SITEB" not in html and "Site B Hospital" not in html


@pytest.mark.django_db
def test_home_in_japanese_shows_japanese_site_name(client, coordinator_a, site_a):
    coordinator_a.preferred_language = "ja"  # a signed-in user's profile decides the language
    coordinator_a.save()
    client.login(username="crc_a", password=PASSWORD)
    html = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "Aサイト病院" in html


@pytest.mark.django_db
def test_navigation_by_role(client, coordinator_a, data_manager):
    client.login(username="crc_a", password=PASSWORD)
    assert "Admin console" not in client.get(reverse("home")).content.decode()
    client.logout()
    client.login(username="dm", password=PASSWORD)
    html = client.get(reverse("home")).content.decode()
    assert "Admin console" in html and "SITEA" in html  # a data manager sees every site


@pytest.mark.django_db
def test_user_without_role_is_told_so(client, no_role_user):
    client.login(username="nobody", password=PASSWORD)
    assert "no site or trial role" in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_logout_is_post_only_and_ends_session(client, coordinator_a):
    client.login(username="crc_a", password=PASSWORD)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_password_change_rejects_short_password(client, coordinator_a):
    client.login(username="crc_a", password=PASSWORD)
    response = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200
    assert "too short" in response.content.decode()


@pytest.mark.django_db
def test_site_staff_cannot_use_admin(client, coordinator_a):
    client.login(username="crc_a", password=PASSWORD)
    response = client.get("/admin/")
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.django_db
def test_data_manager_admin_lists_sites(client, data_manager, site_a):
    client.login(username="dm", password=PASSWORD)
    response = client.get("/admin/oligami_site/site/")
    assert response.status_code == 200 and "SITEA" in response.content.decode()
    # No one deletes a site: its patients and audit trail hang on it.
    assert client.get(f"/admin/oligami_site/site/{site_a.pk}/delete/").status_code in (302, 403)


def _snapshot():
    from django.contrib.auth.models import Group

    from oligami_site.models import Membership, Site, User

    return (
        sorted(Site.objects.values_list("code", "name_en", "name_ja", "status")),
        sorted(User.objects.values_list("username", "password", "is_staff", "preferred_language")),
        sorted(Membership.objects.values_list("user__username", "site__code", "role", "active")),
        sorted(Group.objects.values_list("name", "user__username")),
    )


@pytest.mark.django_db
def test_seed_demo_is_idempotent(settings, tmp_path):
    settings.OLIGAMI_DEMO_PASSWORD = "demo-password-for-tests"
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    first = _snapshot()
    call_command("seed_demo", stdout=io.StringIO())
    assert _snapshot() == first
    codes = [code for code, *_ in first[0]]
    # The five sites of the listing, and KYOTO, pending approval (issue 17: docs/sites-and-consent.md).
    assert codes == sorted(["TMDU", "OKAYAMA", "HIROSHIMA", "JFCR", "JUNTENDO", "KYOTO"])
    usernames = {u for u, *_ in first[1]}
    assert {"crc_tmdu", "pi_tmdu", "crc_juntendo", "dm", "stat", "monitor"} <= usernames
    assert "demo-password-for-tests" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_generates_and_keeps_a_password(settings, tmp_path, client):
    settings.OLIGAMI_DEMO_PASSWORD = ""
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    password = (tmp_path / "demo-password.txt").read_text().strip()
    assert len(password) >= 12 and password in out.getvalue()
    call_command("seed_demo", stdout=io.StringIO())
    assert (tmp_path / "demo-password.txt").read_text().strip() == password
    assert client.login(username="crc_tmdu", password=password)  # the shared client hands axes its request
