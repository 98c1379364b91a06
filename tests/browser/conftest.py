"""Playwright for Python driving Debian's Chromium (/usr/bin/chromium; never a browser download).

The pages are served by pytest-django's live_server. Playwright's sync API runs an event loop in the
test thread, so Django's async-safety check must be relaxed for the ORM calls tests make beside it.
"""

import os
from pathlib import Path

import pytest

from tests.conftest import need

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def _playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(_playwright):
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (apt-get install chromium)")
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="en-US", timezone_id="Asia/Tokyo", base_url=live_server.url)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_ja(browser, live_server):
    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", base_url=live_server.url,
                                  extra_http_headers={"Accept-Language": "ja"})
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username, password):
    """Log in as a person does: password, then (for users with an authenticator app, e.g. data managers)
    the 6-digit code the app would show now, typed into the real verification page."""
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("#submit-id-submit").click()
    page.wait_for_load_state()
    if "/accounts/two-factor/verify/" in page.url:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from tests.factories import totp_token

        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        page.locator("#id_token").fill(totp_token(device))
        page.locator("#submit-token").click()
        page.wait_for_load_state()


# Journeys in both languages. A journey takes `lang_page` (parametrized en / ja: the `page` or `page_ja`
# context) and `lang`; `tr(lang, english)` is what the page shows for an English msgid (Django's catalogue,
# so a label written once serves both languages); `pick(lang, en, ja)` is for literal texts a test wants to
# see written out (the Japanese terms of docs/i18n.md). Japanese journeys also assert literal Japanese, so an
# untranslated string cannot pass as "translated to itself".
LANGUAGES = ("en", "ja")


def tr(lang, text):
    from django.utils import translation

    with translation.override(lang):
        return translation.gettext(text)


def pick(lang, en, ja):
    return ja if lang == "ja" else en


def speaks(user, lang):
    """The user's profile language decides the pages once signed in (docs/i18n.md)."""
    user.preferred_language = lang
    user.save(update_fields=["preferred_language"])
    return user


@pytest.fixture(params=LANGUAGES)
def lang(request):
    return request.param


@pytest.fixture
def lang_page(request, lang):
    return request.getfixturevalue("page_ja" if lang == "ja" else "page")


def menu(page, lang, label, item):
    """Open a menu of the navigation bar (the toggler first, on a narrow screen) and follow one of its items."""
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
        toggler.click()
    page.locator("#mainnav").get_by_role("button", name=tr(lang, label), exact=True).click()
    page.locator("#mainnav .dropdown-menu.show").get_by_role("link", name=tr(lang, item)).click()
    page.wait_for_load_state()


def log_out(page, lang="en"):
    """Log out through the account menu (the user's name), as a person does."""
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
        toggler.click()
    page.locator("#nav-account").click()
    page.locator("#mainnav .dropdown-menu.show").get_by_role("button", name=tr(lang, "Log out")).click()
    page.wait_for_url("**/accounts/login/")


@pytest.fixture(autouse=True)
def _consent_version(request):
    """The consent document version the screening form offers (P18, issue 17) exists before a page is
    opened: a version created after the form was rendered would not be among its choices."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from tests.factories import initial_consent_version

    initial_consent_version()
