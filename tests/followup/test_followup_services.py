"""The follow-up services (followup/services.py): what they record, what they refuse and that a refusal
saves nothing; the audit rows carry the user and the reason."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from followup import services
from followup.exceptions import AlreadyRecorded, InvalidEntry, OutOfOrder
from followup.models import (
    Assessment,
    Contamination,
    Death,
    LastKnownAlive,
    MetastasisDirectedTherapy,
    SystemicCourse,
    Withdrawal,
)
from followup.selectors import NO_TREATMENT, TreatmentFacts, followup_of, treatment_facts, treatment_facts_for
from tests.followup.factories import ORIGIN, PRIMARY_ON, day, randomized_patient
from tests.registration.factories import make_eligible_screening, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient_b(plans, site_a, coordinator_a):
    return randomized_patient(site_a, coordinator_a, arm="B")


@pytest.fixture
def patient_a(plans, site_a, coordinator_a):
    return randomized_patient(site_a, coordinator_a, arm="A")


def course(patient, user, start, end=None, **extra):
    data = {"start_date": start, "end_date": end, "dose_modified": False, "stopped_early": False, **extra}
    return services.record_course(patient=patient, data=data, user=user)


def assess(patient, user, when, progression=False, **extra):
    data = {"date": when, "progression": progression,
            "progression_sites": ["new_organ"] if progression else [], **extra}
    return services.record_assessment(patient=patient, data=data, user=user)


def counts():
    return tuple(m.objects.count() for m in (SystemicCourse, MetastasisDirectedTherapy, Contamination, Assessment,
                                             Death, LastKnownAlive, Withdrawal))


def refused(exc_type, func, code=None, **kwargs):
    before = counts()
    with pytest.raises(exc_type) as info:
        func(**kwargs)
    assert counts() == before, "a refusal saved something"
    if code:
        assert info.value.code == code, info.value.message
    return str(info.value.message)


# --- courses ---------------------------------------------------------------------------------------

def test_courses_from_primary_registration_numbered_with_the_plan_and_audited(patient_b, coordinator_a):
    first = course(patient_b, coordinator_a, PRIMARY_ON, PRIMARY_ON + dt.timedelta(days=27))
    second = course(patient_b, coordinator_a, PRIMARY_ON + dt.timedelta(days=28))
    assert (first.number, second.number) == (1, 2)
    assert first.plan_id == patient_b.primary_registration.plan_id
    row = first.history.get()
    assert row.history_user == coordinator_a and row.history_change_reason == "Course 1 recorded"
    message = refused(InvalidEntry, course, "course_ongoing", patient=patient_b, user=coordinator_a, start=day(10))
    assert "ongoing" in message
    services.update_course(course=second, data={"start_date": second.start_date, "end_date": day(0),
                                                "dose_modified": True, "stopped_early": True,
                                                "stopped_early_reason": "Neutropenia"},
                           user=coordinator_a, reason="Course ended")
    second.refresh_from_db()
    assert second.end_date == day(0) and second.stopped_early_reason == "Neutropenia"
    assert second.history.first().history_change_reason == "Course ended"


def test_course_refusals_save_nothing(patient_b, coordinator_a):
    today = timezone.localdate()
    refused(InvalidEntry, course, "future_date", patient=patient_b, user=coordinator_a,
            start=today + dt.timedelta(days=1))
    refused(InvalidEntry, course, "before_registration", patient=patient_b, user=coordinator_a,
            start=PRIMARY_ON - dt.timedelta(days=1))
    refused(InvalidEntry, course, "end_before_start", patient=patient_b, user=coordinator_a, start=day(5), end=day(4))
    refused(InvalidEntry, course, "missing_fields", patient=patient_b, user=coordinator_a, start=day(5), end=day(9),
            stopped_early=True)
    course(patient_b, coordinator_a, day(0), day(20))
    refused(InvalidEntry, course, "overlap", patient=patient_b, user=coordinator_a, start=day(19))
    first = SystemicCourse.objects.get(patient=patient_b)
    with pytest.raises(InvalidEntry):
        services.update_course(course=first, data={"start_date": day(0), "end_date": day(20), "dose_modified": False,
                                                   "stopped_early": False}, user=coordinator_a, reason="")


def test_a_course_boundary_on_the_previous_end_day_is_allowed(patient_b, coordinator_a):
    course(patient_b, coordinator_a, day(0), day(20))
    assert course(patient_b, coordinator_a, day(20)).number == 2


def test_courses_refused_before_primary_registration(plans, site_a, coordinator_a):
    screening = make_eligible_screening(site=site_a)
    refused(OutOfOrder, course, "stage", patient=screening.patient, user=coordinator_a, start=PRIMARY_ON)
    patient = register(screening, coordinator_a).patient
    assert course(patient, coordinator_a, PRIMARY_ON).number == 1  # before randomization: allowed (S1)


# --- MDT and contamination ---------------------------------------------------------------------------

def mdt(patient, user, **extra):
    lesion = services.remaining_lesions(patient)[0]
    data = {"lesion": lesion.pk, "modality": "sbrt", "start_date": day(7), "end_date": day(11),
            "dose_gy": Decimal("35"), "fractions": 5, "completed_as_planned": True, **extra}
    return services.record_mdt(patient=patient, data=data, user=user)


def test_mdt_in_arm_b_per_lesion_with_dose_and_fractions(patient_b, coordinator_a):
    record = mdt(patient_b, coordinator_a)
    assert record.lesion.screening_id == patient_b.primary_registration.screening_id
    assert mdt(patient_b, coordinator_a, modality="surgery", dose_gy=None, fractions=None).fractions is None
    refused(InvalidEntry, mdt, "missing_fields", patient=patient_b, user=coordinator_a, fractions=None)
    refused(InvalidEntry, mdt, "not_radiotherapy", patient=patient_b, user=coordinator_a, modality="surgery")
    refused(InvalidEntry, mdt, "missing_fields", patient=patient_b, user=coordinator_a, completed_as_planned=False)
    refused(InvalidEntry, mdt, "before_origin", patient=patient_b, user=coordinator_a, start_date=day(-1))
    refused(InvalidEntry, mdt, "out_of_range", patient=patient_b, user=coordinator_a, fractions=0)
    ok = mdt(patient_b, coordinator_a, completed_as_planned=False, reason="Pneumonitis")
    assert ok.reason == "Pneumonitis"


def test_mdt_of_another_patients_lesion_is_refused(patient_b, plans, site_a, coordinator_a):
    other = randomized_patient(site_a, coordinator_a, arm="B")
    lesion = services.remaining_lesions(other)[0]
    refused(InvalidEntry, mdt, "wrong_lesion", patient=patient_b, user=coordinator_a, lesion=lesion.pk)


def test_mdt_refused_in_arm_a_contamination_refused_in_arm_b(patient_a, patient_b, coordinator_a):
    refused(OutOfOrder, mdt, "wrong_arm", patient=patient_a, user=coordinator_a)
    refused(OutOfOrder, services.record_contamination, "wrong_arm", patient=patient_b, user=coordinator_a,
            data={"date": day(30), "modality": "surgery", "reason": "x"})
    c = services.record_contamination(patient=patient_a, user=coordinator_a,
                                      data={"date": day(30), "modality": "surgery", "reason": "Painful lesion"})
    assert c.history.get().history_user == coordinator_a


# --- assessments, death, last date known alive --------------------------------------------------------

def test_assessment_refusals(patient_b, coordinator_a):
    today = timezone.localdate()
    refused(InvalidEntry, assess, "future_date", patient=patient_b, user=coordinator_a,
            when=today + dt.timedelta(days=1))
    refused(InvalidEntry, assess, "before_origin", patient=patient_b, user=coordinator_a, when=day(-1))
    refused(InvalidEntry, assess, "missing_fields", patient=patient_b, user=coordinator_a, when=day(3),
            progression=True, progression_sites=[])
    refused(InvalidEntry, assess, "wrong_choice", patient=patient_b, user=coordinator_a, when=day(3),
            progression=True, progression_sites=["nowhere"])
    assert assess(patient_b, coordinator_a, day(0)).date == ORIGIN  # the origin day is follow-up (F4)


def test_assessment_before_randomization_is_refused(plans, site_a, coordinator_a):
    patient = register(make_eligible_screening(site=site_a), coordinator_a).patient
    refused(OutOfOrder, assess, "not_randomized", patient=patient, user=coordinator_a, when=PRIMARY_ON)


def test_death_once_not_before_randomization_nor_before_a_date_known_alive(patient_b, coordinator_a):
    record = services.record_death
    refused(InvalidEntry, record, "before_origin", patient=patient_b, user=coordinator_a,
            data={"date": day(-1), "cause": "other"})
    assess(patient_b, coordinator_a, day(50))
    refused(InvalidEntry, record, "alive_after_death", patient=patient_b, user=coordinator_a,
            data={"date": day(49), "cause": "other"})
    refused(InvalidEntry, record, "missing_fields", patient=patient_b, user=coordinator_a,
            data={"date": day(60), "cause": "fate"})
    death = record(patient=patient_b, user=coordinator_a, data={"date": day(50), "cause": "breast_cancer"})
    assert death.history.get().history_change_reason == "Death recorded"
    refused(AlreadyRecorded, record, "already_recorded", patient=patient_b, user=coordinator_a,
            data={"date": day(60), "cause": "other"})
    # after the death: an assessment the day after is refused, on the day is accepted (F5 "strictly after")
    message = refused(InvalidEntry, assess, "after_death", patient=patient_b, user=coordinator_a, when=day(51))
    assert day(50).isoformat() in message
    assert assess(patient_b, coordinator_a, day(50)).date == day(50)
    refused(InvalidEntry, services.record_last_known_alive, "after_death", patient=patient_b, user=coordinator_a,
            data={"date": day(51)})


def test_last_known_alive_series(patient_b, coordinator_a):
    services.record_last_known_alive(patient=patient_b, user=coordinator_a, data={"date": day(100), "source": "visit"})
    services.record_last_known_alive(patient=patient_b, user=coordinator_a, data={"date": day(90)})
    assert followup_of(patient_b).facts.last_known_alive == day(100)
    refused(InvalidEntry, services.record_last_known_alive, "before_origin", patient=patient_b, user=coordinator_a,
            data={"date": day(-3)})


# --- withdrawal ------------------------------------------------------------------------------------

def test_withdrawal_from_treatment_stops_protocol_treatment_only(patient_b, coordinator_a):
    course(patient_b, coordinator_a, day(0), day(20))
    services.record_withdrawal(patient=patient_b, user=coordinator_a, data={"date": day(30), "kind": "treatment"})
    refused(InvalidEntry, course, "after_withdrawal", patient=patient_b, user=coordinator_a, start=day(31))
    refused(InvalidEntry, mdt, "after_withdrawal", patient=patient_b, user=coordinator_a, start_date=day(31),
            end_date=day(33))
    assert course(patient_b, coordinator_a, day(25), day(30)).number == 2  # on the day: still allowed
    assert assess(patient_b, coordinator_a, day(120)).date == day(120)
    refused(AlreadyRecorded, services.record_withdrawal, "already_recorded", patient=patient_b, user=coordinator_a,
            data={"date": day(40), "kind": "visits"})


def test_withdrawal_from_visits_keeps_records_based_follow_up(patient_b, coordinator_a):
    services.record_withdrawal(patient=patient_b, user=coordinator_a, data={"date": day(30), "kind": "visits"})
    refused(InvalidEntry, assess, "after_withdrawal", patient=patient_b, user=coordinator_a, when=day(60))
    assert assess(patient_b, coordinator_a, day(60), study_visit=False).date == day(60)
    services.record_last_known_alive(patient=patient_b, user=coordinator_a, data={"date": day(90)})
    services.record_death(patient=patient_b, user=coordinator_a, data={"date": day(100), "cause": "other"})
    assert followup_of(patient_b).result.os_days == 100


def test_withdrawal_of_all_data_use_refuses_anything_after_it(patient_b, coordinator_a):
    assess(patient_b, coordinator_a, day(20))
    services.record_withdrawal(patient=patient_b, user=coordinator_a, data={"date": day(30), "kind": "all_data"})
    for func, kwargs in ((assess, {"when": day(31), "study_visit": False}),
                         (services.record_death, {"data": {"date": day(31), "cause": "other"}}),
                         (services.record_last_known_alive, {"data": {"date": day(31)}})):
        refused(InvalidEntry, func, "after_withdrawal", patient=patient_b, user=coordinator_a, **kwargs)
    services.record_last_known_alive(patient=patient_b, user=coordinator_a, data={"date": day(30)})
    result = followup_of(patient_b).result
    assert (result.os_days, result.os_event, result.pfs_days) == (30, False, 20)


def test_withdrawal_refusals(patient_b, coordinator_a):
    w = services.record_withdrawal
    refused(InvalidEntry, w, "missing_fields", patient=patient_b, user=coordinator_a,
            data={"date": day(3), "kind": "x"})
    refused(InvalidEntry, w, "before_origin", patient=patient_b, user=coordinator_a,
            data={"date": day(-3), "kind": "visits"})
    refused(InvalidEntry, w, "future_date", patient=patient_b, user=coordinator_a,
            data={"date": timezone.localdate() + dt.timedelta(days=1), "kind": "visits"})


# --- selectors for safety and the endpoints ------------------------------------------------------------

def test_treatment_facts_last_day_from_courses_and_mdt(patient_b, coordinator_a):
    assert treatment_facts(patient_b) == NO_TREATMENT
    course(patient_b, coordinator_a, PRIMARY_ON, day(-40))
    mdt(patient_b, coordinator_a, start_date=day(7), end_date=None, completed_as_planned=None)
    assert treatment_facts(patient_b) == TreatmentFacts(start_date=PRIMARY_ON, last_day=day(-40), ongoing=True)
    services.update_mdt(mdt=MetastasisDirectedTherapy.objects.get(), user=coordinator_a, reason="Ended", data={
        "lesion": services.remaining_lesions(patient_b)[0].pk, "modality": "sbrt", "start_date": day(7),
        "end_date": day(12), "dose_gy": "35", "fractions": 5, "completed_as_planned": True})
    assert treatment_facts(patient_b) == TreatmentFacts(start_date=PRIMARY_ON, last_day=day(12), ongoing=False)


def test_treatment_facts_for_is_bounded(patient_b, patient_a, coordinator_a, django_assert_max_num_queries):
    course(patient_b, coordinator_a, day(0), day(20))
    course(patient_a, coordinator_a, day(0))
    with django_assert_max_num_queries(2):
        facts = treatment_facts_for([patient_a.pk, patient_b.pk, 999999])
    assert facts[patient_b.pk] == TreatmentFacts(start_date=day(0), last_day=day(20), ongoing=False)
    assert facts[patient_a.pk] == TreatmentFacts(start_date=day(0), last_day=None, ongoing=True)
    assert facts[999999] == NO_TREATMENT


def test_followup_of_reproduces_the_pure_rules(patient_b, coordinator_a):
    assess(patient_b, coordinator_a, day(70))
    assess(patient_b, coordinator_a, day(140), progression=True)
    services.record_death(patient=patient_b, user=coordinator_a, data={"date": day(150), "cause": "breast_cancer"})
    f = followup_of(patient_b)
    assert f.origin == ORIGIN
    assert f.result.as_dict() == {"os_days": 150, "os_event": True, "pfs_days": 140, "pfs_event": True,
                                  "problems": []}


# --- the hook of the apps above (safety re-judges its events) -----------------------------------------

def test_every_change_of_treatment_facts_calls_the_registered_hooks_in_its_transaction(patient_b, coordinator_a,
                                                                                      monkeypatch):
    calls = []
    monkeypatch.setattr(services, "_after_treatment_change", [lambda **kwargs: calls.append(kwargs)])
    first = course(patient_b, coordinator_a, day(0))
    services.update_course(course=first, data={"start_date": day(0), "end_date": day(20), "dose_modified": False,
                                               "stopped_early": False}, user=coordinator_a, reason="Ended")
    record = mdt(patient_b, coordinator_a)
    services.update_mdt(mdt=record, user=coordinator_a, reason="Dose typo", data={
        "lesion": record.lesion_id, "modality": "sbrt", "start_date": day(7), "end_date": day(11),
        "dose_gy": Decimal("40"), "fractions": 5, "completed_as_planned": True})
    assert [c["reason"] for c in calls] == ["Course 1 recorded", "Course 1 corrected: Ended",
                                            "Metastasis-directed therapy recorded",
                                            "Metastasis-directed therapy corrected: Dose typo"]
    assert all(c["patient"].pk == patient_b.pk and c["user"] == coordinator_a and c["changed_at"] <= timezone.now()
               for c in calls)
    # Assessments and deaths do not move the treatment facts: no call.
    assess(patient_b, coordinator_a, day(30))
    assert len(calls) == 4
