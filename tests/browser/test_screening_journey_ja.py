"""The screening journey in Japanese: a coordinator whose profile is Japanese logs in from a Japanese
browser, screens a patient to eligible, then a fourth lesion fails P5 with the reason in Japanese; the
footer switcher changes her profile to English."""

import pytest

from oligami_site.models import User
from screening.models import Patient
from tests.browser.conftest import log_in
from tests.browser.test_screening_journey import add_third_and_fourth_lesion, criterion_status, fill_screening
from tests.factories import PASSWORD
from tests.screening.factories import eligible_inputs


@pytest.mark.django_db(transaction=True)
def test_coordinator_screens_a_patient_in_japanese(page_ja, coordinator_a, site_a):
    page = page_ja
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    page.goto("/accounts/login/")
    assert page.locator("h1").inner_text() == "OLIGAMI 施設管理システムにログイン"
    log_in(page, "crc_a", PASSWORD)
    assert page.locator("html").get_attribute("lang") == "ja"
    assert "ワークリスト" in page.locator("main").inner_text()

    page.get_by_role("link", name="患者", exact=True).first.click()
    page.get_by_role("link", name="新規患者").click()
    page.check("input[name='sex'][value='female']")
    page.fill("#id_birth_date", "1968-07-15")
    page.click("#create-patient")
    page.wait_for_url("**/screening/patients/*/")
    assert "患者 SITEA-S0001 を作成しました。" in page.locator("main").inner_text()

    page.click("#start-screening")
    data, lesions, labs = eligible_inputs()  # the eligible luminal worked case, judged 2026-03-02
    fill_screening(page, data, lesions, labs)
    page.click("#save-check")
    page.wait_for_url("**/screening/screenings/*/")
    banner = page.locator("#eligible-banner").inner_text()
    assert "一次登録の適格" in banner and "除外規準E1〜E13のいずれにも該当しません" in banner
    assert page.locator("#subtype").inner_text() == "ルミナル型"
    assert page.locator("#criterion-P16 td .status-met").first.inner_text().strip() == "✓ 満たす"
    assert "クレアチニン 0.70 mg/dL ≤ 2.3 mg/dL（ルミナル型）" in page.locator("#criterion-P16").inner_text()
    assert "✓ 該当しない" in page.locator("#criterion-E1").inner_text()

    # A third and a fourth oligometastasis: the change needs a reason, and P5 fails with a Japanese reason.
    page.click("#edit-screening")
    add_third_and_fourth_lesion(page)
    page.click("#save-check")
    assert "変更理由を入力してください" in page.content()
    page.fill("#id_reason", "PET報告書で病変が2個追加")
    page.click("#save-check")
    page.wait_for_url("**/screening/screenings/*/")
    assert criterion_status(page, "P5") == "not_met"
    p5 = page.locator("#criterion-P5").inner_text()
    assert "✗ 満たさない" in p5 and "記録されたオリゴ転移：4個（許容：1〜3個）" in p5
    assert "不適格" in page.locator("#verdict-summary").inner_text()
    assert Patient.objects.get().stage == Patient.Stage.SCREEN_FAILED

    page.get_by_role("link", name="スクリーニングログ").click()
    row = page.locator("tr.log-row").first.inner_text()
    assert "SITEA-S0001" in row and "P5" in row and "記録されたオリゴ転移：4個" in row

    # The footer switcher saves English on her profile.
    page.select_option("#language-select", "en")
    page.get_by_role("button", name="切り替え").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en" and "Screening log" in page.locator("h1").inner_text()
    assert User.objects.get(username="crc_a").preferred_language == "en"
