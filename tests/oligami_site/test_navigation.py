"""The navigation bar and the error pages: every link a role is offered answers it (never 403 or 404), no
trial page is offered before the second factor is given, and 403, 404, 500, the expired form and the
lockout page come in the site's layout, translated, saying what to do next."""

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views import defaults

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """A Japanese request leaves its language active in the thread: later tests would run in it."""
    yield
    translation.deactivate()


ROLES = ("coordinator_a", "investigator_a", "monitor_a", "data_manager", "statistician", "no_role_user")


def nav_links(html):
    """The hrefs of the main navigation (links only: logging out is a POST form)."""
    nav = html[html.index('<nav class="navbar'):html.index("</nav>")]
    return re.findall(r'href="([^"#]+)"', nav)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_link_of_every_role_answers_that_role(client, request, role, lang):
    user = request.getfixturevalue(role)
    user.preferred_language = lang
    user.save(update_fields=["preferred_language"])
    client.force_login(user)
    html = client.get(reverse("home")).content.decode()
    links = nav_links(html)
    assert reverse("home") in links
    for href in links:
        response = client.get(href)
        assert response.status_code == 200, f"{role}: menu item {href} answers {response.status_code}"


def test_the_roles_get_the_menus_they_work_with(client, coordinator_a, monitor_a, data_manager, statistician):
    client.force_login(data_manager)
    links = nav_links(client.get(reverse("home")).content.decode())
    for name in ("screening:patient_list", "screening:log", "oversight:reports", "oversight:exports",
                 "locked_accounts", "admin:index", "randomization:balance"):
        assert reverse(name) in links, name
    assert reverse("calendar") not in links  # the feed is for site roles: it answered the data manager 403
    client.force_login(coordinator_a)
    links = nav_links(client.get(reverse("home")).content.decode())
    assert reverse("calendar") in links and reverse("screening:patient_list") in links
    assert reverse("oversight:exports") not in links and reverse("admin:index") not in links
    client.force_login(statistician)
    links = nav_links(client.get(reverse("home")).content.decode())
    assert reverse("randomization:balance") in links and reverse("screening:patient_list") not in links


@pytest.mark.parametrize("who", ["data_manager", "enrolled_coordinator"])
def test_no_trial_page_in_the_menu_before_the_second_factor(password_only_client, request, who, coordinator_a):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if who == "data_manager":
        user = request.getfixturevalue("data_manager")
        TOTPDevice.objects.filter(user=user).delete()  # not enrolled yet: the setup page
    else:
        user = coordinator_a
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)  # enrolled: the code page
    password_only_client.login(username=user.username, password=PASSWORD)
    response = password_only_client.get(reverse("home"), follow=True)
    assert "/accounts/two-factor/" in response.redirect_chain[-1][0]
    html = response.content.decode()
    links = nav_links(html)
    for name in ("screening:patient_list", "screening:log", "oversight:reports", "oversight:exports",
                 "locked_accounts", "admin:index", "calendar", "two_factor", "password_change"):
        assert reverse(name) not in links, name
    assert reverse("logout") in html  # the way out stays


@pytest.mark.parametrize("lang,texts", [
    ("en", ("This page is not open to your role", "What to do next", "ask the data centre")),
    ("ja", ("このページはあなたの役割では開けません", "次にすること", "データセンター")),
])
def test_403_in_the_layout_translated_with_what_to_do(client, coordinator_a, lang, texts):
    coordinator_a.preferred_language = lang
    coordinator_a.save(update_fields=["preferred_language"])
    client.force_login(coordinator_a)
    response = client.get(reverse("oversight:exports"))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'id="error-403"' in html and 'class="navbar' in html and "favicon.svg" in html
    assert reverse("screening:patient_list") in nav_links(html)  # the menus are there to go on from
    for text in texts:
        assert text in html


@pytest.mark.parametrize("lang,texts", [
    ("en", ("Page not found", "What to do next", "screening number, registration number or initials")),
    ("ja", ("ページが見つかりません", "次にすること", "スクリーニング番号、登録番号またはイニシャル")),
])
def test_404_in_the_layout_translated_for_users_and_visitors(client, coordinator_a, lang, texts):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 404
    html = response.content.decode()
    assert 'id="error-404"' in html and texts[0] in html and texts[1] in html
    assert reverse("login") not in nav_links(html) and 'id="mainnav"' not in html  # a visitor: no menus
    coordinator_a.preferred_language = lang
    coordinator_a.save(update_fields=["preferred_language"])
    client.force_login(coordinator_a)
    response = client.get(reverse("screening:patient_detail", args=[987654]))  # someone else's or no one's
    assert response.status_code == 404
    html = response.content.decode()
    assert 'id="mainnav"' in html and all(text in html for text in texts)


@pytest.mark.parametrize("lang,title", [("en", "Something went wrong on our side"),
                                        ("ja", "サーバー側でエラーが発生しました")])
def test_500_renders_without_request_or_database(lang, title, django_assert_num_queries):
    """Django renders 500.html with no request (the database may be the cause): no menus, no queries."""
    request = RequestFactory().get("/somewhere/")
    with translation.override(lang), django_assert_num_queries(0):
        response = defaults.server_error(request)
    html = response.content.decode()
    assert response.status_code == 500 and title in html and 'id="error-500"' in html
    assert "favicon.svg" in html and "bootstrap.min.css" in html and 'id="mainnav"' not in html


@pytest.mark.parametrize("lang,title", [("en", "This form has expired"), ("ja", "フォームの有効期限が切れました")])
def test_an_expired_form_says_what_to_do(coordinator_a, lang, title):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE=lang)
    response = csrf_client.post(reverse("login"), {"username": "crc_a", "password": PASSWORD})
    assert response.status_code == 403
    html = response.content.decode()
    assert title in html and 'id="error-403-csrf"' in html and "favicon.svg" in html


@pytest.mark.parametrize("lang,texts", [
    ("en", ("Account locked", "ask the data centre")),
    ("ja", ("アカウントのロック", "データセンター")),
])
def test_the_lockout_page_in_the_layout_translated(client, coordinator_a, lang, texts):
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "crc_a", "password": "wrong"},
                               HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 429
    html = response.content.decode()
    assert 'class="navbar' in html and "favicon.svg" in html and 'id="locked-out"' in html
    for text in texts:
        assert text in html


def test_the_favicon_is_a_static_file_on_every_page(client, coordinator_a):
    html = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/oligami/favicon.svg"' in html

