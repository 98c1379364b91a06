"""The safety services: adverse events judged by reportability.py from the recorded facts, refusals that
save nothing, the clock of an event that becomes reportable, death assessments, signed and acknowledged
reports (SAFETY.md; issue 18)."""

import datetime as dt

import pytest
from django.utils import timezone

from followup import services as followup_services
from followup.models import Modality
from oligami_site.models import Signature, SignatureFailure
from randomization.models import Arm
from safety import reportability, services
from safety.exceptions import InvalidEntry, NotAllowed, OutOfOrder
from safety.models import AdverseEvent, ExpectedEvent, ExpeditedReport, SafetySettings, Treatment
from tests.factories import PASSWORD
from tests.followup.factories import ORIGIN, PRIMARY_ON
from tests.safety.helpers import at, event_data, on_treatment

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(plans, site_a, coordinator_a):
    return on_treatment(site_a, coordinator_a)


def test_a_grade_4_during_treatment_is_reportable_with_the_default_deadlines(patient, coordinator_a):
    data = event_data()
    event = services.record_event(patient=patient, data=data, user=coordinator_a)
    assert (event.reportable, event.rule) == (True, "R2b")
    assert event.clock_start == data["awareness"]
    assert event.first_report_due == data["awareness"] + dt.timedelta(hours=72)
    assert event.second_report_due == data["awareness"] + dt.timedelta(days=15)
    assert event.ctcae_version == "5.0" and event.expected is False
    history = event.history.latest()
    assert history.history_user == coordinator_a and history.history_change_reason == "Adverse event recorded (R2b)"
    # The settings it was judged with are frozen from now on (a running deadline must not move).
    assert SafetySettings.objects.get().frozen_at is not None
    with pytest.raises(InvalidEntry) as refused:
        services.save_settings(settings=SafetySettings.objects.get(), user=coordinator_a, reason="change")
    assert refused.value.code == "frozen"


def test_configured_deadlines_are_used(patient, coordinator_a, data_manager):
    services.save_settings(settings=SafetySettings(ctcae_version="6.0", first_report_hours=24, second_report_days=7),
                           user=data_manager, reason="Protocol v2")
    event = services.record_event(patient=patient, data=event_data(), user=coordinator_a)
    assert event.ctcae_version == "6.0"
    assert event.first_report_due - event.clock_start == dt.timedelta(hours=24)
    assert event.second_report_due - event.clock_start == dt.timedelta(days=7)


@pytest.mark.parametrize(("overrides", "code"), [
    ({"onset_date": PRIMARY_ON - dt.timedelta(days=1)}, "before_registration"),
    ({"resolution_date": ORIGIN + dt.timedelta(days=9)}, "resolution_before_onset"),
    ({"grade": 0}, "out_of_range"),
    ({"grade": 6}, "out_of_range"),
    ({"grade": 5}, "grade_5"),
    ({"grade": "four"}, "wrong_type"),
    ({"outcome": "fatal"}, "grade_5"),
    # "Now" and "today" are taken when the test runs, not when it is collected: a suite that passes
    # midnight in Tokyo (15:00 UTC) would otherwise find yesterday's "tomorrow" no longer in the future.
    ({"awareness": lambda: timezone.now() + dt.timedelta(hours=1)}, "future_awareness"),
    ({"awareness": dt.datetime(2026, 6, 7, 9, 30)}, "wrong_type"),  # no offset: the site's time cannot be guessed
    ({"awareness": at(ORIGIN + dt.timedelta(days=9))}, "awareness_before_onset"),
    ({"onset_date": lambda: timezone.localdate() + dt.timedelta(days=1)}, "future_date"),
    ({"causality": "maybe"}, "missing_fields"),
    ({"term": "  "}, "missing_fields"),
])
def test_bad_input_is_refused_with_its_reason_and_nothing_is_saved(patient, coordinator_a, overrides, code):
    overrides = {key: value() if callable(value) else value for key, value in overrides.items()}
    with pytest.raises(InvalidEntry) as refused:
        services.record_event(patient=patient, data=event_data(**overrides), user=coordinator_a)
    assert refused.value.code == code and str(refused.value.message)
    assert not AdverseEvent.objects.exists()
    assert not SafetySettings.objects.exists()  # not even frozen


def test_an_onset_on_the_registration_day_is_the_trials(patient, coordinator_a):
    event = services.record_event(patient=patient, data=event_data(
        onset_date=PRIMARY_ON, awareness=at(PRIMARY_ON)), user=coordinator_a)
    assert (event.reportable, event.rule) == (False, "R2a")  # Grade 4 before protocol treatment started


def test_no_event_before_primary_registration(site_a, coordinator_a, plans):
    from tests.registration.factories import make_eligible_screening

    patient = make_eligible_screening(site=site_a).patient
    with pytest.raises(OutOfOrder) as refused:
        services.record_event(patient=patient, data=event_data(), user=coordinator_a)
    assert refused.value.code == "not_registered"


def test_a_raised_grade_starts_the_clock_at_the_awareness_of_the_change(patient, coordinator_a):
    first_known = at(ORIGIN + dt.timedelta(days=11))
    event = services.record_event(patient=patient, data=event_data(grade=3, hospitalization_24h=False,
                                                                   awareness=first_known), user=coordinator_a)
    assert (event.reportable, event.rule, event.first_report_due) == (False, "R4", None)
    change_known = at(ORIGIN + dt.timedelta(days=14), 16, 5)
    event = services.update_event(event=event, data=event_data(grade=4, hospitalization_24h=False,
                                                               change_awareness=change_known),
                                  user=coordinator_a, reason="Worsened to grade 4")
    assert (event.reportable, event.rule) == (True, "R2b")
    assert event.clock_start == change_known != event.awareness
    assert event.first_report_due == change_known + dt.timedelta(hours=72)
    assert event.history.latest().history_change_reason == "Worsened to grade 4"
    # A later correction of a reportable event does not give the site more time.
    later = at(ORIGIN + dt.timedelta(days=20))
    event = services.update_event(event=event, data=event_data(grade=4, resolution_date=ORIGIN + dt.timedelta(days=19),
                                                               change_awareness=later),
                                  user=coordinator_a, reason="Resolved")
    assert event.clock_start == change_known


def test_change_awareness_cannot_precede_the_first_awareness(patient, coordinator_a):
    event = services.record_event(patient=patient, data=event_data(grade=3, hospitalization_24h=False),
                                  user=coordinator_a)
    with pytest.raises(InvalidEntry) as refused:
        services.update_event(event=event, user=coordinator_a, reason="x", data=event_data(
            grade=4, change_awareness=at(ORIGIN + dt.timedelta(days=10))))
    assert refused.value.code == "awareness_order"
    event.refresh_from_db()
    assert event.grade == 3


def test_expectedness_comes_from_the_list_of_the_patients_treatment_arm_b_radiotherapy_included(
        plans, site_a, coordinator_a):
    patient = on_treatment(site_a, coordinator_a, arm=Arm.B)
    ExpectedEvent.objects.create(treatment=Treatment.RADIOTHERAPY, term="Pneumonitis")
    ExpectedEvent.objects.create(treatment=Treatment.SYSTEMIC_HER2, term="Nausea")  # another subtype's
    unexpected = services.record_event(patient=patient, data=event_data(term="pneumonitis", grade=3),
                                       user=coordinator_a)
    assert (unexpected.expected, unexpected.rule) == (False, "R3b")  # no radiotherapy given yet: unexpected
    lesion = followup_services.remaining_lesions(patient).first()
    followup_services.record_mdt(patient=patient, user=coordinator_a, data={
        "lesion": lesion, "modality": Modality.SBRT, "start_date": ORIGIN + dt.timedelta(days=5),
        "end_date": None, "dose_gy": 35, "fractions": 5})
    expected = services.record_event(patient=patient, data=event_data(term="Pneumonitis", grade=3), user=coordinator_a)
    assert (expected.expected, expected.reportable, expected.rule) == (True, False, "R4")
    nausea = services.record_event(patient=patient, data=event_data(term="Nausea", grade=3), user=coordinator_a)
    assert (nausea.expected, nausea.rule) == (False, "R3b")


def test_31_days_after_the_last_treatment_day_a_denied_causality_is_not_reportable(plans, site_a, coordinator_a):
    last_day = ORIGIN
    patient = on_treatment(site_a, coordinator_a, ongoing=False, last_day=last_day)
    onset = last_day + dt.timedelta(days=reportability.POST_TREATMENT_DAYS + 1)
    data = event_data(onset_date=onset, awareness=at(onset))
    assert services.record_event(patient=patient, data={**data, "causality": "unlikely"},
                                 user=coordinator_a).rule == "R2c"
    event = services.record_event(patient=patient, data={**data, "causality": "possible"}, user=coordinator_a)
    assert (event.reportable, event.rule) == (True, "R2c")


def test_a_death_is_assessed_once_its_date_read_from_follow_up(patient, coordinator_a):
    death_day = ORIGIN + dt.timedelta(days=30)
    death = followup_services.record_death(patient=patient, user=coordinator_a,
                                           data={"date": death_day, "cause": "other"})
    aware = at(death_day + dt.timedelta(days=1), 8, 0)
    event = services.assess_death(death=death, data={"causality": "unlikely", "awareness": aware}, user=coordinator_a)
    assert (event.reportable, event.rule, event.grade) == (True, "R1b", 5)
    assert event.onset_date is None and event.event_date == death_day  # one fact, entered once
    assert event.first_report_due == aware + dt.timedelta(hours=72)
    with pytest.raises(OutOfOrder):
        services.assess_death(death=death, data={"causality": "unlikely", "awareness": aware}, user=coordinator_a)


def test_a_death_needs_an_awareness_after_it(patient, coordinator_a):
    death_day = ORIGIN + dt.timedelta(days=30)
    death = followup_services.record_death(patient=patient, user=coordinator_a,
                                           data={"date": death_day, "cause": "other"})
    with pytest.raises(InvalidEntry) as refused:
        services.assess_death(death=death, data={"causality": "possible", "awareness": at(death_day - dt.timedelta(1))},
                              user=coordinator_a)
    assert refused.value.code == "awareness_before_onset"
    assert not AdverseEvent.objects.exists()


# --- reports ------------------------------------------------------------------------------------------


@pytest.fixture
def reportable(patient, coordinator_a):
    return services.record_event(patient=patient, data=event_data(), user=coordinator_a)


def test_only_the_site_investigator_signs(reportable, coordinator_a):
    with pytest.raises(NotAllowed):
        services.sign_report(event=reportable, kind="first", narrative="x", user=coordinator_a, password=PASSWORD)
    assert not ExpeditedReport.objects.exists() and not Signature.objects.filter(kind="safety_report").exists()


def test_a_wrong_password_signs_nothing_and_is_counted(reportable, investigator_a):
    with pytest.raises(services.signatures.SignatureRefused) as refused:
        services.sign_report(event=reportable, kind="first", narrative="x", user=investigator_a, password="wrong")
    assert refused.value.code == "wrong_password"
    assert not ExpeditedReport.objects.exists()
    assert SignatureFailure.objects.filter(user=investigator_a, kind="safety_report").count() == 1


def test_first_then_second_then_follow_up_reports_signed_and_acknowledged(reportable, investigator_a, data_manager,
                                                                          coordinator_a):
    with pytest.raises(OutOfOrder) as refused:
        services.sign_report(event=reportable, kind="second", narrative="x", user=investigator_a, password=PASSWORD)
    assert refused.value.code == "first_report_missing"
    first = services.sign_report(event=reportable, kind="first", narrative="Febrile neutropenia, admitted.",
                                 user=investigator_a, password=PASSWORD)
    assert (first.number, first.due_at, first.signature.kind) == (1, reportable.first_report_due, "safety_report")
    assert first.signature.printed_name == investigator_a.printed_name and first.signed_at == first.signature.signed_at
    with pytest.raises(OutOfOrder):
        services.sign_report(event=reportable, kind="first", narrative="again", user=investigator_a, password=PASSWORD)
    second = services.sign_report(event=reportable, kind="second", narrative="Details.", user=investigator_a,
                                  password=PASSWORD)
    assert (second.number, second.due_at) == (2, reportable.second_report_due)
    for n in (3, 4):
        assert services.sign_report(event=reportable, kind="followup", narrative="Recovered.", user=investigator_a,
                                    password=PASSWORD).number == n
    with pytest.raises(NotAllowed):
        services.acknowledge_report(report=first, comment="ok", user=coordinator_a)
    with pytest.raises(InvalidEntry):
        services.acknowledge_report(report=first, comment=" ", user=data_manager)
    first = services.acknowledge_report(report=first, comment="Received; please send the CT report.",
                                        user=data_manager)
    assert first.acknowledged_by == data_manager and first.history.latest().history_user == data_manager
    with pytest.raises(OutOfOrder):
        services.acknowledge_report(report=first, comment="again", user=data_manager)


def test_an_event_not_reportable_has_no_report(patient, coordinator_a, investigator_a):
    event = services.record_event(patient=patient, data=event_data(grade=2, hospitalization_24h=False),
                                  user=coordinator_a)
    with pytest.raises(OutOfOrder) as refused:
        services.sign_report(event=event, kind="first", narrative="x", user=investigator_a, password=PASSWORD)
    assert refused.value.code == "not_reportable"
