"""Window arithmetic, patient status and next deadline, written from ELIGIBILITY.md, boundaries first.

Day N means primary registration date + N calendar days (primary registration is day 0).
S4: 84 <= secondary - primary <= 126. S3: 0 <= secondary - evaluation <= 28. P16/S8: 0 <= reg - lab <= 14.
"""

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registration import windows
from registration.windows import (
    STATUS_LABELS,
    STATUS_PRECEDENCE,
    Deadline,
    DeadlineKind,
    PatientTimeline,
    Status,
    day_number,
    days_remaining,
    evaluation_due,
    in_secondary_window,
    lab_expiry,
    next_deadline,
    patient_status,
    secondary_window,
    window_close,
    window_open,
)

P = date(2026, 1, 5)  # a primary registration date; day 84 = 2026-03-30, day 126 = 2026-05-11


def day(n: int, primary: date = P) -> date:
    return primary + timedelta(days=n)


def registered(**facts) -> PatientTimeline:
    """A primarily registered patient on 4 courses of 21 days (evaluation due on day 84)."""
    base = {
        "screening_outcome": "eligible",
        "primary_registration_date": P,
        "planned_courses": 4,
        "cycle_length_days": 21,
    }
    base.update(facts)
    return PatientTimeline(**base)


def lab_valid_for(lab_date: date, registration_date: date) -> bool:
    """P16/S8 restated: labs serve a registration from the draw date up to and including lab_expiry."""
    return lab_date <= registration_date <= lab_expiry(lab_date)


# --- Window arithmetic ----------------------------------------------------------------------------


class TestSecondaryWindowS4:
    @pytest.mark.parametrize(
        ("n", "inside"),
        [
            (-1, False),
            (0, False),
            (83, False),
            (84, True),
            (85, True),
            (125, True),
            (126, True),
            (127, False),
        ],
    )
    def test_day_84_to_126_inclusive_without_evaluation(self, n, inside):
        assert in_secondary_window(P, None, day(n)) is inside

    def test_open_and_close_dates(self):
        assert window_open(P) == date(2026, 3, 30) == day(84)
        assert window_close(P, None) == date(2026, 5, 11) == day(126)
        assert day_number(P, window_open(P)) == 84
        assert day_number(P, window_close(P, None)) == 126
        assert day_number(P, day(-3)) == -3


class TestEvaluationPlus28S3:
    @pytest.mark.parametrize(
        ("offset", "inside"), [(-1, False), (0, True), (1, True), (27, True), (28, True), (29, False)]
    )
    def test_evaluation_plus_28_inclusive_when_before_day_126(self, offset, inside):
        evaluation = day(84)  # evaluation + 28 = day 112 < day 126
        assert window_close(P, evaluation) == day(112)
        assert in_secondary_window(P, evaluation, evaluation + timedelta(days=offset)) is inside

    def test_evaluation_plus_28_before_day_126_is_the_close(self):
        assert window_close(P, day(80)) == day(108)
        assert in_secondary_window(P, day(80), day(108))
        assert not in_secondary_window(P, day(80), day(109))

    def test_day_126_is_the_close_when_evaluation_plus_28_is_later(self):
        evaluation = day(100)  # evaluation + 28 = day 128
        assert window_close(P, evaluation) == day(126)
        assert in_secondary_window(P, evaluation, day(126))
        assert not in_secondary_window(P, evaluation, day(127))  # evaluation + 27 but day 127

    def test_equal_limits(self):
        assert window_close(P, day(98)) == day(126)  # evaluation + 28 == day 126

    def test_evaluation_after_day_84_moves_the_opening(self):
        # S3 lower bound: no secondary registration before the evaluation itself.
        evaluation = day(90)
        assert not in_secondary_window(P, evaluation, day(89))
        assert in_secondary_window(P, evaluation, day(90))
        assert secondary_window(P, evaluation).open == day(90)

    def test_early_evaluation_cuts_the_window_below_day_84(self):
        # evaluation + 28 before day 84: no date meets both S3 and S4, the window can never be met
        assert secondary_window(P, day(55)).is_empty  # close day 83 < open day 84
        assert not any(in_secondary_window(P, day(55), day(n)) for n in range(0, 140))

    def test_evaluation_on_day_56_leaves_exactly_day_84(self):
        window = secondary_window(P, day(56))
        assert window.open == window.close == day(84)
        assert [n for n in range(140) if in_secondary_window(P, day(56), day(n))] == [84]

    def test_evaluation_after_day_126_leaves_no_window(self):
        assert secondary_window(P, day(127)).is_empty
        assert not secondary_window(P, day(126)).is_empty  # evaluation on day 126: register the same day


class TestLabs:
    @pytest.mark.parametrize(
        ("offset", "valid"), [(-1, False), (0, True), (13, True), (14, True), (15, False)]
    )
    def test_within_14_days_prior(self, offset, valid):
        lab = date(2026, 4, 1)
        assert lab_valid_for(lab, lab + timedelta(days=offset)) is valid

    def test_expiry_is_the_last_valid_day(self):
        assert lab_expiry(date(2026, 4, 1)) == date(2026, 4, 15)

    @pytest.mark.parametrize(
        ("lab", "expiry"),
        [
            (date(2026, 1, 31), date(2026, 2, 14)),  # month end
            (date(2026, 2, 20), date(2026, 3, 6)),  # February, common year
            (date(2028, 2, 20), date(2028, 3, 5)),  # February, leap year
            (date(2028, 2, 15), date(2028, 2, 29)),  # lands on 29 February
            (date(2027, 2, 15), date(2027, 3, 1)),  # the same in a common year
            (date(2026, 12, 25), date(2027, 1, 8)),  # year end
            (date(2028, 2, 29), date(2028, 3, 14)),  # drawn on 29 February
        ],
    )
    def test_calendar_edges(self, lab, expiry):
        assert lab_expiry(lab) == expiry
        assert lab_valid_for(lab, expiry)
        assert not lab_valid_for(lab, expiry + timedelta(days=1))


class TestCalendarEdges:
    @pytest.mark.parametrize(
        ("primary", "day_84", "day_126"),
        [
            (date(2026, 1, 5), date(2026, 3, 30), date(2026, 5, 11)),
            (date(2027, 9, 9), date(2027, 12, 2), date(2028, 1, 13)),  # close across the year end
            (date(2027, 10, 15), date(2028, 1, 7), date(2028, 2, 18)),  # open across the year end
            (date(2027, 12, 6), date(2028, 2, 28), date(2028, 4, 10)),  # window contains 29 Feb 2028
            (date(2027, 11, 25), date(2028, 2, 17), date(2028, 3, 30)),
            (date(2028, 2, 29), date(2028, 5, 23), date(2028, 7, 4)),  # primary on 29 February
        ],
    )
    def test_day_84_and_126(self, primary, day_84, day_126):
        assert window_open(primary) == day_84
        assert window_close(primary, None) == day_126
        assert in_secondary_window(primary, None, day_84)
        assert not in_secondary_window(primary, None, day_84 - timedelta(days=1))
        assert in_secondary_window(primary, None, day_126)
        assert not in_secondary_window(primary, None, day_126 + timedelta(days=1))

    def test_29_february_is_a_day_like_any_other(self):
        # 2027-12-06 + 85 is 29 Feb 2028, 2027-12-06 + 84 is 28 Feb 2028
        assert day_number(date(2027, 12, 6), date(2028, 2, 29)) == 85
        assert day_number(date(2028, 2, 28), date(2028, 3, 1)) == 2
        assert day_number(date(2027, 2, 28), date(2027, 3, 1)) == 1

    @pytest.mark.parametrize(
        ("evaluation", "close"),
        [
            (date(2026, 1, 31), date(2026, 2, 28)),  # 31 Jan + 28, common year
            (date(2028, 1, 31), date(2028, 2, 28)),  # 31 Jan + 28, leap year
            (date(2028, 2, 1), date(2028, 2, 29)),  # lands on 29 Feb
            (date(2027, 12, 20), date(2028, 1, 17)),  # year end
        ],
    )
    def test_evaluation_plus_28_over_month_and_year_ends(self, evaluation, close):
        primary = evaluation - timedelta(days=84)  # evaluation on day 84, so evaluation + 28 is the close
        assert window_close(primary, evaluation) == close
        assert in_secondary_window(primary, evaluation, close)
        assert not in_secondary_window(primary, evaluation, close + timedelta(days=1))


class TestDaysRemaining:
    def test_signs(self):
        deadline = date(2026, 5, 11)
        assert days_remaining(deadline, deadline) == 0
        assert days_remaining(deadline, date(2026, 5, 10)) == 1
        assert days_remaining(deadline, date(2026, 5, 12)) == -1

    def test_over_year_and_leap_day(self):
        assert days_remaining(date(2027, 1, 2), date(2026, 12, 31)) == 2
        assert days_remaining(date(2028, 3, 1), date(2028, 2, 28)) == 2
        assert days_remaining(date(2027, 3, 1), date(2027, 2, 28)) == 1


class TestEvaluationDue:
    @pytest.mark.parametrize(("courses", "cycle", "n"), [(4, 21, 84), (6, 14, 84), (4, 28, 112), (3, 21, 63)])
    def test_after_the_planned_courses(self, courses, cycle, n):
        assert evaluation_due(P, courses, cycle) == day(n)

    @pytest.mark.parametrize(("courses", "cycle"), [(0, 21), (4, 0), (-1, 21), (True, 21), (4, 21.0)])
    def test_refuses_a_plan_that_no_form_allows(self, courses, cycle):
        with pytest.raises(ValueError):
            evaluation_due(P, courses, cycle)


class TestInputTypes:
    def test_datetimes_are_refused(self):
        with pytest.raises(TypeError):
            window_open(datetime(2026, 1, 5, 23, 30))
        with pytest.raises(TypeError):
            PatientTimeline(primary_registration_date=datetime(2026, 1, 5))

    def test_unknown_outcome_and_plan_are_refused(self):
        with pytest.raises(ValueError):
            PatientTimeline(screening_outcome="ineligible")
        with pytest.raises(ValueError):
            PatientTimeline(planned_courses=0)


# --- Status ---------------------------------------------------------------------------------------


def status_on(timeline: PatientTimeline, n: int) -> Status:
    return patient_status(timeline, day(n))


class TestStatusBeforeRegistration:
    @pytest.mark.parametrize(
        ("outcome", "status"),
        [
            (None, Status.SCREENING),
            ("draft", Status.SCREENING),
            ("eligible", Status.ELIGIBLE),
            ("screen_failed", Status.SCREEN_FAILED),
        ],
    )
    def test_screening_outcomes(self, outcome, status):
        assert patient_status(PatientTimeline(screening_outcome=outcome), P) == status

    def test_eligible_label_tells_the_coordinator_what_is_next(self):
        assert STATUS_LABELS[Status.ELIGIBLE] == "Eligible, awaiting primary registration"

    def test_registration_outranks_the_screening_outcome(self):
        assert status_on(registered(screening_outcome=None), 1) == Status.ON_THERAPY


class TestStatusTransitionsWithoutEvaluation:
    @pytest.mark.parametrize(
        ("n", "status"),
        [
            (0, Status.ON_THERAPY),
            (83, Status.ON_THERAPY),
            (84, Status.EVALUATION_DUE),  # 4 x 21 days: due on day 84
            (118, Status.EVALUATION_DUE),  # 8 days left
            (119, Status.WINDOW_CLOSING),  # 7 days left
            (126, Status.WINDOW_CLOSING),  # 0 days left: still open on the close day
            (127, Status.WINDOW_MISSED),  # the day after close
            (400, Status.WINDOW_MISSED),
        ],
    )
    def test_four_courses_of_21_days(self, n, status):
        assert status_on(registered(), n) == status

    @pytest.mark.parametrize(("n", "status"), [(62, Status.ON_THERAPY), (63, Status.EVALUATION_DUE)])
    def test_evaluation_due_follows_the_plan(self, n, status):
        assert status_on(registered(planned_courses=3), n) == status

    @pytest.mark.parametrize(("n", "status"), [(83, Status.ON_THERAPY), (84, Status.EVALUATION_DUE)])
    def test_unknown_plan_falls_due_when_the_window_opens(self, n, status):
        assert status_on(registered(planned_courses=None), n) == status


class TestStatusTransitionsAfterEvaluation:
    @pytest.mark.parametrize(
        ("n", "status"),
        [
            (80, Status.ON_THERAPY),  # evaluated on day 80, window not open yet
            (83, Status.ON_THERAPY),
            (84, Status.WINDOW_OPEN),
            (100, Status.WINDOW_OPEN),  # close = day 108: 8 days left
            (101, Status.WINDOW_CLOSING),  # 7 days left
            (108, Status.WINDOW_CLOSING),  # 0 days left
            (109, Status.WINDOW_MISSED),
        ],
    )
    def test_evaluation_plus_28_closes_first(self, n, status):
        assert status_on(registered(evaluation_date=day(80), evaluation_progression=False), n) == status

    @pytest.mark.parametrize(
        ("n", "status"),
        [(118, Status.WINDOW_OPEN), (119, Status.WINDOW_CLOSING), (127, Status.WINDOW_MISSED)],
    )
    def test_day_126_closes_first(self, n, status):
        assert status_on(registered(evaluation_date=day(100)), n) == status

    @pytest.mark.parametrize(
        ("n", "status"),
        [
            (80, Status.ON_THERAPY),  # evaluated on day 60, close day 88: 8 days left
            (81, Status.WINDOW_CLOSING),  # 7 days left, before the window even opens: urgency wins
            (84, Status.WINDOW_CLOSING),
            (88, Status.WINDOW_CLOSING),
            (89, Status.WINDOW_MISSED),
        ],
    )
    def test_short_window_after_an_early_evaluation(self, n, status):
        assert status_on(registered(evaluation_date=day(60)), n) == status

    @pytest.mark.parametrize("n", [55, 60, 83, 84, 90])
    def test_empty_window_is_missed_as_soon_as_recorded(self, n):
        # evaluation on day 55: evaluation + 28 = day 83 < day 84, no date can meet S3 and S4
        assert status_on(registered(evaluation_date=day(55)), n) == Status.WINDOW_MISSED

    @pytest.mark.parametrize(("n", "status"), [(84, Status.WINDOW_CLOSING), (85, Status.WINDOW_MISSED)])
    def test_one_day_window(self, n, status):
        assert status_on(registered(evaluation_date=day(56)), n) == status

    @pytest.mark.parametrize("n", [84, 90, 130])
    def test_progression_has_its_own_status_from_the_day_it_is_entered(self, n):
        # S2 cannot be met: no secondary registration; the coordinator records off study, reason
        # progression (issue 15: this was "window missed", the same as a window that closed).
        timeline = registered(evaluation_date=day(84), evaluation_progression=True)
        assert status_on(timeline, n) == Status.PROGRESSION
        assert windows.next_deadline(timeline, day(n)) is None

    def test_progression_at_an_early_evaluation_is_progression_at_once(self):
        timeline = registered(evaluation_date=day(40), evaluation_progression=True)
        assert status_on(timeline, 40) == Status.PROGRESSION
        assert status_on(timeline, 200) == Status.PROGRESSION
        assert status_on(registered(evaluation_date=day(40), evaluation_progression=True, off_study_date=day(41)),
                         41) == Status.OFF_STUDY

    def test_unknown_progression_is_not_progression(self):
        assert (
            status_on(registered(evaluation_date=day(84), evaluation_progression=None), 90)
            == Status.WINDOW_OPEN
        )


class TestStatusAfterSecondaryRegistration:
    def test_secondary_registration_is_randomization(self):
        # One transaction records both (screening.stages has no stage between them).
        timeline = registered(evaluation_date=day(84), secondary_registration_date=day(90))
        assert status_on(timeline, 90) == Status.RANDOMIZED
        assert status_on(timeline, 200) == Status.RANDOMIZED  # never "missed" once registered

    def test_randomized(self):
        timeline = registered(evaluation_date=day(84), secondary_registration_date=day(90), randomized=True)
        assert status_on(timeline, 90) == Status.RANDOMIZED
        assert status_on(timeline, 500) == Status.RANDOMIZED

    @pytest.mark.parametrize(
        "timeline",
        [
            registered(off_study=True),
            registered(off_study_date=day(30)),
            registered(
                evaluation_date=day(84), secondary_registration_date=day(90), randomized=True, off_study=True
            ),
            PatientTimeline(screening_outcome="eligible", off_study=True),
        ],
    )
    def test_off_study_outranks_everything(self, timeline):
        assert status_on(timeline, 100) == Status.OFF_STUDY


def test_precedence_lists_every_status_once_with_off_study_first():
    assert sorted(STATUS_PRECEDENCE) == sorted(Status)
    assert STATUS_PRECEDENCE[:2] == (Status.OFF_STUDY, Status.RANDOMIZED)
    assert STATUS_PRECEDENCE[-1] == Status.ON_THERAPY


def test_every_status_has_an_english_label():
    assert set(STATUS_LABELS) == set(Status)
    assert all(Status(s).label for s in Status)


# --- Next deadline --------------------------------------------------------------------------------


class TestNextDeadline:
    def test_eligible_patient_registers_before_the_labs_go_stale(self):
        timeline = PatientTimeline(screening_outcome="eligible", lab_date=date(2026, 1, 2))
        assert next_deadline(timeline, P) == Deadline(date(2026, 1, 16), DeadlineKind.LABS_EXPIRE)
        assert next_deadline(PatientTimeline(screening_outcome="eligible"), P) is None

    def test_on_therapy_the_evaluation_comes_first(self):
        assert next_deadline(registered(), day(10)) == Deadline(day(84), DeadlineKind.EVALUATION_DUE)
        assert next_deadline(registered(), day(84)) == Deadline(day(84), DeadlineKind.EVALUATION_DUE)

    def test_an_overdue_evaluation_is_bounded_by_the_window_close(self):
        assert next_deadline(registered(), day(85)) == Deadline(day(126), DeadlineKind.WINDOW_CLOSES)

    def test_after_evaluation_the_window_close(self):
        timeline = registered(evaluation_date=day(80))
        assert next_deadline(timeline, day(90)) == Deadline(day(108), DeadlineKind.WINDOW_CLOSES)

    def test_pending_labs_that_expire_before_the_close(self):
        timeline = registered(evaluation_date=day(80), lab_date=day(85))
        assert next_deadline(timeline, day(90)) == Deadline(day(99), DeadlineKind.LABS_EXPIRE)
        assert next_deadline(timeline, day(100)) == Deadline(day(108), DeadlineKind.WINDOW_CLOSES)

    def test_tie_reports_the_window_close(self):
        timeline = registered(evaluation_date=day(80), lab_date=day(94))  # expiry day 108 == close
        assert next_deadline(timeline, day(95)) == Deadline(day(108), DeadlineKind.WINDOW_CLOSES)

    def test_nothing_is_due_after_secondary_registration(self):
        timeline = registered(evaluation_date=day(84), secondary_registration_date=day(90))
        assert next_deadline(timeline, day(91)) is None

    @pytest.mark.parametrize(
        "timeline",
        [
            PatientTimeline(),
            PatientTimeline(screening_outcome="screen_failed", lab_date=P),
            registered(off_study=True),
            registered(evaluation_date=day(84), secondary_registration_date=day(90), randomized=True),
            registered(evaluation_date=day(55)),  # window missed
        ],
    )
    def test_no_deadline(self, timeline):
        assert next_deadline(timeline, day(100)) is None

    def test_deadline_labels_are_templates(self):
        for kind in DeadlineKind:
            assert "%(deadline)s" in kind.label


# --- Invariants (hypothesis) ----------------------------------------------------------------------

dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
optional_dates = st.none() | dates
timelines = st.builds(
    PatientTimeline,
    screening_outcome=st.sampled_from([None, "draft", "eligible", "screen_failed"]),
    primary_registration_date=optional_dates,
    planned_courses=st.none() | st.integers(1, 12),
    cycle_length_days=st.none() | st.integers(7, 42),
    evaluation_date=optional_dates,
    evaluation_progression=st.none() | st.booleans(),
    secondary_registration_date=optional_dates,
    randomized=st.booleans(),
    off_study=st.booleans(),
    off_study_date=optional_dates,
    lab_date=optional_dates,
)


@given(primary=dates, evaluation=optional_dates)
def test_window_is_ordered_unless_evaluation_plus_28_falls_before_day_84(primary, evaluation):
    if evaluation is None or evaluation + timedelta(days=28) >= window_open(primary):
        assert window_open(primary) <= window_close(primary, evaluation)
    else:
        assert window_close(primary, evaluation) < window_open(primary)
    assert window_close(primary, evaluation) <= primary + timedelta(days=126)


@given(primary=dates, evaluation=optional_dates, on_date=dates)
def test_in_window_is_the_protocol_inequalities(primary, evaluation, on_date):
    s4 = 84 <= (on_date - primary).days <= 126
    s3 = evaluation is None or 0 <= (on_date - evaluation).days <= 28
    assert in_secondary_window(primary, evaluation, on_date) is (s4 and s3)


@given(lab=dates, registration=dates)
def test_lab_expiry_is_the_protocol_inequality(lab, registration):
    assert lab_valid_for(lab, registration) is (0 <= (registration - lab).days <= 14)


@given(timeline=timelines, today=dates)
def test_status_never_raises_and_is_a_known_status(timeline, today):
    status = patient_status(timeline, today)
    assert status in set(Status)
    deadline = next_deadline(timeline, today)
    assert deadline is None or isinstance(deadline.kind, DeadlineKind)
    assert windows.status_and_deadline(timeline, today) == (status, deadline)  # the worklist's one call


@given(timeline=timelines, today=dates)
def test_missed_once_the_close_has_passed_without_secondary_registration(timeline, today):
    primary = timeline.primary_registration_date
    if (
        primary is not None
        and timeline.secondary_registration_date is None
        and not timeline.randomized
        and not timeline.is_off_study
        and today > window_close(primary, timeline.evaluation_date)
    ):
        expected = Status.PROGRESSION if timeline.evaluation_progression else Status.WINDOW_MISSED
        assert patient_status(timeline, today) == expected


@given(timeline=timelines, today=dates)
def test_window_statuses_only_while_a_secondary_registration_date_remains(timeline, today):
    status = patient_status(timeline, today)
    if status in (Status.WINDOW_OPEN, Status.WINDOW_CLOSING):
        window = secondary_window(timeline.primary_registration_date, timeline.evaluation_date)
        assert not window.is_empty and today <= window.close
        assert days_remaining(window.close, today) >= 0
    if status == Status.WINDOW_CLOSING:
        assert days_remaining(window.close, today) <= 7
