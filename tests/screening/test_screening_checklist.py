"""The checklist: every criterion with its status in words and symbols, the eligible banner only when
eligible, reasons rendered from the stored snapshot in the reader's language."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from screening import eligibility as rules
from screening import services, verdicts
from tests.screening.factories import eligible_inputs

pytestmark = pytest.mark.django_db
BANNER = "Eligible for primary registration"


def screen(site, user, change=None, birth=dt.date(1968, 7, 15)):
    patient = services.create_patient(site=site, sex="female", birth_date=birth, user=user)
    data, lesions, labs = eligible_inputs()
    if change:
        change(data, lesions, labs)
    return services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=user)


def rows(page):
    """{criterion id: (status, row html)} from the checklist tables."""
    found = re.findall(r'<tr id="criterion-(\w+)" class="[^"]*" data-status="(\w+)">(.*?)</tr>', page, re.S)
    return {cid: (status, body) for cid, status, body in found}


@pytest.fixture
def crc(client, coordinator_a):
    client.force_login(coordinator_a)
    return client


def test_eligible_checklist_shows_every_criterion_met_and_the_banner(crc, site_a, coordinator_a):
    screening = screen(site_a, coordinator_a)
    page = crc.get(reverse("screening:checklist", args=[screening.pk])).content.decode()
    found = rows(page)
    assert list(found) == [*rules.PRIMARY_IDS, *rules.EXCLUSION_IDS]
    for cid, (status, body) in found.items():
        assert status == "met"
        assert "✓" in body and ("does not apply" if cid.startswith("E") else "met") in body
    assert BANNER in page and 'id="eligible-banner"' in page
    assert rules.ENGINE_VERSION in page
    assert "creatinine 0.70 mg/dL" in page and "2.3 mg/dL" in page


def test_a_failure_is_red_with_a_word_and_no_banner(crc, site_a, coordinator_a):
    def four(data, lesions, labs):
        lesions += [{"organ": "lung", "diameter_mm": Decimal("5"), "mdt_feasible": True, "symptomatic": False}] * 2

    screening = screen(site_a, coordinator_a, four)
    page = crc.get(reverse("screening:checklist", args=[screening.pk])).content.decode()
    status, body = rows(page)["P5"]
    assert status == "not_met" and "✗" in body and "not met" in body and "status-not_met" in body
    assert ": 4 (" in body  # the reason names the count and the limit
    assert BANNER not in page and "Not eligible (screen failure)" in page


def test_an_exclusion_that_applies(crc, site_a, coordinator_a):
    screening = screen(site_a, coordinator_a, lambda d, les, lab: d.update(e7=True))
    status, body = rows(crc.get(reverse("screening:checklist", args=[screening.pk])).content.decode())["E7"]
    assert status == "not_met" and "applies (excluded)" in body and "✗" in body


def test_a_draft_shows_missing_in_grey_with_a_word(crc, site_a, coordinator_a):
    screening = screen(site_a, coordinator_a, lambda d, les, lab: (d.update(consent_date=None), lab.clear()))
    page = crc.get(reverse("screening:checklist", args=[screening.pk])).content.decode()
    found = rows(page)
    for cid in ("P16", "P18"):
        status, body = found[cid]
        assert status == "missing" and "?" in body and "missing" in body and "status-missing" in body
    assert "consent date: not recorded" in found["P18"][1]
    assert BANNER not in page and "Not yet eligible: facts are missing." in page


def test_a_superseded_eligible_screening_has_no_banner(crc, site_a, coordinator_a):
    first = screen(site_a, coordinator_a)
    services.start_rescreening(patient=first.patient, user=coordinator_a)
    page = crc.get(reverse("screening:checklist", args=[first.pk])).content.decode()
    assert BANNER not in page and "superseded by screening 2" in page


def test_reasons_are_rendered_through_the_translation_function():
    """The snapshot keeps template and parameters, so a reason renders in any language later."""
    verdict = rules.evaluate(rules.PrimaryFacts(lesions=[rules.Lesion(organ="bone", diameter_mm=Decimal("40"))]))
    snap = verdicts.snapshot(verdict)
    catalogue = {
        "lesion %(n)s (%(organ)s): %(value)s mm > %(limit)s mm": "病変%(n)s（%(organ)s）: %(value)s mm > %(limit)s mm",
        "bone": "骨",
    }
    p5 = next(c for c in snap["criteria"] if c["id"] == "P5")
    rendered = verdicts.render_reason(p5, lambda s: catalogue.get(s, s))
    english = verdicts.render_reason(p5, lambda s: s)
    assert english == p5["reason"] == verdict.criterion("P5").reason
    if p5["template"] in catalogue:
        assert rendered.startswith("病変1（骨）")
    # A translation that lost a placeholder falls back to the stored English reason.
    assert verdicts.render_reason(p5, lambda s: "broken %(nothing)s") == p5["reason"]


def test_checklist_in_japanese_keeps_ids_and_statuses(client, site_a, coordinator_a):
    screening = screen(site_a, coordinator_a)
    coordinator_a.preferred_language = "ja"  # a signed-in user's profile decides the language
    coordinator_a.save()
    client.force_login(coordinator_a)
    try:
        page = client.get(reverse("screening:checklist", args=[screening.pk]),
                          HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    finally:
        translation.activate("en")  # LocaleMiddleware leaves the request's language active in this thread
    assert 'lang="ja"' in page
    assert list(rows(page)) == [*rules.PRIMARY_IDS, *rules.EXCLUSION_IDS]
