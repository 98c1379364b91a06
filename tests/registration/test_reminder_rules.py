"""Reminder rules: for every kind the day before, the day of and the day after its due date; catch-up after
a scan that did not run; nothing for patients who need no reminder. ELIGIBILITY.md "Reminder-worthy dates".
"""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registration.windows import (
    REMINDER_LABELS,
    REMINDER_RULES,
    Anchor,
    PatientTimeline,
    Recipient,
    ReminderKind,
    Status,
    due_reminders,
    patient_status,
)

P = date(2026, 1, 5)  # primary registration; day 84 = 2026-03-30, day 126 = 2026-05-11
K = ReminderKind
SITE = frozenset({Recipient.SITE_STAFF})
SITE_AND_DM = frozenset({Recipient.SITE_STAFF, Recipient.DATA_MANAGERS})


def day(n: int) -> date:
    return P + timedelta(days=n)


def registered(**facts) -> PatientTimeline:
    base = {
        "screening_outcome": "eligible",
        "primary_registration_date": P,
        "planned_courses": 4,
        "cycle_length_days": 21,
    }
    base.update(facts)
    return PatientTimeline(**base)


def sent(timeline: PatientTimeline, today: date) -> dict[ReminderKind, date]:
    """kind -> due date of the reminders returned on ``today``."""
    reminders = due_reminders(timeline, today)
    assert len({r.kind for r in reminders}) == len(reminders)
    return {r.kind: r.due_date for r in reminders}


LAB = date(2026, 2, 20)  # expiry 2026-03-06
ELIGIBLE_WITH_LABS = PatientTimeline(screening_outcome="eligible", lab_date=LAB)
NO_EVALUATION = registered()  # evaluation due day 84 (4 x 21), close day 126
EVALUATED_DAY_80 = registered(evaluation_date=day(80), evaluation_progression=False)  # close day 108
SECONDARY_LABS = registered(evaluation_date=day(80), lab_date=day(82))  # expiry day 96


# (kind, timeline, due date): the rule's due date, checked the day before, of and after.
CASES = [
    (K.LABS_EXPIRING, ELIGIBLE_WITH_LABS, date(2026, 3, 3)),  # expiry - 3
    (K.LABS_LAST_DAY, ELIGIBLE_WITH_LABS, date(2026, 3, 6)),  # expiry = lab + 14
    (K.LABS_EXPIRING, SECONDARY_LABS, day(93)),
    (K.LABS_LAST_DAY, SECONDARY_LABS, day(96)),
    (K.EVALUATION_DUE_SOON, NO_EVALUATION, day(77)),
    (K.EVALUATION_DUE, NO_EVALUATION, day(84)),
    (K.WINDOW_OPENING, EVALUATED_DAY_80, day(84)),
    (K.WINDOW_OPENING, NO_EVALUATION, day(84)),
    (K.WINDOW_CLOSING_7, EVALUATED_DAY_80, day(101)),
    (K.WINDOW_CLOSING_7, NO_EVALUATION, day(119)),
    (K.WINDOW_CLOSING_2, EVALUATED_DAY_80, day(106)),
    (K.WINDOW_CLOSING_2, NO_EVALUATION, day(124)),
    (K.WINDOW_MISSED, EVALUATED_DAY_80, day(109)),
    (K.WINDOW_MISSED, NO_EVALUATION, day(127)),
    (K.PROGRESSION, registered(evaluation_date=day(80), evaluation_progression=True), day(80)),
]
CASE_IDS = [f"{kind}-{due}" for kind, _timeline, due in CASES]


@pytest.mark.parametrize(("kind", "timeline", "due"), CASES, ids=CASE_IDS)
def test_not_the_day_before(kind, timeline, due):
    assert kind not in sent(timeline, due - timedelta(days=1))


@pytest.mark.parametrize(("kind", "timeline", "due"), CASES, ids=CASE_IDS)
def test_on_the_due_date(kind, timeline, due):
    assert sent(timeline, due).get(kind) == due


@pytest.mark.parametrize(("kind", "timeline", "due"), CASES, ids=CASE_IDS)
def test_the_day_after_with_the_same_key_so_a_missed_scan_catches_up(kind, timeline, due):
    # Same (kind, due_date) as on the due date: the caller's unique key stops a second e-mail, and a
    # scan that did not run on the due date still sends it the next day.
    assert sent(timeline, due + timedelta(days=1)).get(kind) == due


def test_every_kind_is_covered_by_the_boundary_cases():
    assert {kind for kind, _t, _d in CASES} == set(ReminderKind)


class TestLastSendDayAndSuperseding:
    def test_labs_expiring_gives_way_to_the_last_day(self):
        assert sent(ELIGIBLE_WITH_LABS, date(2026, 3, 5)) == {K.LABS_EXPIRING: date(2026, 3, 3)}
        assert sent(ELIGIBLE_WITH_LABS, date(2026, 3, 6)) == {K.LABS_LAST_DAY: date(2026, 3, 6)}

    def test_labs_last_day_catches_up_for_three_days(self):
        assert sent(ELIGIBLE_WITH_LABS, date(2026, 3, 9)) == {K.LABS_LAST_DAY: date(2026, 3, 6)}
        assert sent(ELIGIBLE_WITH_LABS, date(2026, 3, 10)) == {}

    def test_evaluation_soon_gives_way_to_due(self):
        assert sent(NO_EVALUATION, day(83)) == {K.EVALUATION_DUE_SOON: day(77)}
        assert sent(NO_EVALUATION, day(84)) == {K.EVALUATION_DUE: day(84), K.WINDOW_OPENING: day(84)}
        assert K.EVALUATION_DUE in sent(NO_EVALUATION, day(87))
        assert K.EVALUATION_DUE not in sent(NO_EVALUATION, day(88))

    def test_window_opening_catches_up_for_three_days(self):
        assert sent(EVALUATED_DAY_80, day(87)) == {K.WINDOW_OPENING: day(84)}
        assert sent(EVALUATED_DAY_80, day(88)) == {}
        assert sent(EVALUATED_DAY_80, day(100)) == {}

    def test_closing_7_gives_way_to_closing_2(self):
        assert sent(EVALUATED_DAY_80, day(105)) == {K.WINDOW_CLOSING_7: day(101)}
        assert sent(EVALUATED_DAY_80, day(106)) == {K.WINDOW_CLOSING_2: day(106)}
        assert sent(EVALUATED_DAY_80, day(108)) == {K.WINDOW_CLOSING_2: day(106)}  # close day: still open

    def test_missed_the_day_after_close_to_data_managers_too_for_a_week(self):
        (reminder,) = due_reminders(EVALUATED_DAY_80, day(109))
        assert reminder.kind == K.WINDOW_MISSED
        assert reminder.deadline == day(108)
        assert reminder.recipients == SITE_AND_DM
        assert sent(EVALUATED_DAY_80, day(116)) == {K.WINDOW_MISSED: day(109)}
        assert sent(EVALUATED_DAY_80, day(117)) == {}

    def test_only_the_missed_and_progression_notices_reach_data_managers(self):
        for n in range(0, 140):
            for reminder in due_reminders(NO_EVALUATION, day(n)):
                expected = SITE_AND_DM if reminder.kind in (K.WINDOW_MISSED, K.PROGRESSION) else SITE
                assert reminder.recipients == expected


class TestConditions:
    def test_evaluation_reminders_stop_once_the_evaluation_is_recorded(self):
        timeline = registered(evaluation_date=day(76))
        assert not {K.EVALUATION_DUE_SOON, K.EVALUATION_DUE} & set(sent(timeline, day(77)))
        assert not {K.EVALUATION_DUE_SOON, K.EVALUATION_DUE} & set(sent(timeline, day(84)))

    def test_no_evaluation_reminders_without_a_plan(self):
        timeline = registered(planned_courses=None)
        assert all(
            not {K.EVALUATION_DUE_SOON, K.EVALUATION_DUE} & set(sent(timeline, day(n))) for n in range(130)
        )

    def test_labs_drawn_too_early_for_the_window_are_not_nagged_about(self):
        timeline = registered(evaluation_date=day(80), lab_date=day(60))  # valid to day 74, window opens 84
        assert all(not {K.LABS_EXPIRING, K.LABS_LAST_DAY} & set(sent(timeline, day(n))) for n in range(130))

    def test_primary_labs_of_a_registered_patient_are_not_nagged_about(self):
        timeline = registered(lab_date=day(-3))
        assert all(not {K.LABS_EXPIRING, K.LABS_LAST_DAY} & set(sent(timeline, day(n))) for n in range(20))

    def test_no_labs_reminders_while_screening(self):
        timeline = PatientTimeline(screening_outcome="draft", lab_date=LAB)
        assert sent(timeline, date(2026, 3, 6)) == {}

    def test_progression_reaches_the_data_managers_from_the_evaluation_day(self):
        # Issue 15: progression was reported only as "window missed", up to four weeks later.
        timeline = registered(evaluation_date=day(84), evaluation_progression=True)
        kinds = set()
        for n in range(0, 140):
            kinds |= set(sent(timeline, day(n)))
        assert kinds == {K.PROGRESSION}
        assert sent(timeline, day(83)) == {}
        assert sent(timeline, day(84)) == {K.PROGRESSION: day(84)}
        # Entered late: still sent (same due date, so at most once) while the evaluation's 28 days run.
        assert sent(timeline, day(84 + 28)) == {K.PROGRESSION: day(84)}
        assert sent(timeline, day(84 + 29)) == {}
        reminder = due_reminders(timeline, day(84))[0]
        assert reminder.recipients == SITE_AND_DM and reminder.deadline == day(84)

    def test_unattainable_window_gets_no_opening_or_closing_but_data_managers_hear_of_it(self):
        for timeline, close in [
            (registered(evaluation_date=day(55)), day(83)),  # evaluation + 28 before day 84
        ]:
            kinds = set()
            for n in range(0, 140):
                kinds |= set(sent(timeline, day(n)))
            assert kinds == {K.WINDOW_MISSED}
            assert sent(timeline, close + timedelta(days=1)) == {K.WINDOW_MISSED: close + timedelta(days=1)}


NO_REMINDERS = {
    "randomized": registered(evaluation_date=day(80), secondary_registration_date=day(85), randomized=True),
    # secondary registered (randomization is in the same transaction, so the flag may lag in a timeline)
    "secondary_registered": registered(evaluation_date=day(80), secondary_registration_date=day(85)),
    "off_study_flag": registered(off_study=True, lab_date=day(90)),
    "off_study_date": registered(evaluation_date=day(80), off_study_date=day(100)),
    "screen_failed": PatientTimeline(screening_outcome="screen_failed", lab_date=day(90)),
    "screening": PatientTimeline(screening_outcome=None, lab_date=day(90)),
    "off_study_eligible": PatientTimeline(screening_outcome="eligible", lab_date=day(90), off_study=True),
}


@pytest.mark.parametrize("name", NO_REMINDERS)
def test_nothing_for_patients_who_need_no_reminder(name):
    timeline = NO_REMINDERS[name]
    assert all(due_reminders(timeline, day(n)) == [] for n in range(-10, 200))


def _scan(timeline: PatientTimeline, days: range, skip: frozenset[int] = frozenset()) -> dict:
    """A caller's daily scan with a notice table keyed by (kind, due_date): key -> day sent."""
    notices: dict[tuple[ReminderKind, date], int] = {}
    for n in days:
        if n in skip:
            continue
        for reminder in due_reminders(timeline, day(n)):
            notices.setdefault((reminder.kind, reminder.due_date), n)
    return notices


SCENARIOS = {
    "eligible with labs": PatientTimeline(screening_outcome="eligible", lab_date=day(5)),
    "no evaluation": NO_EVALUATION,
    "evaluated day 80 with secondary labs": SECONDARY_LABS,
    "evaluated day 100": registered(evaluation_date=day(100), lab_date=day(101)),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_missed_scan_day_still_sends_every_reminder_the_next_day(name):
    timeline = SCENARIOS[name]
    daily = _scan(timeline, range(-5, 150))
    assert daily, "the scenario must produce reminders"
    for skipped in range(-5, 150):
        notices = _scan(timeline, range(-5, 150), skip=frozenset({skipped}))
        assert notices.keys() == daily.keys(), f"scan skipped on day {skipped}"
        for key, sent_on in notices.items():
            expected = daily[key] + 1 if daily[key] == skipped else daily[key]
            assert sent_on == expected


def test_a_scan_run_twice_returns_the_same_keys():
    first = due_reminders(EVALUATED_DAY_80, day(101))
    assert first == due_reminders(EVALUATED_DAY_80, day(101))


def test_labels_format_with_the_reminder_params():
    for n in range(0, 140):
        for reminder in due_reminders(SECONDARY_LABS, day(n)) + due_reminders(NO_EVALUATION, day(n)):
            text = reminder.label % reminder.params(day(n))
            assert "%(" not in text
    assert set(REMINDER_LABELS) == set(ReminderKind)


def test_the_reviewed_table():
    """The table as reviewed against the protocol: change it here only together with the review."""
    table = {
        (r.kind, r.anchor, r.lead_days, r.send_until_days, r.recipients, r.chain) for r in REMINDER_RULES
    }
    assert table == {
        (K.LABS_EXPIRING, Anchor.LAB_EXPIRY, 3, 0, SITE, "labs"),
        (K.LABS_LAST_DAY, Anchor.LAB_EXPIRY, 0, 3, SITE, "labs"),
        (K.EVALUATION_DUE_SOON, Anchor.EVALUATION_DUE, 7, 0, SITE, "evaluation"),
        (K.EVALUATION_DUE, Anchor.EVALUATION_DUE, 0, 3, SITE, "evaluation"),
        (K.WINDOW_OPENING, Anchor.WINDOW_OPEN, 0, 3, SITE, "window"),
        (K.WINDOW_CLOSING_7, Anchor.WINDOW_CLOSE, 7, 0, SITE, "window"),
        (K.WINDOW_CLOSING_2, Anchor.WINDOW_CLOSE, 2, 0, SITE, "window"),
        (K.WINDOW_MISSED, Anchor.WINDOW_CLOSE, -1, 8, SITE_AND_DM, "window"),
        (K.PROGRESSION, Anchor.EVALUATION, 0, 28, SITE_AND_DM, "progression"),
    }


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
# Registered patients near their window, where the rules actually fire.
near_window = st.builds(
    lambda primary, courses, eval_day, progression, lab_day: PatientTimeline(
        screening_outcome="eligible",
        primary_registration_date=primary,
        planned_courses=courses,
        cycle_length_days=21,
        evaluation_date=None if eval_day is None else primary + timedelta(days=eval_day),
        evaluation_progression=progression,
        lab_date=None if lab_day is None else primary + timedelta(days=lab_day),
    ),
    dates,
    st.integers(2, 6),
    st.none() | st.integers(40, 140),
    st.none() | st.booleans(),
    st.none() | st.integers(-20, 140),
)


@given(timeline=timelines | near_window, offset=st.integers(-30, 160))
def test_due_dates_never_after_today_and_one_per_chain(timeline, offset):
    today = (timeline.primary_registration_date or date(2026, 1, 5)) + timedelta(days=offset)
    reminders = due_reminders(timeline, today)
    assert all(r.due_date <= today for r in reminders)
    chains = [next(rule.chain for rule in REMINDER_RULES if rule.kind == r.kind) for r in reminders]
    assert len(chains) == len(set(chains))
    status = patient_status(timeline, today)
    if status in (Status.RANDOMIZED, Status.OFF_STUDY, Status.SCREEN_FAILED, Status.SCREENING):
        assert reminders == []


@given(timeline=near_window, offset=st.integers(-30, 160))
def test_a_reminder_keeps_its_key_on_the_following_days(timeline, offset):
    # Whatever is returned today and not superseded tomorrow comes back with the same due date.
    today = timeline.primary_registration_date + timedelta(days=offset)
    tomorrow = {r.kind: r.due_date for r in due_reminders(timeline, today + timedelta(days=1))}
    for reminder in due_reminders(timeline, today):
        if reminder.kind in tomorrow:
            assert tomorrow[reminder.kind] == reminder.due_date
