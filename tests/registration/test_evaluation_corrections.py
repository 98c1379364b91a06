"""A mistyped evaluation is no trap (issue 15): the warning before saving an evaluation before day 56 or with
fewer courses than planned, correction of any field with a reason while no secondary registration rests on
it, and a data manager's void (the evaluation stays in history and counts for nothing)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from registration import selectors, services, windows
from registration.exceptions import (
    AlreadyRegistered,
    InvalidEntry,
    NeedsConfirmation,
    NotAllowed,
    OutOfOrder,
)
from registration.models import ResponseEvaluation
from registration.windows import EvaluationWarning, Status
from screening.eligibility import EVALUATION_WINDOW_DAYS, SECONDARY_WINDOW_DAYS
from screening.models import Patient
from tests.factories import PASSWORD
from tests.registration.factories import (
    NORMAL_LABS,
    evaluation_data,
    make_eligible_screening,
    record,
    record_courses,
    register,
)

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
P = dt.date(2026, 1, 5)


# --- the rule (pure) --------------------------------------------------------------------------------


def test_day_56_is_the_window_open_day_less_the_evaluation_window():
    assert windows.EARLIEST_USEFUL_EVALUATION_DAY == SECONDARY_WINDOW_DAYS[0] - EVALUATION_WINDOW_DAYS == 56


@pytest.mark.parametrize(("day", "warned"), [(0, True), (55, True), (56, False), (57, False), (126, False)])
def test_too_early_boundary_55_56(day, warned):
    found = windows.evaluation_warnings(P, P + day * DAY, courses_given=3, planned_courses=3)
    assert (EvaluationWarning.TOO_EARLY in found) is warned
    # The rule agrees with the window: an evaluation before day 56 leaves no day for secondary registration.
    assert windows.secondary_window(P, P + day * DAY).is_empty is (day < 56)


@pytest.mark.parametrize(("given", "warned"), [(0, True), (2, True), (3, False), (4, False)])
def test_fewer_courses_than_planned(given, warned):
    found = windows.evaluation_warnings(P, P + 80 * DAY, courses_given=given, planned_courses=3)
    assert found == ([EvaluationWarning.FEWER_COURSES] if warned else [])


def test_both_warnings_in_order_and_labels_take_the_params():
    found = windows.evaluation_warnings(P, P, courses_given=0, planned_courses=4)
    assert found == [EvaluationWarning.TOO_EARLY, EvaluationWarning.FEWER_COURSES]
    params = windows.evaluation_warning_params(P, P, 0, 4)
    assert "day 0 " in found[0].label % params and "before day 56" in found[0].label % params
    assert "0 courses given, fewer than the 4 planned" in found[1].label % params


# --- the service ------------------------------------------------------------------------------------


@pytest.fixture
def today():
    return timezone.localdate()


def registered(site, user, today, days_ago=70):
    """Primary registered `days_ago` days ago (luminal: 3 courses of 28 days planned)."""
    return register(make_eligible_screening(site=site, on=today - days_ago * DAY), user).patient


def status(patient, today):
    patient = selectors.patients_with_records(Patient.objects.filter(pk=patient.pk)).get()
    return windows.patient_status(selectors.timeline_of(patient), today)


@pytest.mark.parametrize(("day", "saved"), [(55, False), (56, True)])
def test_unconfirmed_early_evaluation_is_held_back_at_day_55_not_56(plans, site_a, coordinator_a, today, day,
                                                                    saved):
    patient = registered(site_a, coordinator_a, today)
    primary_date = today - 70 * DAY
    if saved:
        record(patient, coordinator_a, primary_date + day * DAY, confirmed=False)
    else:
        with pytest.raises(NeedsConfirmation) as caught:
            record(patient, coordinator_a, primary_date + day * DAY, confirmed=False)
        assert [code for code, _text in caught.value.warnings] == ["too_early"]
        assert "day 55" in caught.value.warnings[0][1]
    assert ResponseEvaluation.objects.filter(patient=patient).exists() is saved


def test_fewer_courses_warns_and_confirming_saves(plans, site_a, coordinator_a, today):
    patient = registered(site_a, coordinator_a, today)
    with pytest.raises(NeedsConfirmation) as caught:
        record(patient, coordinator_a, today, courses_given=2, confirmed=False)
    assert [code for code, _text in caught.value.warnings] == ["fewer_courses"]
    assert not ResponseEvaluation.objects.exists()
    evaluation = record(patient, coordinator_a, today, courses_given=2, confirmed=True)
    assert services.courses_given(evaluation.patient.primary_registration, evaluation.date).count == 2


def test_correcting_the_date_to_a_later_day_brings_a_window_missed_patient_back(plans, site_a, coordinator_a, today):
    """The issue's trap: evaluated on the day of primary registration with 0 courses, the patient shows as
    "window missed"; the site corrects the date (to a later day, up to today) and the courses with a reason."""
    patient = registered(site_a, coordinator_a, today, days_ago=90)
    primary_date = today - 90 * DAY
    record(patient, coordinator_a, primary_date, courses_given=0, confirmed=True)
    assert status(patient, today) == Status.WINDOW_MISSED
    with pytest.raises(InvalidEntry) as refused:  # a correction needs a reason
        record(patient, coordinator_a, today, courses_given=3, confirmed=False)
    assert refused.value.code == "reason_required"
    with pytest.raises(InvalidEntry) as refused:  # still not in the future
        record(patient, coordinator_a, today + DAY, courses_given=3, reason="Typo", confirmed=False)
    assert refused.value.code == "date"
    record(patient, coordinator_a, today, courses_given=3, reason="Date and courses mistyped", confirmed=False)
    evaluation = ResponseEvaluation.objects.get(patient=patient)
    assert (evaluation.date, services.courses_given(patient.primary_registration, evaluation.date).count) == (today, 3)
    assert status(patient, today) == Status.WINDOW_OPEN
    latest = evaluation.history.first()
    assert (latest.history_user, latest.history_change_reason) == (coordinator_a, "Date and courses mistyped")


def test_a_correction_that_stays_early_still_asks_for_confirmation(plans, site_a, coordinator_a, today):
    patient = registered(site_a, coordinator_a, today)
    record(patient, coordinator_a, today - 70 * DAY, confirmed=True)
    with pytest.raises(NeedsConfirmation):
        record(patient, coordinator_a, today - 60 * DAY, reason="Still early", confirmed=False)
    assert ResponseEvaluation.objects.get(patient=patient).date == today - 70 * DAY  # nothing half-written


def test_correction_refused_once_a_secondary_registration_rests_on_it(plans, site_a, coordinator_a, today):
    patient = registered(site_a, coordinator_a, today, days_ago=90)
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    with pytest.raises(AlreadyRegistered) as refused:
        record(patient, coordinator_a, today - DAY, courses_given=3, reason="Late change")
    assert refused.value.code == "secondary_rests_on_evaluation"
    assert "rests on this response evaluation" in refused.value.message
    assert ResponseEvaluation.objects.get(patient=patient).date == today - 2 * DAY


# --- void -------------------------------------------------------------------------------------------


def test_data_manager_voids_and_the_evaluation_counts_for_nothing(plans, site_a, coordinator_a, data_manager, today):
    patient = registered(site_a, coordinator_a, today)
    record(patient, coordinator_a, today - 70 * DAY, courses_given=0, confirmed=True)
    assert status(patient, today) == Status.WINDOW_MISSED
    services.void_evaluation(patient=patient, user=data_manager, reason="Entered on the wrong patient")
    evaluation = ResponseEvaluation.objects.get(patient=patient)  # the row stays
    assert (evaluation.voided, evaluation.void_reason) == (True, "Entered on the wrong patient")
    latest = evaluation.history.first()
    assert (latest.history_user, latest.history_change_reason, latest.voided) == (
        data_manager, "Entered on the wrong patient", True)
    # status, windows and reminders: as if never evaluated (day 70 of 84: on therapy, evaluation due at 84)
    assert status(patient, today) == Status.ON_THERAPY
    timeline = selectors.timeline_of(selectors.patients_with_records(Patient.objects.filter(pk=patient.pk)).get())
    assert timeline.evaluation_date is None and timeline.window.close == today - 70 * DAY + 126 * DAY
    row = next(r for r in selectors.worklist_rows(coordinator_a, today) if r.patient.pk == patient.pk)
    assert (row.status, row.has_evaluation) == (Status.ON_THERAPY, False)
    with pytest.raises(OutOfOrder) as refused:  # a secondary registration cannot rest on it
        services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    assert refused.value.code == "no_evaluation"


def test_after_voiding_the_site_records_the_evaluation_again(plans, site_a, coordinator_a, data_manager, today):
    patient = registered(site_a, coordinator_a, today, days_ago=90)
    record(patient, coordinator_a, today - 90 * DAY, confirmed=True)
    services.void_evaluation(patient=patient, user=data_manager, reason="Mistyped")
    record(patient, coordinator_a, today, courses_given=3, confirmed=False)  # no reason needed: a new entry
    evaluation = ResponseEvaluation.objects.get(patient=patient)
    assert (evaluation.voided, evaluation.void_reason, evaluation.date) == (False, "", today)
    assert [h.voided for h in evaluation.history.order_by("history_id")] == [False, True, False]
    assert status(patient, today) == Status.WINDOW_OPEN


def test_void_refusals(plans, site_a, coordinator_a, investigator_a, monitor_a, data_manager, today):
    patient = registered(site_a, coordinator_a, today)
    with pytest.raises(InvalidEntry) as refused:
        services.void_evaluation(patient=patient, user=data_manager, reason="Nothing there")
    assert refused.value.code == "no_evaluation"
    record(patient, coordinator_a, today - 70 * DAY, confirmed=True)
    for user in (coordinator_a, investigator_a, monitor_a):
        with pytest.raises(NotAllowed):
            services.void_evaluation(patient=patient, user=user, reason="Mine")
    for reason in ("", "   ", None):
        with pytest.raises(InvalidEntry) as refused:
            services.void_evaluation(patient=patient, user=data_manager, reason=reason)
        assert refused.value.code == "reason_required"
    with pytest.raises(InvalidEntry) as refused:
        services.void_evaluation(patient=patient, user=data_manager, reason="x" * 101)
    assert refused.value.code == "reason_too_long"
    assert not ResponseEvaluation.objects.get(patient=patient).voided
    services.void_evaluation(patient=patient, user=data_manager, reason="Mistyped")
    with pytest.raises(InvalidEntry):  # twice
        services.void_evaluation(patient=patient, user=data_manager, reason="Again")


def test_void_refused_once_a_secondary_registration_rests_on_it(plans, site_a, coordinator_a, data_manager, today):
    patient = registered(site_a, coordinator_a, today, days_ago=90)
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    with pytest.raises(AlreadyRegistered) as refused:
        services.void_evaluation(patient=patient, user=data_manager, reason="Too late")
    assert refused.value.code == "secondary_rests_on_evaluation"
    assert not ResponseEvaluation.objects.get(patient=patient).voided


# --- pages ------------------------------------------------------------------------------------------


def url(name, patient):
    return reverse(f"registration:{name}", kwargs={"pk": patient.pk})


def form_data(on, *, reason="", confirm=False, **overrides):
    data = evaluation_data(on, **overrides)
    post = {name: ("yes" if value else "no") if isinstance(value, bool) else value for name, value in data.items()}
    post["date"] = on.isoformat()
    post.update({f"labs-{name}": value for name, value in NORMAL_LABS.items()})
    post["labs-date"] = on.isoformat()
    if reason:
        post["reason"] = reason
    if confirm:
        post["confirm"] = "on"
    return post


def test_page_warns_then_saves_on_confirmation(client, plans, site_a, coordinator_a, today):
    patient = registered(site_a, coordinator_a, today)
    client.force_login(coordinator_a)
    early = today - 70 * DAY
    response = client.post(url("evaluation", patient), form_data(early))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-warning="too_early"' in page and 'data-warning="fewer_courses"' in page
    assert 'name="confirm"' in page
    # S1's courses are shown derived from the record, never typed (issue 16)
    assert 'name="courses_given"' not in page and 'id="courses-given"' in page
    assert not ResponseEvaluation.objects.exists()
    response = client.post(url("evaluation", patient), form_data(early, confirm=True))
    assert response.status_code == 302
    assert ResponseEvaluation.objects.get(patient=patient).date == early
    # the correction, with a reason, to a later day, once the courses are recorded
    record_courses(patient, coordinator_a, 3, today)
    response = client.post(url("evaluation", patient), form_data(today, reason="Date mistyped"))
    assert response.status_code == 302
    assert ResponseEvaluation.objects.get(patient=patient).date == today
    response = client.post(url("evaluation", patient), form_data(today - DAY))  # no reason
    assert response.status_code == 200 and "give a reason" in response.content.decode()


def test_evaluation_page_after_secondary_registration_says_why(client, plans, site_a, coordinator_a, today):
    patient = registered(site_a, coordinator_a, today, days_ago=90)
    record(patient, coordinator_a, today - 2 * DAY, courses_given=3)
    services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)
    client.force_login(coordinator_a)
    assert 'id="secondary-rests"' in client.get(url("evaluation", patient)).content.decode()
    response = client.post(url("evaluation", patient), form_data(today - DAY, reason="Late"))
    assert response.status_code == 200 and "rests on this response evaluation" in response.content.decode()
    assert ResponseEvaluation.objects.get(patient=patient).date == today - 2 * DAY


def test_void_page_for_data_managers_only(client, plans, site_a, coordinator_a, investigator_a, monitor_a,
                                          coordinator_b, data_manager, today):
    patient = registered(site_a, coordinator_a, today)
    record(patient, coordinator_a, today - 70 * DAY, confirmed=True)
    for user, code in ((coordinator_a, 403), (investigator_a, 403), (monitor_a, 403), (coordinator_b, 404)):
        client.force_login(user)
        assert client.get(url("evaluation_void", patient)).status_code == code
        assert client.post(url("evaluation_void", patient), {"reason": "x"}).status_code == code
        assert 'id="void-evaluation"' not in client.get(url("patient", patient)).content.decode()
    assert not ResponseEvaluation.objects.get(patient=patient).voided
    client.force_login(data_manager)
    assert 'id="void-evaluation"' in client.get(url("patient", patient)).content.decode()
    assert client.get(url("evaluation_void", patient)).status_code == 200
    response = client.post(url("evaluation_void", patient), {"reason": ""})
    assert response.status_code == 200 and not ResponseEvaluation.objects.get(patient=patient).voided
    response = client.post(url("evaluation_void", patient), {"reason": "x" * 500})
    assert response.status_code == 200 and not ResponseEvaluation.objects.get(patient=patient).voided
    response = client.post(url("evaluation_void", patient), {"reason": "Wrong patient"})
    assert response.status_code == 302
    assert ResponseEvaluation.objects.get(patient=patient).voided
    page = client.get(url("patient", patient)).content.decode()
    assert 'id="voided-evaluation"' in page and "Wrong patient" in page
    response = client.post(url("evaluation_void", patient), {"reason": "Again"})  # nothing left to void
    assert response.status_code == 200
    assert client.get(reverse("registration:evaluation_void", kwargs={"pk": 999999})).status_code == 404
    # the trail names the void with its reason
    trail = client.get(reverse("oversight:trail", kwargs={"pk": patient.pk})).content.decode()
    assert "Wrong patient" in trail


def test_evaluation_and_void_pages_have_bounded_queries(client, plans, site_a, coordinator_a, data_manager, today,
                                                         django_assert_max_num_queries):
    patient = registered(site_a, coordinator_a, today)
    record(patient, coordinator_a, today - 70 * DAY, confirmed=True)
    client.force_login(coordinator_a)
    with django_assert_max_num_queries(14):
        assert client.get(url("evaluation", patient)).status_code == 200
    with django_assert_max_num_queries(20):
        assert client.post(url("evaluation", patient), form_data(today - 69 * DAY, reason="x")).status_code == 200
    client.force_login(data_manager)
    with django_assert_max_num_queries(12):
        assert client.get(url("evaluation_void", patient)).status_code == 200


def test_a_voided_progression_sends_no_reminder_and_leaves_no_prompt(plans, site_a, coordinator_a, data_manager,
                                                                      today):
    """Progression (PD) entered on the wrong patient: the progression status and its reminder to the data
    managers go with the void (windows.due_reminders reads the timeline without the voided evaluation)."""
    patient = registered(site_a, coordinator_a, today, days_ago=90)
    record(patient, coordinator_a, today, overall_response="PD", progression=True)

    def reminders():
        loaded = selectors.patients_with_records(Patient.objects.filter(pk=patient.pk)).get()
        return {str(r.kind) for r in windows.due_reminders(selectors.timeline_of(loaded), today)}

    assert status(patient, today) == Status.PROGRESSION and "progression" in reminders()
    services.void_evaluation(patient=patient, user=data_manager, reason="Another patient's scan")
    assert status(patient, today) == Status.EVALUATION_DUE and "progression" not in reminders()
