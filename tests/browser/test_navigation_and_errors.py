"""The navigation bar on a laptop (1366x768: one line for every role, in both languages) and on a tablet
(768x1024: collapsed behind the toggler, menus open from it), and the error pages in the site's layout."""

import pytest

from tests.browser.conftest import log_in, menu, speaks, tr
from tests.factories import PASSWORD

LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}


def one_line(page):
    """Every top-level item of the bar sits on the brand's line (a wrapped bar puts some lower)."""
    tops = page.eval_on_selector_all(
        ".navbar .navbar-brand, #mainnav > ul > li", "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    return max(tops) - min(tops) < 20, tops


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("username", ["crc_a", "dm", "stat", "monitor_a"])
def test_every_role_fits_one_line_on_a_laptop(lang_page, lang, username, coordinator_a, data_manager, statistician,
                                              monitor_a):
    page = lang_page
    user = {"crc_a": coordinator_a, "dm": data_manager, "stat": statistician, "monitor_a": monitor_a}[username]
    speaks(user, lang)
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.set_viewport_size(LAPTOP)
    log_in(page, username, PASSWORD)
    assert page.locator("html").get_attribute("lang") == lang
    assert not page.locator(".navbar-toggler").is_visible()
    fits, tops = one_line(page)
    assert fits, f"{username} ({lang}): the bar wraps, items at {tops}"
    # The menus open (Bootstrap's static script, allowed by the Content-Security-Policy).
    page.locator("#nav-account").click()
    assert page.locator("#nav-account + .dropdown-menu").is_visible()
    assert not [line for line in console if "Content Security Policy" in line], console


@pytest.mark.django_db(transaction=True)
def test_the_bar_collapses_on_a_tablet_and_its_menus_work(lang_page, lang, data_manager):
    page = lang_page
    speaks(data_manager, lang)
    page.set_viewport_size(TABLET)
    log_in(page, "dm", PASSWORD)
    assert page.locator(".navbar-toggler").is_visible()
    assert not page.locator("#mainnav").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= TABLET["width"], f"the page is {width} px wide on a {TABLET['width']} px tablet"
    menu(page, lang, "Reports", "Balance")
    page.wait_for_url("**/randomization/balance/")
    menu(page, lang, "Data centre", "Locked accounts")
    page.wait_for_url("**/accounts/locked/")


@pytest.mark.django_db(transaction=True)
def test_error_pages_in_the_layout_say_what_to_do(lang_page, lang, coordinator_a, site_a):
    page = lang_page
    speaks(coordinator_a, lang)
    favicon = []
    page.on("response", lambda r: favicon.append(r.status) if r.url.endswith("/favicon.svg") else None)
    page.goto("/no-such-page/")  # a visitor
    assert page.locator("#error-404").is_visible()
    assert tr(lang, "What to do next") in page.content()
    log_in(page, "crc_a", PASSWORD)
    response = page.goto("/exports/")  # a data-centre page
    assert response.status == 403
    assert page.locator("#error-403").inner_text().startswith(tr(lang, "This page is not open to your role"))
    assert page.locator("#mainnav").count() == 1
    page.get_by_role("link", name=tr(lang, "Go to the home page")).click()
    page.wait_for_url("**/")
    response = page.goto("/screening/patients/99999/")  # not one of hers: 404, in the layout
    assert response.status == 404 and page.locator("#error-404").is_visible()
    page.get_by_role("link", name=tr(lang, "Patient list")).last.click()
    page.wait_for_url("**/screening/patients/")
    assert favicon and set(favicon) <= {200, 304}
