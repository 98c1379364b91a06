"""Enrolment caps in a real browser, in English and Japanese (issue 17): a coordinator at a site at its cap
tries to screen a new patient and is refused, the refusal naming the cap; she asks the data centre; the data
manager finds the request on the to-do, grants more patients with a reason on the site page; the coordinator
screens the patient. Then the refusal path (asked again, refused with a reason the site sees), and the cap
pages tried by other roles (another site's coordinator, the site's monitor, the statistician): the app's own
403 / 404 pages or their own site's data, never a 500.

Every page is checked at 1366x768 and 768x1024: no horizontal page scroll, and on the Japanese pages no
untranslated English in the headings, labels and buttons. Screenshots go to $OLIGAMI_CAP_SHOTS (default
/tmp/caps-shots/)."""

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.utils import translation

from oligami_site import enrolment
from oligami_site.models import EnrolmentRequest, Site
from screening import services
from screening.models import Patient
from tests.browser.conftest import log_in, log_out, speaks, tr
from tests.factories import PASSWORD

SHOTS = Path(os.environ.get("OLIGAMI_CAP_SHOTS", "/tmp/caps-shots"))
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}
BIRTH = dt.date(1968, 7, 15)

# Visible text on a Japanese page that is no English left untranslated: site codes, people's names (the
# factories' users), screening numbers, the texts the test typed, units.
LATIN_ALLOWED = re.compile(r"SITE[AB]|SAE|CONSORT|S\d{4}|Test|User\d*|OLIGAMI|yyyy|mm|dd|Site [AB] Hospital")


def _cap_message(lang, site, count):
    with translation.override(lang):
        return str(enrolment.cap_message(site, count))


def untranslated(page) -> list[str]:
    """Latin words of 3+ letters in the page's visible headings, labels, buttons, table heads, alerts and
    navigation (what a Japanese reader reads first), after the allowed names are taken out."""
    texts = page.locator("h1, h2, h3, h4, h5, h6, label, button, th, legend, .alert, .navbar, .form-text, "
                         "a.btn").all_inner_texts()
    words = []
    for text in texts:
        for word in re.findall(r"[A-Za-z]{3,}", LATIN_ALLOWED.sub(" ", text)):
            words.append(word)
    return words


def check(page, lang, name, *, typed=()):
    """The page at both sizes: no horizontal scroll, a screenshot each; Japanese: no English left."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert page.locator("#error-500, .exception_value").count() == 0
    for size in (LAPTOP, TABLET):
        page.set_viewport_size(size)
        page.wait_for_timeout(50)  # the layout settles
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} scrolls sideways at {size['width']}px ({width}px wide)"
        page.screenshot(path=str(SHOTS / f"{name}-{lang}-{size['width']}.png"), full_page=True)
    page.set_viewport_size(LAPTOP)
    if lang == "ja":
        assert page.locator("html").get_attribute("lang") == "ja"
        left = [w for w in untranslated(page) if not any(w in t for t in typed)]
        assert not left, f"{name}: English on a Japanese page: {left}"


def new_patient_page(page, lang):
    page.get_by_role("link", name=tr(lang, "Patients"), exact=True).first.click()
    page.get_by_role("link", name=tr(lang, "New patient")).click()
    page.wait_for_url("**/screening/patients/new/")


def screen(site, user, n):
    for _ in range(n):
        services.create_patient(site=site, sex="female", birth_date=BIRTH, user=user)


DATA = {"cap": "9", "reason": "x", "decision": "grant", "more": "5", "message": "m", "sex": "female",
        "birth_date": BIRTH.isoformat()}


def post(page, url, data=DATA):
    """A POST from the signed-in browser (its session and CSRF cookie), as a crafted form would send it."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(url, form=data, headers={"X-CSRFToken": token, "Referer": page.url})
    return response.status, response.text()


def proper(lang, answer, expected):
    """The app's own 403 / 404 page, in the reader's language (never a 500 nor a bare error)."""
    status, body = answer
    assert status == expected, (status, body[:300])
    assert f'id="error-{expected}"' in body
    assert tr(lang, "This page is not open to your role" if expected == 403 else "Page not found") in body


@pytest.mark.django_db(transaction=True)
def test_coordinator_asks_data_manager_grants_coordinator_screens(lang_page, lang, site_a, coordinator_a,
                                                                  data_manager):
    page = lang_page
    page.set_viewport_size(LAPTOP)
    speaks(coordinator_a, lang)
    speaks(data_manager, lang)
    screen(site_a, coordinator_a, 1)
    site_a = enrolment.set_cap(site=site_a, cap=1, user=data_manager, reason="Planned accrual")
    message = {"en": "Two more eligible patients this month", "ja": "今月さらに2名の適格患者"}[lang]
    reason = {"en": "Accrual behind target", "ja": "登録が目標より遅れている"}[lang]

    # The coordinator tries to screen a new patient: refused (403), the message naming the cap.
    log_in(page, "crc_a", PASSWORD)
    assert page.locator("html").get_attribute("lang") == lang
    new_patient_page(page, lang)
    refusal = page.locator("#enrolment-cap-refusal")
    assert _cap_message(lang, site_a, 1) in refusal.inner_text()
    assert page.locator("#create-patient").count() == 0
    if lang == "ja":
        assert "症例数上限" in refusal.inner_text()
    check(page, lang, "cap-refused", typed=(message,))

    # She asks the data centre, with a message: the site page shows the request waiting.
    refusal.locator("textarea[name=message]").fill(message)
    refusal.get_by_role("button", name=tr(lang, "Ask the data centre for more patients")).click()
    page.wait_for_url(f"**/sites/{site_a.pk}/")
    sent = tr(lang, "Your request for %(site)s was sent to the data centre. You will see its decision here.")
    assert sent % {"site": "SITEA"} in page.locator("body").inner_text()
    assert page.locator("#enrolment-cap-SITEA .enrolment-pending").is_visible()
    assert message in page.locator("#enrolment-requests").inner_text()
    check(page, lang, "cap-request-sent", typed=(message,))
    request = EnrolmentRequest.objects.get()
    assert (request.status, request.cap, request.screened, request.message) == ("pending", 1, 1, message)
    # The new-patient page now says the request is waiting, and offers no second one.
    new_patient_page(page, lang)
    assert page.locator("#enrolment-cap-refusal .enrolment-pending").is_visible()
    assert page.locator(".enrolment-request-form").count() == 0
    log_out(page, lang)

    # The data manager: the request on the home page's to-do, to the site page, a grant without a number
    # refused, then 2 more patients with a reason.
    log_in(page, "dm", PASSWORD)
    todo = page.get_by_text(tr(lang, "Requests to screen beyond an enrolment cap"))
    assert todo.first.is_visible()
    check(page, lang, "cap-dm-todo")
    page.locator(f"a[href='/sites/{site_a.pk}/#enrolment-decision']").click()
    page.wait_for_url(f"**/sites/{site_a.pk}/#enrolment-decision")
    form = page.locator("#enrolment-decision-form")
    box = page.locator("#enrolment-decision").bounding_box()  # the link lands on the decision
    assert -1 <= box["y"] < LAPTOP["height"] - 100, box
    assert message in page.locator("main, body").first.inner_text()
    if lang == "ja":
        assert f"「{message}」" in page.locator("main, body").first.inner_text()  # quoted the Japanese way
    check(page, lang, "cap-dm-site", typed=(message,))
    form.locator("input[name=decision][value=grant]").check()
    form.locator("#id_reason").fill(reason)
    page.locator("#decide-request").click()
    page.wait_for_load_state()
    assert tr(lang, "Give the number of patients granted.") in page.locator("#enrolment-decision-form").inner_text()
    check(page, lang, "cap-dm-grant-error", typed=(message, reason))
    form = page.locator("#enrolment-decision-form")
    form.locator("input[name=decision][value=grant]").check()
    form.locator("#id_more").fill("2")
    form.locator("#id_reason").fill(reason)
    page.locator("#decide-request").click()
    page.wait_for_url(f"**/sites/{site_a.pk}/")
    assert Site.objects.get(pk=site_a.pk).enrolment_cap == 3
    assert page.locator("#enrolment-decision-form").count() == 0
    assert reason in page.locator("#enrolment-requests").inner_text()
    assert reason in page.locator("#site-history").inner_text()
    check(page, lang, "cap-dm-granted", typed=(message, reason))
    log_out(page, lang)

    # The coordinator sees the grant on the new-patient page and screens the patient.
    log_in(page, "crc_a", PASSWORD)
    new_patient_page(page, lang)
    decision = page.locator("#enrolment-cap-SITEA .enrolment-decision").inner_text()
    assert reason in decision and "2" in decision
    count = tr(lang, "%(site)s: %(screened)s of %(cap)s patients screened (enrolment cap).")
    assert count % {"site": "SITEA", "screened": 1, "cap": 3} in page.locator("#enrolment-cap-SITEA").inner_text()
    check(page, lang, "cap-granted-new-patient", typed=(message, reason))
    page.check("input[name='sex'][value='female']")
    page.fill("#id_birth_date", BIRTH.isoformat())
    page.click("#create-patient")
    page.wait_for_url(re.compile(r"/screening/patients/\d+/$"))
    assert "SITEA-S0002" in page.locator("h1").inner_text()
    assert Patient.objects.filter(site=site_a).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_refused_request_and_the_cap_pages_for_other_roles(lang_page, lang, site_a, site_b, coordinator_a,
                                                             coordinator_b, monitor_a, statistician,
                                                             data_manager):
    page = lang_page
    page.set_viewport_size(LAPTOP)
    for user in (coordinator_a, coordinator_b, monitor_a, statistician, data_manager):
        speaks(user, lang)
    screen(site_a, coordinator_a, 2)
    screen(site_b, coordinator_b, 1)
    site_a = enrolment.set_cap(site=site_a, cap=2, user=data_manager, reason="Planned accrual")
    reason = {"en": "Target met at the other sites", "ja": "他施設で目標症例数に達した"}[lang]

    # The coordinator asks (no message); the data manager refuses with a reason.
    log_in(page, "crc_a", PASSWORD)
    new_patient_page(page, lang)
    page.locator("#enrolment-cap-refusal").get_by_role(
        "button", name=tr(lang, "Ask the data centre for more patients")).click()
    page.wait_for_url(f"**/sites/{site_a.pk}/")
    request = EnrolmentRequest.objects.get()
    log_out(page, lang)
    log_in(page, "dm", PASSWORD)
    page.goto(f"/sites/{site_a.pk}/")
    form = page.locator("#enrolment-decision-form")
    form.locator("input[name=decision][value=refuse]").check()
    form.locator("#id_reason").fill(reason)
    page.locator("#decide-request").click()
    page.wait_for_url(f"**/sites/{site_a.pk}/")
    request.refresh_from_db()
    assert (request.status, request.decision_reason) == ("refused", reason)
    assert Site.objects.get(pk=site_a.pk).enrolment_cap == 2
    check(page, lang, "cap-dm-refused", typed=(reason,))
    log_out(page, lang)

    # The coordinator sees the refusal and its reason, and may ask again.
    log_in(page, "crc_a", PASSWORD)
    new_patient_page(page, lang)
    refusal = page.locator("#enrolment-cap-refusal")
    assert reason in refusal.locator(".enrolment-decision").inner_text()
    assert _cap_message(lang, Site.objects.get(pk=site_a.pk), 2) in refusal.inner_text()
    assert refusal.locator(".enrolment-request-form").count() == 1
    check(page, lang, "cap-refused-again", typed=(reason,))
    # The new-patient page's POST is refused as well (403, naming the cap), nothing written.
    status, body = post(page, "/screening/patients/new/", {"site": str(site_a.pk), **DATA})
    assert status == 403 and _cap_message(lang, site_a, 2) in body.replace("&#x27;", "'")
    assert Patient.objects.filter(site=site_a).count() == 2
    log_out(page, lang)

    site_url = f"/sites/{site_a.pk}/"
    post_urls = [f"/sites/{site_a.pk}/enrolment-cap/", f"/sites/{site_a.pk}/enrolment-request/",
                 f"/sites/{site_a.pk}/enrolment-requests/{request.pk}/"]

    # Another site's coordinator: site A's page and its forms are not found; her own new-patient page
    # offers only her own site (no cap there).
    log_in(page, "crc_b", PASSWORD)
    page.goto(site_url)
    assert page.locator("#error-404").is_visible()
    check(page, lang, "cap-other-site-404")
    for url in post_urls:
        proper(lang, post(page, url), 404)
    new_patient_page(page, lang)
    assert page.locator("#create-patient").is_visible()
    options = page.locator("#id_site option").all_inner_texts()
    assert options and all("SITEB" in o for o in options) and "SITEA" not in page.content()
    check(page, lang, "cap-other-site-new-patient")
    log_out(page, lang)

    # The site's monitor reads the site page (the cap, the requests), without any form; the cap's POSTs
    # and the new-patient page are 403.
    log_in(page, "monitor_a", PASSWORD)
    page.goto(site_url)
    assert page.locator("#enrolment-cap-SITEA").is_visible()
    assert reason in page.locator("#enrolment-requests").inner_text()
    assert page.locator("#enrolment-requests").bounding_box()["width"] > LAPTOP["width"] * 0.9  # not half a page
    assert page.locator("form#enrolment-cap-form, form#enrolment-decision-form, .enrolment-request-form").count() == 0
    check(page, lang, "cap-monitor-site", typed=(reason,))
    for url in [*post_urls, "/screening/patients/new/"]:
        proper(lang, post(page, url), 403)
    page.goto("/screening/patients/new/")
    assert page.locator("#error-403").is_visible()
    check(page, lang, "cap-monitor-new-patient-403")
    log_out(page, lang)

    # The statistician: no site pages, no new-patient page (403), never a 500.
    log_in(page, "stat", PASSWORD)
    for url in (site_url, "/sites/", "/screening/patients/new/"):
        page.goto(url)
        assert page.locator("#error-403").is_visible(), url
    check(page, lang, "cap-statistician-403")
    for url in [*post_urls, "/screening/patients/new/"]:
        proper(lang, post(page, url), 403)

    site_a.refresh_from_db()
    request.refresh_from_db()
    assert (site_a.enrolment_cap, request.status, EnrolmentRequest.objects.count()) == (2, "refused", 1)
    assert Patient.objects.filter(site=site_a).count() == 2
