"""Re-judging a patient's events when their protocol treatment facts change later (issue 18): a course or a
metastasis-directed therapy recorded or corrected in follow-up moves the last protocol treatment day (R1-R3
"b" up to day 30 after it, "c" from day 31) or, in arm B, what is expected (R3 against R4).

Follow-up cannot import safety (the arrows): safety registers its re-judging with
followup.services.register_after_treatment_change in SafetyConfig.ready; it runs in the follow-up write's
transaction, audited with the change's reason. An event that becomes reportable starts its clock when the
change was recorded; one that stops keeps its reports and history; no change writes nothing."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from followup import services as followup_services
from followup.models import Modality, SystemicCourse
from oligami_site.exceptions import DomainError
from randomization.models import Arm
from safety import deadlines, reportability, services
from safety.models import AdverseEvent, ExpectedEvent, ExpeditedReport, Treatment
from tests.factories import PASSWORD
from tests.followup.factories import ORIGIN
from tests.safety.helpers import at, event_data, on_treatment

pytestmark = pytest.mark.django_db

ONSET = ORIGIN + dt.timedelta(days=60)  # 2026-07-26: the Grade 4 event's onset
CHANGE_AT = at(dt.date(2026, 11, 20), 14, 5)  # when the course's correction is recorded (the clock of R2b)


def _course_data(course: SystemicCourse, **changes) -> dict:
    data = {"plan": course.plan, "start_date": course.start_date, "end_date": course.end_date,
            "dose_modified": course.dose_modified, "stopped_early": course.stopped_early,
            "stopped_early_reason": course.stopped_early_reason}
    data.update(changes)
    return data


def _correct_course(patient, user, **changes):
    course = SystemicCourse.objects.get(patient=patient, number=1)
    return followup_services.update_course(course=course, data=_course_data(course, **changes), user=user,
                                           reason="End date corrected from the chart")


def _history(event) -> int:
    return AdverseEvent.history.filter(id=event.pk).count()


@pytest.fixture
def late_event(plans, site_a, coordinator_a):
    """A Grade 4 event, causality denied, 60 days after the last treatment day as recorded: R2c, not reportable."""
    patient = on_treatment(site_a, coordinator_a, ongoing=False, last_day=ORIGIN)
    event = services.record_event(patient=patient, user=coordinator_a, data=event_data(
        onset_date=ONSET, awareness=at(ONSET + dt.timedelta(days=1)), causality="unlikely"))
    assert (event.reportable, event.rule) == (False, "R2c")
    return event


@pytest.mark.parametrize(("days_after", "reportable", "rule"), [
    (reportability.POST_TREATMENT_DAYS, True, "R2b"),  # day 30 after the new last day: still "b"
    (reportability.POST_TREATMENT_DAYS + 1, False, "R2c"),  # day 31: "c", causality denied
])
def test_day_30_and_31_after_the_corrected_last_treatment_day(late_event, coordinator_a, days_after, reportable,
                                                              rule, django_capture_on_commit_callbacks):
    before = _history(late_event)
    with time_machine.travel(CHANGE_AT, tick=False), \
            django_capture_on_commit_callbacks(execute=False) as callbacks:
        _correct_course(late_event.patient, coordinator_a, end_date=ONSET - dt.timedelta(days=days_after))
    late_event.refresh_from_db()
    assert (late_event.reportable, late_event.rule) == (reportable, rule)
    if reportable:
        # The clock starts when the change was recorded (the awareness of the fact that made it reportable),
        # not at the event's own awareness months earlier: no deadline is born already missed.
        assert late_event.clock_start == CHANGE_AT
        assert late_event.first_report_due == CHANGE_AT + dt.timedelta(hours=reportability.FIRST_REPORT_HOURS)
        assert late_event.second_report_due == CHANGE_AT + dt.timedelta(days=reportability.SECOND_REPORT_DAYS)
        assert (late_event.rejudged_at, late_event.rejudged_from) == (CHANGE_AT, "R2c")
        row = AdverseEvent.history.filter(id=late_event.pk).latest("history_id")
        assert row.history_user == coordinator_a
        assert row.history_change_reason.startswith("Re-judged R2c to R2b after: Course 1 corrected")
        assert _history(late_event) == before + 1
        assert len(callbacks) == 1  # the escalation task, sent on commit
    else:
        assert late_event.rejudged_at is None and late_event.clock_start is None
        assert _history(late_event) == before  # the same decision: nothing written
        assert not callbacks


def test_a_late_recorded_course_makes_an_event_reportable_from_the_awareness_of_the_change(
        late_event, coordinator_a, client):
    patient = late_event.patient
    course = SystemicCourse.objects.get(patient=patient, number=1)
    with time_machine.travel(CHANGE_AT, tick=False):
        # Course 2, given from day 10 to day 40 after course 1 and entered only now: the onset is 20 days after it.
        followup_services.record_course(patient=patient, user=coordinator_a, data=_course_data(
            course, start_date=ORIGIN + dt.timedelta(days=10), end_date=ORIGIN + dt.timedelta(days=40)))
    late_event.refresh_from_db()
    assert (late_event.reportable, late_event.rule, late_event.clock_start) == (True, "R2b", CHANGE_AT)
    assert late_event.awareness == at(ONSET + dt.timedelta(days=1))  # the event's own awareness is kept
    row = AdverseEvent.history.filter(id=late_event.pk).latest("history_id")
    assert row.history_change_reason == "Re-judged R2c to R2b after: Course 2 recorded"
    with time_machine.travel(CHANGE_AT + dt.timedelta(hours=48, seconds=1), tick=False):
        [first, _second] = deadlines.deadline_of(late_event, CHANGE_AT + dt.timedelta(hours=48, seconds=1))
        assert first.state is reportability.DeadlineState.DUE_SOON
        client.force_login(coordinator_a)
        page = client.get(reverse("safety:event", kwargs={"pk": patient.pk, "event_id": late_event.pk})).content
    assert b'id="event-rejudged"' in page and b"was R2c" in page


def test_an_event_that_stops_being_reportable_keeps_its_signed_report_and_history(
        plans, site_a, coordinator_a, investigator_a, client):
    patient = on_treatment(site_a, coordinator_a, ongoing=False, last_day=ORIGIN)
    onset = ORIGIN + dt.timedelta(days=20)
    event = services.record_event(patient=patient, user=coordinator_a, data=event_data(
        onset_date=onset, awareness=at(onset), causality="not_related"))
    assert (event.reportable, event.rule) == (True, "R2b")
    clock = event.clock_start
    report = services.sign_report(event=event, kind="first", narrative="Febrile neutropenia, G4.",
                                  user=investigator_a, password=PASSWORD)
    with time_machine.travel(CHANGE_AT, tick=False):
        # Course 1 in fact ended 20 days earlier than entered: the onset is day 40, causality denied (R2c).
        _correct_course(patient, coordinator_a, end_date=ORIGIN - dt.timedelta(days=20))
    event.refresh_from_db()
    assert (event.reportable, event.rule, event.rejudged_from, event.rejudged_at) == (False, "R2c", "R2b", CHANGE_AT)
    assert deadlines.deadline_of(event, CHANGE_AT) == []  # the second report is no longer asked for
    assert ExpeditedReport.objects.filter(pk=report.pk, adverse_event=event).exists()  # never deleted
    # The earlier decision and its clock stay in the history, next to the re-judging and its reason.
    rows = list(AdverseEvent.history.filter(id=event.pk).order_by("history_id"))
    assert (rows[0].reportable, rows[0].rule, rows[0].clock_start) == (True, "R2b", clock)
    assert rows[-1].history_change_reason.startswith("Re-judged R2b to R2c after: Course 1 corrected")
    # The investigator can still tell the study office with a follow-up report.
    followup_report = services.sign_report(event=event, kind="followup", narrative="Not reportable after all: "
                                           "course 1 ended on 2026-05-07.", user=investigator_a, password=PASSWORD)
    assert followup_report.number == 2
    client.force_login(coordinator_a)
    page = client.get(reverse("safety:event", kwargs={"pk": patient.pk, "event_id": event.pk})).content
    assert b"was R2b" in page and b'id="report-1"' in page


def test_no_change_of_the_decision_writes_nothing(plans, site_a, coordinator_a):
    patient = on_treatment(site_a, coordinator_a)  # ongoing: the event is R2b
    event = services.record_event(patient=patient, user=coordinator_a, data=event_data())
    before = (_history(event), event.clock_start, event.first_report_due)
    # The course ends 10 days after the onset: still "b" (ongoing then, within 30 days now).
    _correct_course(patient, coordinator_a, end_date=event.onset_date + dt.timedelta(days=10))
    event.refresh_from_db()
    assert (_history(event), event.clock_start, event.first_report_due) == before
    assert event.rejudged_at is None and event.rule == "R2b"


def test_a_local_therapy_recorded_later_makes_an_event_expected_in_arm_b(plans, site_a, coordinator_a):
    patient = on_treatment(site_a, coordinator_a, arm=Arm.B)
    ExpectedEvent.objects.create(treatment=Treatment.RADIOTHERAPY, term="Pneumonitis")
    event = services.record_event(patient=patient, user=coordinator_a, data=event_data(term="Pneumonitis", grade=3))
    assert (event.expected, event.reportable, event.rule) == (False, True, "R3b")
    lesion = followup_services.remaining_lesions(patient).first()
    with time_machine.travel(CHANGE_AT, tick=False):
        followup_services.record_mdt(patient=patient, user=coordinator_a, data={
            "lesion": lesion, "modality": Modality.SBRT, "start_date": ORIGIN + dt.timedelta(days=5),
            "end_date": None, "dose_gy": 35, "fractions": 5})
    event.refresh_from_db()
    assert (event.expected, event.reportable, event.rule, event.rejudged_from) == (True, False, "R4", "R3b")


def test_only_the_changed_patients_events_are_rejudged(plans, site_a, site_b, coordinator_a, coordinator_b):
    mine = on_treatment(site_a, coordinator_a, ongoing=False, last_day=ORIGIN)
    other = on_treatment(site_b, coordinator_b, ongoing=False, last_day=ORIGIN)
    data = event_data(onset_date=ONSET, awareness=at(ONSET + dt.timedelta(days=1)), causality="unlikely")
    event = services.record_event(patient=mine, user=coordinator_a, data=data)
    untouched = services.record_event(patient=other, user=coordinator_b, data=data)
    before = _history(untouched)
    _correct_course(mine, coordinator_a, end_date=ONSET - dt.timedelta(days=5))
    event.refresh_from_db()
    untouched.refresh_from_db()
    assert (event.reportable, event.rule) == (True, "R2b")
    assert (untouched.reportable, untouched.rule, _history(untouched)) == (False, "R2c", before)


def test_a_refused_rejudging_leaves_the_course_unchanged(late_event, coordinator_a, monkeypatch):
    """One transaction: if re-judging fails, the course correction is not saved either."""
    def refuse(**kwargs):
        raise DomainError("refused", code="refused")

    monkeypatch.setattr(followup_services, "_after_treatment_change", [refuse])
    with pytest.raises(DomainError):
        _correct_course(late_event.patient, coordinator_a, end_date=ONSET - dt.timedelta(days=5))
    assert SystemicCourse.objects.get(patient=late_event.patient, number=1).end_date == ORIGIN
