"""The reasons the system writes on history rows, shown translated on Japanese pages (oligami_site/reasons.py),
while the reasons people type stay exactly as typed; and the audit trail's field names and values in Japanese."""

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone, translation

from oligami_site import reasons
from oligami_site.models import Signature, SignatureFailure
from oligami_site.signatures import SignatureRefused
from registration import services as registration_services
from tests.factories import PASSWORD
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

DAY = dt.timedelta(days=1)
TYPED = "Creatinine re-measured"


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """A Japanese request leaves its language active in the thread: later tests' services would sign in it."""
    yield
    translation.deactivate()


def test_fixed_and_patterned_reasons_are_translated_and_typed_ones_kept():
    with translation.override("ja"):
        assert reasons.display("Patient created") == "患者作成"
        assert reasons.display("Screening entered") == "スクリーニング入力"
        assert reasons.display("Wrong signature password") == "電子署名のパスワード誤り"
        assert reasons.display("Primary registration OLG-0007") == "一次登録 OLG-0007"
        assert reasons.display("Off study: Patient's wish") == "試験中止：Patient's wish"  # her words as typed
        assert reasons.display(TYPED) == TYPED
        assert reasons.display("") == "" and reasons.display(None) == ""
    with translation.override("en"):
        assert reasons.display("Primary registration OLG-0007") == "Primary registration OLG-0007"
    assert reasons.is_system("Signed: I confirm") and not reasons.is_system(TYPED)


@pytest.fixture
def randomized_a(site_a, coordinator_a):
    make_plans()
    minimization_config()
    today = timezone.localdate()
    patient = register(make_eligible_screening(site=site_a, on=today - 90 * DAY), coordinator_a).patient
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    registration_services.record_evaluation(
        patient=patient, data={"date": today - 2 * DAY, "overall_response": "PR", "progression": False,
                               "new_distant_metastasis": False, "remaining_lesions": 2, "courses_given": 3,
                               "mdt_since_primary": False, "ecog": 0},
        labs={"date": today - 2 * DAY, "anc": Decimal("3000"), "hemoglobin": Decimal("12.0"),
              "platelets": Decimal("220000"), "bilirubin": Decimal("0.6"), "ast": Decimal("20"),
              "alt": Decimal("20"), "creatinine": Decimal("1.30")},
        user=coordinator_a, reason=TYPED)
    with pytest.raises(SignatureRefused):
        registration_services.register_secondary(patient=patient, user=coordinator_a, password="wrong")
    registration_services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    patient.refresh_from_db()
    return patient


@pytest.mark.django_db
def test_every_reason_the_services_write_is_a_catalogue_phrase_or_typed(randomized_a):
    """Walk every history row the journey wrote: a reason nobody typed must be in the catalogue (translated)."""
    written = set()
    for model in apps.get_models():
        if model.__name__.startswith("Historical") and (model._meta.app_label in (
                "screening", "registration", "randomization", "oversight")
                or model in (Signature.history.model, SignatureFailure.history.model)):  # the core's e-signatures
            written |= set(model.objects.exclude(history_change_reason=None).values_list(
                "history_change_reason", flat=True))
    written -= {TYPED, "", "Demo set-up"}
    assert {"Wrong signature password", "Randomized"} <= written, written
    untranslated = []
    with translation.override("ja"):
        for reason in written:
            if not reasons.is_system(reason) or reasons.display(reason) == reason:
                untranslated.append(reason)
    assert not untranslated, f"add to oligami_site/reasons.py and translate: {sorted(untranslated)}"


@pytest.mark.django_db
def test_the_trail_reads_in_japanese(client, randomized_a, coordinator_a):
    coordinator_a.preferred_language = "ja"
    coordinator_a.save(update_fields=["preferred_language"])
    client.force_login(coordinator_a)
    html = client.get(reverse("oversight:trail", args=[randomized_a.pk])).content.decode()
    for english in ("Patient created", "Screening entered", "Wrong signature password", "sequence:",
                    "eligible: True", "excluded_by", "created at"):
        assert english not in html, english
    number = randomized_a.primary_registration.number
    for japanese in ("電子署名のパスワード誤り", f"一次登録 {number}", "ランダム化（割付 #1）", "通し番号",
                     "適格: はい"):
        assert japanese in html, japanese
    assert TYPED in html  # typed by a person: kept as typed


@pytest.mark.django_db
def test_the_admin_history_reads_in_japanese(client, randomized_a, data_manager):
    data_manager.preferred_language = "ja"
    data_manager.save(update_fields=["preferred_language"])
    client.force_login(data_manager)
    response = client.get(reverse("admin:screening_patient_history", args=[randomized_a.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    number = randomized_a.primary_registration.number
    # The patient's stage moves at primary registration and at randomization (screening.stages: secondary
    # registration and randomization are one step, so the patient's row says "randomized").
    for japanese in ("変更理由", "変更者", f"一次登録 {number}", "ランダム化（割付 #"):
        assert japanese in html, japanese
    assert f"Primary registration {number}" not in html and "Change reason" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("lang,wording", [("en", ("does not apply", "met")), ("ja", ("該当しない", "満たす"))])
def test_exclusion_criteria_read_the_same_on_the_registration_form_as_on_the_checklist(
        client, site_a, coordinator_a, lang, wording):
    """E1-E13: "does not apply" on the checklist, the registration form and the certificate's legend."""
    make_plans()
    screening = make_eligible_screening(site=site_a)
    coordinator_a.preferred_language = lang
    coordinator_a.save(update_fields=["preferred_language"])
    client.force_login(coordinator_a)
    checklist = client.get(reverse("screening:checklist", args=[screening.pk])).content.decode()
    form = client.get(reverse("registration:primary", args=[screening.patient.pk])).content.decode()
    does_not_apply, met = wording
    for html, start in ((checklist, 'id="criterion-E1"'), (form, ">E1 ")):
        row = html[html.index(start):]
        row = row[:row.index("</tr>")]
        assert does_not_apply in row, row
    row = form[form.index(">P1 "):]
    assert met in row[:row.index("</tr>")]
