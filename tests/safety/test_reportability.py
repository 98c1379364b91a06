"""safety/reportability.py: R0-R4 and the deadlines at every boundary (protocol/SAFETY.md).

No database. The worked dates: primary registration 2026-03-02, treatment start 2026-03-05, last
protocol treatment day 2026-08-20 (so day 30 after it is 2026-09-19 and day 31 is 2026-09-20).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from safety import reportability as r
from safety.reportability import Causality, Event, Kind, Phase, Rule, Treatment

PRIMARY = dt.date(2026, 3, 2)
START = dt.date(2026, 3, 5)
LAST = dt.date(2026, 8, 20)
DAY30 = LAST + dt.timedelta(days=30)
DAY31 = LAST + dt.timedelta(days=31)
ENDED = Treatment(start_date=START, last_day=LAST, ongoing=False)
ONGOING = Treatment(start_date=START, last_day=None, ongoing=True)
NOT_STARTED = Treatment(start_date=None, last_day=None, ongoing=False)
TOKYO = ZoneInfo("Asia/Tokyo")
AWARE = dt.datetime(2026, 9, 16, 9, 30, tzinfo=TOKYO)


def death(onset, causality=None):
    return Event(kind=Kind.DEATH, onset_date=onset, causality=causality)


def ae(onset, grade, *, expected=None, hosp=None, causality=None):
    return Event(kind=Kind.ADVERSE_EVENT, onset_date=onset, grade=grade, expected=expected,
                 hospitalization_24h=hosp, causality=causality)


def decide(event, treatment=ENDED):
    return r.decide(primary_registration_date=PRIMARY, treatment=treatment, event=event)


# --- The time rule shared by R1-R3 -----------------------------------------------------------------

PHASES = [
    # (onset, treatment, phase) — registration day, start day, around the last day, days 30 and 31
    (PRIMARY, ENDED, Phase.BEFORE_TREATMENT),
    (START - dt.timedelta(days=1), ENDED, Phase.BEFORE_TREATMENT),
    (START, ENDED, Phase.TREATMENT),  # an onset on start_date is under treatment
    (LAST, ENDED, Phase.TREATMENT),  # day 0
    (LAST - dt.timedelta(days=1), ENDED, Phase.TREATMENT),
    (DAY30, ENDED, Phase.TREATMENT),  # day 30: still "b"
    (DAY31, ENDED, Phase.AFTER),  # day 31: "c"
    (DAY31 + dt.timedelta(days=400), ENDED, Phase.AFTER),
    # ongoing true is "b" whatever last_day says, but never before the start day
    (DAY31 + dt.timedelta(days=400), ONGOING, Phase.TREATMENT),
    (DAY31, Treatment(start_date=START, last_day=LAST, ongoing=True), Phase.TREATMENT),
    (START - dt.timedelta(days=1), ONGOING, Phase.BEFORE_TREATMENT),
    (DAY31, NOT_STARTED, Phase.BEFORE_TREATMENT),
]


@pytest.mark.parametrize(("onset", "treatment", "expected"), PHASES)
def test_phase_boundaries(onset, treatment, expected):
    assert r.phase(onset, treatment) is expected


def test_days_after_last_day_counts_the_day_itself_as_zero():
    assert r.days_after_last_day(LAST, LAST) == 0
    assert r.days_after_last_day(DAY30, LAST) == 30
    assert r.days_after_last_day(DAY31, LAST) == 31
    assert r.days_after_last_day(LAST - dt.timedelta(days=2), LAST) == -2


def test_day_counts_cross_month_year_and_leap_day_on_dates():
    last = dt.date(2028, 1, 30)
    assert r.phase(dt.date(2028, 2, 29), Treatment(START, last, False)) is Phase.TREATMENT  # day 30
    assert r.phase(dt.date(2028, 3, 1), Treatment(START, last, False)) is Phase.AFTER  # day 31
    last = dt.date(2026, 12, 10)
    assert r.phase(dt.date(2027, 1, 9), Treatment(START, last, False)) is Phase.TREATMENT
    assert r.phase(dt.date(2027, 1, 10), Treatment(START, last, False)) is Phase.AFTER


def test_datetimes_are_refused_as_dates():
    with pytest.raises(TypeError):
        r.phase(dt.datetime(2026, 9, 1, 10, 0), ENDED)
    with pytest.raises(TypeError):
        r.days_after_last_day(DAY30, dt.datetime(2026, 8, 20))


def test_ended_treatment_without_last_day_asks_for_it():
    with pytest.raises(r.MissingFact) as exc:
        r.phase(DAY30, Treatment(start_date=START, last_day=None, ongoing=False))
    assert exc.value.field == "last_day"
    with pytest.raises(r.MissingFact):
        r.phase(DAY30, None)


# --- R0 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("event", [death(PRIMARY - dt.timedelta(days=1)), ae(PRIMARY - dt.timedelta(days=1), 4),
                                   ae(PRIMARY - dt.timedelta(days=1), 2, expected=False, hosp=True)])
def test_r0_onset_strictly_before_registration_is_not_the_trials(event):
    assert decide(event) == (False, Rule.R0)


def test_r0_registration_day_belongs_to_the_trial():
    assert decide(death(PRIMARY)) == (True, Rule.R1A)
    assert decide(ae(PRIMARY, 4)) == (False, Rule.R2A)
    assert decide(ae(PRIMARY, 3, expected=False, hosp=True)) == (False, Rule.R3A)


# --- R1 death ------------------------------------------------------------------------------------

ALL_CAUSALITIES = list(Causality)
DENIED = [Causality.UNLIKELY, Causality.NOT_RELATED]
NOT_DENIED = [Causality.DEFINITE, Causality.PROBABLE, Causality.POSSIBLE]


@pytest.mark.parametrize("causality", [*ALL_CAUSALITIES, None])
@pytest.mark.parametrize("onset", [PRIMARY, START - dt.timedelta(days=1)])
def test_r1a_death_before_treatment_any_cause(onset, causality):
    assert decide(death(onset, causality)) == (True, Rule.R1A)
    assert decide(death(DAY31, causality), NOT_STARTED) == (True, Rule.R1A)


@pytest.mark.parametrize("causality", [*ALL_CAUSALITIES, None])
@pytest.mark.parametrize("onset", [START, LAST, DAY30])
def test_r1b_death_during_treatment_or_to_day_30_whatever_the_causality(onset, causality):
    assert decide(death(onset, causality)) == (True, Rule.R1B)


@pytest.mark.parametrize("causality", ALL_CAUSALITIES)
def test_r1b_ongoing_treatment_whatever_last_day(causality):
    assert decide(death(DAY31 + dt.timedelta(days=90), causality), ONGOING) == (True, Rule.R1B)


@pytest.mark.parametrize("causality", NOT_DENIED)
def test_r1c_day_31_reportable_when_causality_not_denied(causality):
    assert decide(death(DAY31, causality)) == (True, Rule.R1C)


@pytest.mark.parametrize("causality", DENIED)
def test_r1c_day_31_not_reportable_when_causality_denied(causality):
    assert decide(death(DAY31, causality)) == (False, Rule.R1C)


def test_r1c_needs_the_causality():
    with pytest.raises(r.MissingFact) as exc:
        decide(death(DAY31))
    assert exc.value.field == "causality"


def test_a_death_reads_no_grade_or_expectedness():
    event = Event(kind=Kind.DEATH, onset_date=DAY30, grade=None, expected=None, hospitalization_24h=None)
    assert decide(event) == (True, Rule.R1B)


# --- R2 grade 4 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("expected", [True, False, None])
def test_r2a_grade_4_before_treatment_not_reported_at_once(expected):
    assert decide(ae(START - dt.timedelta(days=1), 4, expected=expected)) == (False, Rule.R2A)
    assert decide(ae(DAY31, 4, expected=expected), NOT_STARTED) == (False, Rule.R2A)


@pytest.mark.parametrize("causality", [*ALL_CAUSALITIES, None])
@pytest.mark.parametrize("onset", [START, LAST, DAY30])
@pytest.mark.parametrize("expected", [True, False])
def test_r2b_grade_4_expected_or_not_whatever_the_causality(onset, causality, expected):
    assert decide(ae(onset, 4, expected=expected, hosp=False, causality=causality)) == (True, Rule.R2B)


@pytest.mark.parametrize("causality", NOT_DENIED)
def test_r2c_day_31_not_denied_reportable(causality):
    assert decide(ae(DAY31, 4, causality=causality)) == (True, Rule.R2C)


@pytest.mark.parametrize("causality", DENIED)
def test_r2c_day_31_denied_not_reportable(causality):
    assert decide(ae(DAY31, 4, causality=causality)) == (False, Rule.R2C)


def test_r2_ongoing_is_b_even_long_after_last_day():
    ongoing_with_old_last_day = Treatment(start_date=START, last_day=LAST, ongoing=True)
    assert decide(ae(DAY31 + dt.timedelta(days=10), 4, causality=Causality.NOT_RELATED),
                  ongoing_with_old_last_day) == (True, Rule.R2B)


# --- R3 / R4 grade 1-3 ---------------------------------------------------------------------------

@pytest.mark.parametrize("grade", [1, 2, 3])
def test_r3_unexpected_with_hospitalization_by_phase(grade):
    assert decide(ae(START - dt.timedelta(days=1), grade, expected=False, hosp=True)) == (False, Rule.R3A)
    assert decide(ae(START, grade, expected=False, hosp=True)) == (True, Rule.R3B)
    assert decide(ae(DAY30, grade, expected=False, hosp=True)) == (True, Rule.R3B)
    for causality in NOT_DENIED:
        assert decide(ae(DAY31, grade, expected=False, hosp=True, causality=causality)) == (True, Rule.R3C)
    for causality in DENIED:
        assert decide(ae(DAY31, grade, expected=False, hosp=True, causality=causality)) == (False, Rule.R3C)


@pytest.mark.parametrize("grade", [1, 2, 3])
@pytest.mark.parametrize(("expected", "hosp"), [(True, True), (True, False), (False, False), (True, None),
                                                (None, False)])
@pytest.mark.parametrize("onset", [START - dt.timedelta(days=1), START, DAY30, DAY31])
def test_r4_expected_or_without_hospitalization(grade, expected, hosp, onset):
    assert decide(ae(onset, grade, expected=expected, hosp=hosp, causality=Causality.DEFINITE)) == (False, Rule.R4)


def test_r4_needs_no_treatment_facts():
    assert decide(ae(DAY31, 2, expected=True), None) == (False, Rule.R4)


def test_r3_missing_facts_are_named():
    with pytest.raises(r.MissingFact) as exc:
        decide(ae(DAY30, 2, hosp=True))
    assert exc.value.field == "expected"
    with pytest.raises(r.MissingFact) as exc:
        decide(ae(DAY30, 2, expected=False))
    assert exc.value.field == "hospitalization_24h"
    with pytest.raises(r.MissingFact) as exc:
        decide(ae(DAY31, 2, expected=False, hosp=True))
    assert exc.value.field == "causality"


@pytest.mark.parametrize("grade", [0, 5, -1, None])
def test_grade_outside_1_to_4_is_refused(grade):
    with pytest.raises((ValueError, r.MissingFact)):
        decide(ae(DAY30, grade, expected=False, hosp=True))


# --- Deadlines -----------------------------------------------------------------------------------

def test_sample_from_safety_md():
    decision = r.assess(primary_registration_date=PRIMARY, treatment=ENDED,
                        event=ae(dt.date(2026, 9, 15), 4, expected=True, hosp=False, causality=Causality.UNLIKELY),
                        awareness=AWARE)
    assert (decision.reportable, decision.rule) == (True, Rule.R2B)
    assert decision.first_report_due.isoformat() == "2026-09-19T09:30:00+09:00"
    assert decision.second_report_due.isoformat() == "2026-10-01T09:30:00+09:00"


def test_deadlines_are_72_hours_and_15_times_24_hours_in_tokyo():
    first, second = r.deadlines(dt.datetime(2026, 12, 30, 23, 59, tzinfo=TOKYO))
    assert first == dt.datetime(2027, 1, 2, 23, 59, tzinfo=TOKYO)
    assert second == dt.datetime(2027, 1, 14, 23, 59, tzinfo=TOKYO)
    assert first.utcoffset() == dt.timedelta(hours=9)


def test_awareness_in_another_offset_is_the_same_instant():
    utc = dt.datetime(2026, 9, 16, 0, 30, tzinfo=dt.UTC)
    minus_five = dt.datetime(2026, 9, 15, 19, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert r.deadlines(utc) == r.deadlines(minus_five) == r.deadlines(AWARE)
    assert r.deadlines(minus_five)[0].isoformat() == "2026-09-19T09:30:00+09:00"


def test_deadlines_are_elapsed_time_across_a_dst_change():
    # New York falls back on 2026-11-01: 72 wall-clock hours there would be 73 real hours.
    new_york = ZoneInfo("America/New_York")
    awareness = dt.datetime(2026, 10, 31, 12, 0, tzinfo=new_york)
    first, second = r.deadlines(awareness)
    assert first - awareness == dt.timedelta(hours=72)
    assert second - awareness == dt.timedelta(days=15)
    # 12:00 EDT = 16:00 UTC; + 72 h = 3 Nov 16:00 UTC = 4 Nov 01:00 JST (wall-clock arithmetic in New York
    # would give 3 Nov 12:00 EST = 17:00 UTC, one hour late).
    assert first.isoformat() == "2026-11-04T01:00:00+09:00"


def test_configured_lengths_are_used():
    first, second = r.deadlines(AWARE, first_report_hours=24, second_report_days=7)
    assert first == AWARE + dt.timedelta(hours=24) and second == AWARE + dt.timedelta(days=7)
    with pytest.raises(ValueError):
        r.deadlines(AWARE, first_report_hours=0)


def test_awareness_without_offset_is_refused():
    with pytest.raises(ValueError):
        r.deadlines(dt.datetime(2026, 9, 16, 9, 30))


def test_not_reportable_has_no_deadlines_and_needs_no_awareness():
    decision = r.assess(primary_registration_date=PRIMARY, treatment=ENDED,
                        event=death(DAY31, Causality.NOT_RELATED), awareness=None)
    assert decision == r.Decision(False, Rule.R1C, None, None)


def test_reportable_needs_the_awareness():
    with pytest.raises(r.MissingFact) as exc:
        r.assess(primary_registration_date=PRIMARY, treatment=ENDED, event=death(DAY30), awareness=None)
    assert exc.value.field == "awareness"


def test_deadline_states_at_24_hours_and_at_the_deadline():
    due = dt.datetime(2026, 9, 19, 9, 30, tzinfo=TOKYO)
    assert r.deadline_state(due, due - dt.timedelta(hours=24, seconds=1)) is r.DeadlineState.OPEN
    assert r.deadline_state(due, due - dt.timedelta(hours=24)) is r.DeadlineState.DUE_SOON
    assert r.deadline_state(due, due) is r.DeadlineState.DUE_SOON
    assert r.deadline_state(due, due + dt.timedelta(seconds=1)) is r.DeadlineState.OVERDUE
    assert r.due_soon_from(due) == due - dt.timedelta(hours=24)


def test_every_rule_has_a_label():
    assert set(r.RULE_LABELS) == set(Rule)
