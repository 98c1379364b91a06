"""The registration services: order of steps, refusals with messages, signatures, plans, audit."""

import datetime as dt

import pytest
from django.contrib.auth.signals import user_login_failed
from django.utils import translation

from oligami_site import signatures
from oligami_site.models import Signature, SignatureFailure
from oligami_site.signatures import SignatureRefused
from randomization.models import Allocation
from registration import services
from registration.exceptions import (
    AlreadyRegistered,
    InvalidEntry,
    NotEligible,
    NoTherapyPlan,
    OutOfOrder,
)
from registration.models import (
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
    TherapyPlan,
)
from screening.models import LabPanel, Patient, Screening
from tests.factories import PASSWORD, ScreeningFactory
from tests.registration.factories import JUDGED_ON, make_eligible_screening, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def test_primary_registration_from_an_eligible_screening(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    registration = register(screening, coordinator_a)
    patient = Patient.objects.get(pk=screening.patient_id)
    assert patient.stage == Patient.Stage.REGISTERED
    assert registration.number == "OLG-0001" and registration.registration_date == JUDGED_ON
    assert registration.subtype == "luminal" and registration.plan == plans["luminal"]
    assert registration.verdict["eligible"] is True
    assert [c["id"] for c in registration.verdict["criteria"]][:3] == ["P1", "P2", "P3"]
    assert registration.engine_version.startswith("oligami-eligibility")
    signature = registration.signature
    assert signature.user == coordinator_a and signature.printed_name == coordinator_a.printed_name
    assert signature.meaning == "primary_registration_confirm"  # a code, shown in the reader's language
    with translation.override("en"):
        assert signature.meaning_text == "I confirm this patient meets all primary registration criteria"
    assert signature.signed_at.tzinfo is not None and signature.subject == f"OLG-0001 / {patient.screening_number}"
    history = registration.history.get()
    assert history.history_user == coordinator_a and history.history_change_reason == "Primary registration"
    assert patient.history.first().history_user == coordinator_a


def test_subtype_chooses_the_plan(plans, coordinator_a, site_a):
    her2 = register(make_eligible_screening(site=site_a, subtype="her2"), coordinator_a)
    tnbc = register(make_eligible_screening(site=site_a, subtype="tnbc"), coordinator_a)
    assert (her2.subtype, her2.plan) == ("her2", plans["her2"])
    assert (tnbc.subtype, tnbc.plan) == ("tnbc", plans["tnbc"])
    assert [her2.number, tnbc.number] == ["OLG-0001", "OLG-0002"]


@pytest.mark.parametrize("stage", ["screening", "screen_failed"])
def test_primary_registration_only_for_an_eligible_patient(plans, coordinator_a, site_a, stage):
    screening = make_eligible_screening(site=site_a)
    Patient.objects.filter(pk=screening.patient_id).update(stage=stage)
    with pytest.raises(OutOfOrder, match="only an eligible patient"):
        register(screening, coordinator_a)
    assert not PrimaryRegistration.objects.exists() and not Signature.objects.exists()


def test_primary_registration_refused_for_a_draft_or_failed_screening(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    Screening.objects.filter(pk=screening.pk).update(outcome="not_eligible")
    with pytest.raises(OutOfOrder, match="not judged eligible"):
        register(screening, coordinator_a)


def test_primary_registration_only_from_the_latest_screening(plans, coordinator_a, site_a):
    first = make_eligible_screening(site=site_a)
    ScreeningFactory(patient=first.patient, number=2, outcome="eligible")
    with pytest.raises(OutOfOrder, match="not the latest screening"):
        register(first, coordinator_a)


def test_the_engine_runs_again_and_refuses_with_criteria(plans, coordinator_a, site_a):
    # Eligible when screened on 2026-03-02 with labs of 2026-02-24; on 2026-03-11 the labs are 15 days old.
    screening = make_eligible_screening(site=site_a)
    with pytest.raises(NotEligible) as refused:
        register(screening, coordinator_a, on=dt.date(2026, 3, 11))
    assert [cid for cid, _text in refused.value.failures] == ["P16"]
    assert "15 days before registration (limit 14 days)" in refused.value.message
    assert "P16" in refused.value.message
    assert not PrimaryRegistration.objects.exists()
    assert Patient.objects.get(pk=screening.patient_id).stage == Patient.Stage.ELIGIBLE


def test_future_registration_date_refused(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    with pytest.raises(InvalidEntry, match="in the future"):
        register(screening, coordinator_a, on=dt.date.today() + 10 * DAY)


def test_no_plan_in_force_refused(coordinator_a, site_a):
    services.save_therapy_plan(subtype="luminal", regimen="later", planned_courses=3, cycle_length_days=28,
                               effective_from=dt.date(2026, 4, 1), user=None)
    with pytest.raises(NoTherapyPlan, match="luminal"):
        register(make_eligible_screening(site=site_a), coordinator_a)


def test_double_registration_is_refused_with_the_first_number(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    register(screening, coordinator_a)
    with pytest.raises(AlreadyRegistered, match="already primary registered as OLG-0001"):
        register(screening, coordinator_a)
    assert PrimaryRegistration.objects.count() == 1 and Signature.objects.count() == 1


def test_wrong_signature_password_saves_nothing_and_is_counted(plans, coordinator_a, site_a, rf):
    screening = make_eligible_screening(site=site_a)
    received = []

    def listener(sender, credentials, request, **kwargs):
        received.append((credentials, request))

    user_login_failed.connect(listener)
    request = rf.post("/", REMOTE_ADDR="10.1.2.3")
    try:
        with pytest.raises(SignatureRefused, match="password is not correct"):
            services.register_primary(screening=screening, user=coordinator_a, password="wrong",
                                      registration_date=JUDGED_ON, request=request)
    finally:
        user_login_failed.disconnect(listener)
    assert received == [({"username": "crc_a", "purpose": "signature"}, request)]  # counted as a signature (issue 13)
    failure = SignatureFailure.objects.get()
    assert (failure.user, failure.kind, failure.patient_id, failure.ip_address) == (
        coordinator_a, "primary_registration", screening.patient_id, "10.1.2.3")
    assert not PrimaryRegistration.objects.exists() and not Signature.objects.exists()
    assert Patient.objects.get(pk=screening.patient_id).stage == Patient.Stage.ELIGIBLE
    assert register(screening, coordinator_a).number == "OLG-0001"  # the number was not consumed


def test_too_many_wrong_passwords_lock_signing(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    for _ in range(signatures.FAILURE_LIMIT):
        with pytest.raises(SignatureRefused):
            register(screening, coordinator_a, password="wrong")
    with pytest.raises(SignatureRefused, match="Too many wrong signature passwords"):
        register(screening, coordinator_a)  # even the right password, for a while
    assert SignatureFailure.objects.count() == signatures.FAILURE_LIMIT


def test_wrong_password_at_secondary_registration_is_counted(plans, coordinator_a, site_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY)
    with pytest.raises(SignatureRefused):
        services.register_secondary(patient=patient, user=coordinator_a, password="",
                                    registration_date=JUDGED_ON + 86 * DAY)
    assert SignatureFailure.objects.get().kind == "secondary_registration"
    assert not SecondaryRegistration.objects.exists()


# --- out of order ---------------------------------------------------------------------------------


def test_secondary_before_primary_refused(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    with pytest.raises(OutOfOrder, match="is not primary registered"):
        services.register_secondary(patient=screening.patient, user=coordinator_a, password=PASSWORD)
    assert not Signature.objects.exists()


def test_evaluation_for_a_screen_failure_refused(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a, lvef_percent=50)  # P17 fails: a screen failure
    assert screening.patient.stage == Patient.Stage.SCREEN_FAILED
    with pytest.raises(OutOfOrder, match=r"not primary registered \(stage: Screen failed\)"):
        record(screening.patient, coordinator_a, JUDGED_ON)
    assert not ResponseEvaluation.objects.exists()
    assert LabPanel.objects.count() == 1  # only the screening's


def test_evaluation_before_registration_refused(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    with pytest.raises(OutOfOrder, match="after primary registration"):
        record(screening.patient, coordinator_a, JUDGED_ON)


def test_secondary_without_evaluation_refused(plans, coordinator_a, site_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    with pytest.raises(OutOfOrder, match="record it before secondary registration"):
        services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                    registration_date=JUDGED_ON + 90 * DAY)


def test_evaluation_after_secondary_and_double_secondary_refused(plans, coordinator_a, site_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY)
    secondary = services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                            registration_date=JUDGED_ON + 86 * DAY)
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.RANDOMIZED  # randomized at once
    assert secondary.patient.allocation.arm in ("A", "B")
    assert secondary.signature.meaning == "secondary_registration_confirm"
    allocation = Allocation.objects.get(patient=secondary.patient)
    assert allocation.signature == secondary.signature  # the allocation points at the row it was signed with
    with translation.override("en"):
        assert secondary.signature.meaning_text == "I confirm this patient meets all secondary registration criteria"
    with pytest.raises(AlreadyRegistered, match="already secondary registered"):
        record(patient, coordinator_a, JUDGED_ON + 86 * DAY, reason="late change")
    with pytest.raises(AlreadyRegistered, match="already secondary registered"):
        services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                    registration_date=JUDGED_ON + 86 * DAY)
    assert SecondaryRegistration.objects.count() == 1


def test_evaluation_correction_needs_a_reason_and_keeps_history(plans, coordinator_a, site_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    evaluation = record(patient, coordinator_a, JUDGED_ON + 80 * DAY)
    with pytest.raises(InvalidEntry, match="give a reason"):
        record(patient, coordinator_a, JUDGED_ON + 81 * DAY)
    record(patient, coordinator_a, JUDGED_ON + 81 * DAY, reason="Date typo", remaining_lesions=1)
    evaluation.refresh_from_db()
    assert (evaluation.date, evaluation.remaining_lesions) == (JUDGED_ON + 81 * DAY, 1)
    reasons = list(evaluation.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert reasons == ["Response evaluation recorded", "Date typo"]
    assert ResponseEvaluation.objects.count() == 1


@pytest.mark.parametrize(("overrides", "message"), [
    ({"date": JUDGED_ON - DAY}, "between the primary registration"),
    ({"overall_response": "PD", "progression": False}, "PD means progression"),
    ({"ecog": None}, "missing ecog"),
    ({"remaining_lesions": 4}, "from 0 to 3"),
])
def test_evaluation_entries_checked(plans, coordinator_a, site_a, overrides, message):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    on = overrides.pop("date", JUDGED_ON + 80 * DAY)
    with pytest.raises(InvalidEntry, match=message):
        record(patient, coordinator_a, on, **overrides)


def test_secondary_refusal_names_every_failed_criterion(plans, coordinator_a, site_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY, courses_given=2, progression=True, overall_response="PD",
           remaining_lesions=0, mdt_since_primary=True, ecog=2)
    with pytest.raises(NotEligible) as refused:
        services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                    registration_date=JUDGED_ON + 86 * DAY)
    assert [cid for cid, _t in refused.value.failures] == ["S1", "S2", "S5", "S6", "S7"]
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.REGISTERED


@pytest.mark.parametrize(("overrides", "failed", "words"), [
    # ELIGIBILITY.md round 2: CR with lesions recorded as remaining is the contradiction the audit found.
    ({"overall_response": "CR", "remaining_lesions": 1}, ["S5"], "contradicts 1 remaining"),
    ({"overall_response": "CR", "remaining_lesions": 0}, ["S5"], "no oligometastasis remains"),
    # Two lesions at primary registration (the factory's screening): three remaining are a new lesion.
    ({"remaining_lesions": 3}, ["S2"], "new lesions since primary registration"),
])
def test_secondary_refuses_a_complete_response_and_new_lesions(plans, coordinator_a, site_a, overrides, failed,
                                                                 words):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY, **overrides)
    with pytest.raises(NotEligible) as refused:
        services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                    registration_date=JUDGED_ON + 86 * DAY)
    assert [cid for cid, _t in refused.value.failures] == failed
    assert words in refused.value.failures[0][1]
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.REGISTERED


def test_secondary_ne_is_missing_s2(plans, coordinator_a, site_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    evaluation = record(patient, coordinator_a, JUDGED_ON + 85 * DAY, overall_response="NE")
    primary = patient.primary_registration
    verdict = services.secondary_checklist(primary, evaluation, JUDGED_ON + 86 * DAY)
    assert verdict.missing == ["S2"] and not verdict.eligible
    assert services.secondary_facts(primary, evaluation, JUDGED_ON + 86 * DAY).primary_lesion_count == 2


# --- off study ------------------------------------------------------------------------------------


def test_off_study(plans, coordinator_a, site_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    off = services.take_off_study(patient=patient, user=coordinator_a, date=JUDGED_ON + 30 * DAY,
                                  reason="death", details="")
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.OFF_STUDY
    assert off.history.get().history_user == coordinator_a
    with pytest.raises(AlreadyRegistered, match="already off study"):
        services.take_off_study(patient=patient, user=coordinator_a, date=JUDGED_ON + 31 * DAY, reason="death")
    with pytest.raises(OutOfOrder, match="off study"):
        record(patient, coordinator_a, JUDGED_ON + 80 * DAY)


def test_off_study_checks(plans, coordinator_a, site_a):
    eligible = make_eligible_screening(site=site_a).patient
    with pytest.raises(OutOfOrder, match="after primary registration"):
        services.take_off_study(patient=eligible, user=coordinator_a, date=JUDGED_ON, reason="withdrawal")
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    with pytest.raises(InvalidEntry, match="Describe the reason"):
        services.take_off_study(patient=patient, user=coordinator_a, date=JUDGED_ON, reason="other", details=" ")
    with pytest.raises(InvalidEntry, match="between the primary registration"):
        services.take_off_study(patient=patient, user=coordinator_a, date=JUDGED_ON - DAY, reason="withdrawal")
    assert not OffStudy.objects.exists()


# --- therapy plans --------------------------------------------------------------------------------


def test_plan_change_never_rewrites_a_registered_patients_plan(plans, coordinator_a, site_a, data_manager, client):
    registration = register(make_eligible_screening(site=site_a), coordinator_a)
    old = plans["luminal"]
    # In the admin, as the data manager: saving the plan makes version 2.
    client.force_login(data_manager)
    response = client.post(f"/admin/registration/therapyplan/{old.pk}/change/", {
        "regimen": "New regimen", "planned_courses": 4, "cycle_length_days": 21, "effective_from": "2026-03-01",
        "change_reason": "Protocol amendment 2"})
    assert response.status_code == 302, response.content.decode()[:2000]
    old.refresh_from_db()
    assert (old.version, old.regimen, old.planned_courses, old.cycle_length_days) == (
        1, "Test regimen luminal", 3, 28)
    new = TherapyPlan.objects.get(subtype="luminal", version=2)
    assert (new.regimen, new.planned_courses, new.cycle_length_days) == ("New regimen", 4, 21)
    assert new.history.get().history_user == data_manager
    registration.refresh_from_db()
    assert registration.plan_id == old.pk and registration.plan.planned_courses == 3
    # A patient registered now gets version 2.
    later = register(make_eligible_screening(site=site_a, on=dt.date(2026, 3, 5)), coordinator_a)
    assert later.plan == new


def test_plan_versions_and_admin_cannot_delete(plans, data_manager, client):
    v2 = services.save_therapy_plan(subtype="her2", regimen="x", planned_courses=6, cycle_length_days=21,
                                    effective_from=dt.date(2027, 1, 1), user=data_manager)
    assert v2.version == 2
    assert services.plan_in_force("her2", dt.date(2026, 12, 31)) == plans["her2"]
    assert services.plan_in_force("her2", dt.date(2027, 1, 1)) == v2
    client.force_login(data_manager)
    assert client.get(f"/admin/registration/therapyplan/{v2.pk}/delete/").status_code == 403
    assert client.get("/admin/registration/primaryregistration/add/").status_code == 403
    response = client.post("/admin/registration/therapyplan/add/", {
        "subtype": "her2", "regimen": "Added in the admin", "planned_courses": 5, "cycle_length_days": 21,
        "effective_from": "2027-02-01"})
    assert response.status_code == 302
    assert TherapyPlan.objects.get(subtype="her2", version=3).regimen == "Added in the admin"


def test_allocation_factors(plans, coordinator_a, site_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    record(patient, coordinator_a, JUDGED_ON + 85 * DAY, remaining_lesions=1, overall_response="SD")
    secondary = services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD,
                                            registration_date=JUDGED_ON + 86 * DAY)
    assert services.allocation_factors(secondary) == {
        "site": "SITEA", "subtype": "luminal", "lesions": "1", "bone_only": "no", "response": "SD"}
    bone = [{"organ": "bone", "diameter_mm": 10, "mdt_feasible": True, "symptomatic": False,
             "three_consecutive_vertebrae": False, "bilsky_grade": "0", "femoral_head_neck_trochanter": False,
             "cortical_defect_over_one_third": False, "uncontrolled_pain": False}] * 2
    other = register(make_eligible_screening(site=site_a, subtype="her2", lesions=bone), coordinator_a).patient
    # Two lesions at primary registration, two remaining (three would be a new lesion: S2). A partial
    # response: CR is never randomized (S5), whatever remaining count is recorded beside it.
    record(other, coordinator_a, JUDGED_ON + 85 * DAY, remaining_lesions=2, overall_response="PR")
    secondary = services.register_secondary(patient=other, user=coordinator_a, password=PASSWORD,
                                            registration_date=JUDGED_ON + 86 * DAY)
    assert services.allocation_factors(secondary) == {
        "site": "SITEA", "subtype": "her2", "lesions": "2-3", "bone_only": "yes", "response": "PR"}
