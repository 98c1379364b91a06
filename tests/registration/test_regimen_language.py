"""The therapy plan's regimen in the page's language (issue 20): Japanese pages and certificates show the
Japanese text the data centre entered; English pages, and Japanese ones without it, the regimen as entered."""

import pytest
from django.urls import reverse

from registration import services
from registration.demo import DEMO_PLANS_JA
from tests.registration.factories import JUDGED_ON, make_eligible_screening, register

pytestmark = pytest.mark.django_db


def test_the_certificate_shows_the_regimen_in_the_readers_language(client, site_a, coordinator_a):
    services.save_therapy_plan(subtype="luminal", regimen="Letrozole + palbociclib",
                               regimen_ja="レトロゾール＋パルボシクリブ", planned_courses=3, cycle_length_days=28,
                               effective_from=JUDGED_ON, user=None)
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    client.force_login(coordinator_a)
    url = reverse("registration:certificate", kwargs={"pk": patient.pk})
    english = client.get(url).content.decode()
    assert "Letrozole + palbociclib" in english and "レトロゾール" not in english
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    client.force_login(coordinator_a)
    japanese = client.get(url).content.decode()
    assert "レトロゾール＋パルボシクリブ" in japanese and "Letrozole" not in japanese
    page = client.get(reverse("registration:patient", kwargs={"pk": patient.pk})).content.decode()
    assert "レトロゾール＋パルボシクリブ" in page


def test_without_a_japanese_text_the_regimen_as_entered(site_a, coordinator_a):
    from django.utils import translation

    plan = services.save_therapy_plan(subtype="her2", regimen="Trastuzumab", planned_courses=4,
                                      cycle_length_days=21, effective_from=JUDGED_ON, user=None)
    with translation.override("ja"):
        assert plan.regimen_text == "Trastuzumab"
    assert set(DEMO_PLANS_JA) == {"luminal", "her2", "tnbc"}
