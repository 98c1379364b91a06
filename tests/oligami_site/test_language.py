"""Language per user: the profile decides once signed in, the switcher saves it, and Japanese users get
Japanese pages (worklist, checklist with the engine's reasons, admin) and Japanese date formats."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from screening import services
from tests.screening.factories import eligible_inputs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_english():
    yield
    translation.activate(settings.LANGUAGE_CODE)  # a request leaves its language active in this thread


def _japanese(user):
    user.preferred_language = "ja"
    user.save()
    return user


def _lang(html):
    return re.search(r'<html lang="([\w-]+)"', html).group(1)


def test_a_signed_in_user_gets_her_profile_language_whatever_the_browser_asks(client, coordinator_a):
    client.force_login(_japanese(coordinator_a))
    html = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _lang(html) == "ja" and "ワークリスト" in html and "Worklist" not in html


def test_an_english_profile_wins_over_a_japanese_browser_and_cookie(client, coordinator_a):
    client.force_login(coordinator_a)  # the factory's users prefer English
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    html = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert _lang(html) == "en" and "Worklist" in html


def test_the_login_page_follows_the_browser(client):
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert _lang(html) == "ja"
    assert "OLIGAMI 施設管理システムにログイン" in html and "ログイン" in html and "Log in" not in html
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _lang(html) == "en" and "Log in to the OLIGAMI site manager" in html


def test_the_footer_switcher_changes_the_profile_when_signed_in_and_the_cookie_otherwise(client, coordinator_a):
    assert f'action="{reverse("set_language")}"' in client.get(reverse("login")).content.decode()
    client.force_login(coordinator_a)
    assert f'action="{reverse("set_user_language")}"' in client.get(reverse("home")).content.decode()


def test_switching_saves_the_language_on_the_profile(client, coordinator_a):
    client.force_login(coordinator_a)
    response = client.post(reverse("set_user_language"), {"language": "ja", "next": "/screening/"})
    assert response.status_code == 302 and response["Location"] == "/screening/"
    coordinator_a.refresh_from_db()
    assert coordinator_a.preferred_language == "ja"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ja"  # the login page after logout too
    assert _lang(client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()) == "ja"

    client.post(reverse("set_user_language"), {"language": "en", "next": "/"})
    coordinator_a.refresh_from_db()
    assert coordinator_a.preferred_language == "en"


def test_switching_ignores_an_unknown_language_and_a_foreign_next(client, coordinator_a):
    client.force_login(coordinator_a)
    response = client.post(reverse("set_user_language"), {"language": "fr", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    coordinator_a.refresh_from_db()
    assert coordinator_a.preferred_language == "en"
    assert client.get(reverse("set_user_language")).status_code == 405  # a change is a POST


def test_a_japanese_coordinator_sees_the_worklist_and_navigation_in_japanese(client, coordinator_a, site_a):
    client.force_login(_japanese(coordinator_a))
    html = client.get(reverse("home")).content.decode()
    for text in ("ワークリスト", "さん、ようこそ", "所属施設と役割", "臨床研究コーディネーター（CRC）",
                 "スクリーニングログ", "ログアウト", "パスワード変更", "Aサイト病院",
                 "時刻は日本標準時（Asia/Tokyo）で表示しています。"):
        assert text in html, text
    for text in ("Worklist", "Welcome", "Log out", "Clinical research coordinator"):
        assert text not in html, text


def test_a_japanese_checklist_shows_criteria_statuses_and_reasons_in_japanese(client, coordinator_a, site_a):
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)
    data, lesions, labs = eligible_inputs()
    lesions += [{"organ": "lung", "diameter_mm": Decimal("5"), "mdt_feasible": True, "symptomatic": False}] * 2
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    client.force_login(_japanese(coordinator_a))
    html = client.get(reverse("screening:checklist", args=[screening.pk])).content.decode()
    row = dict(re.findall(r'<tr id="criterion-(\w+)"[^>]*>(.*?)</tr>', html, re.S))
    assert "満たさない" in row["P5"] and "記録されたオリゴ転移：4個（許容：1〜3個）" in row["P5"]
    assert "組織学的に浸潤性乳癌と診断されている" in row["P1"] and "満たす" in row["P1"]
    assert "組織学的浸潤癌：はい（規準：はい）" in row["P1"]
    assert "該当しない" in row["E1"] and "活動性の重複癌：いいえ（除外に該当しない）" in row["E1"]
    assert "クレアチニン" in row["P16"] and "ルミナル型" in row["P16"]
    assert "oligometastases recorded" not in html and "not met" not in html


def test_the_admin_customisations_are_in_japanese(client, data_manager):
    client.force_login(_japanese(data_manager))
    html = client.get(reverse("admin:index")).content.decode()
    assert "OLIGAMI データセンター" in html


def test_dates_use_the_japanese_format_for_japanese_users():
    template = Template("{{ day }} / {{ moment }}")
    context = Context({"day": dt.date(2026, 3, 2),
                       "moment": dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)})  # shown in Asia/Tokyo
    with translation.override("ja"), timezone.override("Asia/Tokyo"):
        assert template.render(context) == "2026年3月2日 / 2026年3月2日10:30"
    with translation.override("en"), timezone.override("Asia/Tokyo"):
        assert template.render(context) == "March 2, 2026 / March 2, 2026, 10:30 a.m."


def test_japanese_forms_show_the_engine_help_and_the_subtype_in_japanese(client, coordinator_a, site_a):
    patient = services.create_patient(site=site_a, sex="female", birth_date=dt.date(1968, 7, 15), user=coordinator_a)
    data, lesions, labs = eligible_inputs()
    data["screening_date"] = timezone.localdate()
    labs["date"] = timezone.localdate()
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    client.force_login(_japanese(coordinator_a))
    form = client.get(reverse("screening:screening_edit", args=[screening.pk])).content.decode()
    assert "P9: 登録日時点の満年齢。" in form and "Completed years" not in form  # criterion help, built per request
    primary = client.get(reverse("registration:primary", args=[patient.pk])).content.decode()
    assert "サブタイプ: ルミナル型" in primary and "luminal" not in primary
