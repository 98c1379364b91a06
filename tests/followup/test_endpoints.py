"""The endpoint rules F1-F5 (protocol/FOLLOWUP.md), boundaries first, without a database."""

from datetime import date, timedelta

import pytest

from followup.endpoints import (
    ALIVE_AFTER_DEATH,
    DEATH_BEFORE_ORIGIN,
    PROGRESSION_AFTER_DEATH,
    Assessment,
    Facts,
    Withdrawal,
    compute,
)

ORIGIN = date(2026, 6, 1)  # origin: the randomization date


def d(days: int) -> date:
    return ORIGIN + timedelta(days=days)


def facts(assessments=(), lka=None, death=None, withdrawal=None) -> Facts:
    return Facts(randomization_date=ORIGIN, assessments=tuple(Assessment(d(n), p) for n, p in assessments),
                 last_known_alive=None if lka is None else d(lka), death_date=None if death is None else d(death),
                 withdrawal=None if withdrawal is None else Withdrawal(d(withdrawal[0]), withdrawal[1]))


def row(e):
    return (e.os_days, e.os_event, e.pfs_days, e.pfs_event, e.problems)


def test_the_worked_example_of_followup_md():
    e = compute(Facts(randomization_date=date(2026, 6, 1),
                      assessments=(Assessment(date(2026, 9, 1), False), Assessment(date(2026, 12, 1), True)),
                      last_known_alive=date(2027, 3, 1), death_date=date(2027, 4, 15),
                      withdrawal=Withdrawal(date(2027, 1, 10), "visits")))
    assert row(e) == (318, True, 183, True, ())


def test_nothing_after_the_origin_is_censored_at_day_0_for_both():
    assert row(compute(facts())) == (0, False, 0, False, ())


# F1 ----------------------------------------------------------------------------------------------

def test_f1_death_is_the_event_at_its_date():
    assert row(compute(facts(assessments=[(90, False)], lka=100, death=200))) == (200, True, 200, True, ())


def test_f1_death_on_the_origin_day_is_an_event_at_day_0():
    assert row(compute(facts(death=0))) == (0, True, 0, True, ())


@pytest.mark.parametrize(("assessments", "lka", "expected"), [
    ([(90, False)], 60, 90),       # an assessment later than the recorded date known alive
    ([(90, False)], 120, 120),     # the recorded date known alive later than any assessment
    ([(90, True)], None, 90),      # an assessment with progression still means alive
    ([], None, 0),                 # nothing: the origin
])
def test_f1_censored_at_the_latest_of_last_known_alive_assessments_and_origin(assessments, lka, expected):
    e = compute(facts(assessments=assessments, lka=lka))
    assert (e.os_days, e.os_event) == (expected, False)


def test_f1_a_withdrawal_date_is_not_a_date_known_alive():
    for kind in ("treatment", "visits", "all_data"):
        e = compute(facts(assessments=[(30, False)], withdrawal=(100, kind)))
        assert (e.os_days, e.os_event) == (30, False), kind


# F2 ----------------------------------------------------------------------------------------------

def test_f2_first_progression_counts_even_if_a_later_assessment_shows_none():
    e = compute(facts(assessments=[(84, False), (168, True), (252, False), (336, True)]))
    assert (e.pfs_days, e.pfs_event) == (168, True)
    assert (e.os_days, e.os_event) == (336, False)


def test_f2_the_earlier_of_progression_and_death():
    assert compute(facts(assessments=[(100, True)], death=150)).pfs_days == 100
    assert compute(facts(assessments=[(30, False)], death=50, lka=50)).pfs_days == 50
    assert compute(facts(assessments=[(50, True)], death=50)).pfs_days == 50


def test_f2_progression_on_the_day_of_death():
    e = compute(facts(assessments=[(100, True)], death=100))
    assert row(e) == (100, True, 100, True, ())


def test_f2_censored_at_the_last_assessment_without_progression_not_at_last_known_alive():
    e = compute(facts(assessments=[(84, False), (168, False)], lka=300))
    assert (e.pfs_days, e.pfs_event) == (168, False)
    assert (e.os_days, e.os_event) == (300, False)


def test_f2_censored_at_origin_without_assessments():
    e = compute(facts(lka=300))
    assert (e.pfs_days, e.pfs_event) == (0, False)


# F3 ----------------------------------------------------------------------------------------------

def test_f3_all_data_sets_aside_facts_strictly_after_the_withdrawal_date():
    e = compute(facts(assessments=[(84, False), (200, True)], lka=250, death=300, withdrawal=(150, "all_data")))
    assert row(e) == (84, False, 84, False, ())


def test_f3_facts_on_the_withdrawal_date_are_used():
    e = compute(facts(assessments=[(84, False), (150, True)], death=150, withdrawal=(150, "all_data")))
    assert row(e) == (150, True, 150, True, ())
    e = compute(facts(assessments=[(84, False)], lka=150, withdrawal=(150, "all_data")))
    assert row(e) == (150, False, 84, False, ())


def test_f3_a_death_the_day_after_an_all_data_withdrawal_is_not_used():
    e = compute(facts(assessments=[(84, False)], death=151, withdrawal=(150, "all_data")))
    assert row(e) == (84, False, 84, False, ())


@pytest.mark.parametrize("kind", ["treatment", "visits"])
def test_f3_the_other_two_kinds_change_nothing(kind):
    base = facts(assessments=[(84, False), (200, True)], lka=250, death=300)
    withdrawn = facts(assessments=[(84, False), (200, True)], lka=250, death=300, withdrawal=(150, kind))
    assert row(compute(withdrawn)) == row(compute(base)) == (300, True, 200, True, ())


def test_f3_before_f5_facts_after_withdrawal_are_no_contradiction():
    # An assessment after the death would contradict, but both are after the withdrawal: set aside first.
    e = compute(facts(assessments=[(84, False), (250, True)], death=200, withdrawal=(150, "all_data")))
    assert row(e) == (84, False, 84, False, ())


# F4 ----------------------------------------------------------------------------------------------

def test_f4_facts_before_the_origin_are_baseline():
    e = compute(facts(assessments=[(-10, True), (-1, False)], lka=-1))
    assert row(e) == (0, False, 0, False, ())


def test_f4_a_progression_on_the_origin_day_is_an_event_at_day_0():
    e = compute(facts(assessments=[(-1, True), (0, True)], lka=50))
    assert row(e) == (50, False, 0, True, ())


def test_f4_a_death_before_the_origin_is_a_contradiction():
    e = compute(facts(death=-1))
    assert row(e) == (None, None, None, None, (DEATH_BEFORE_ORIGIN,))


# F5 ----------------------------------------------------------------------------------------------

def test_f5_assessment_the_day_after_death():
    e = compute(facts(assessments=[(101, False)], death=100))
    assert row(e) == (None, None, None, None, (ALIVE_AFTER_DEATH,))


def test_f5_progression_after_death_gives_both_codes_sorted():
    e = compute(facts(assessments=[(101, True)], death=100))
    assert e.problems == (ALIVE_AFTER_DEATH, PROGRESSION_AFTER_DEATH)
    assert row(e)[:4] == (None, None, None, None)


def test_f5_last_known_alive_after_death():
    e = compute(facts(lka=101, death=100))
    assert e.problems == (ALIVE_AFTER_DEATH,)


def test_f5_on_the_day_of_death_is_no_contradiction():
    e = compute(facts(assessments=[(100, False)], lka=100, death=100))
    assert row(e) == (100, True, 100, True, ())


def test_f5_all_three_codes_sorted():
    e = compute(facts(assessments=[(-5, True)], death=-3, lka=-1))
    # F4 sets aside the baseline facts, so only the death before origin remains.
    assert e.problems == (DEATH_BEFORE_ORIGIN,)
    e = Facts(randomization_date=ORIGIN, assessments=(Assessment(d(5), True),), death_date=d(-3))
    assert compute(e).problems == (ALIVE_AFTER_DEATH, DEATH_BEFORE_ORIGIN, PROGRESSION_AFTER_DEATH)


def test_f5_a_baseline_assessment_before_a_death_before_origin_is_not_alive_after_death():
    e = Facts(randomization_date=ORIGIN, assessments=(Assessment(d(-1), False),), death_date=d(-3))
    assert compute(e).problems == (DEATH_BEFORE_ORIGIN,)
