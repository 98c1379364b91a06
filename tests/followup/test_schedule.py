"""The schedule of assessments (followup/schedule.py): due dates, window boundaries, next due and overdue."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from followup.schedule import Period, due_dates, status

ORIGIN = date(2026, 6, 1)
EXAMPLE = [Period(0, 84, 14), Period(1092, 182, 28)]  # the demo's example, not the protocol's


def d(n):
    return ORIGIN + timedelta(days=n)


def test_due_days_chain_through_the_periods():
    days = [(due.date - ORIGIN).days for due in due_dates(ORIGIN, EXAMPLE, d(1500))]
    assert days[:3] == [84, 168, 252]
    assert days[12:15] == [1092, 1274, 1456]
    first = due_dates(ORIGIN, EXAMPLE, d(84))[0]
    assert (first.number, first.window_start, first.window_end) == (1, d(70), d(98))


def test_window_boundaries_are_inclusive():
    assert status(ORIGIN, EXAMPLE, [d(70)], d(99)).overdue == ()  # first day of the window
    assert status(ORIGIN, EXAMPLE, [d(98)], d(99)).overdue == ()  # last day of the window
    assert [x.number for x in status(ORIGIN, EXAMPLE, [d(69)], d(99)).overdue] == [1]
    assert [x.number for x in status(ORIGIN, EXAMPLE, [d(99)], d(100)).overdue] == []  # after the due date


def test_overdue_only_the_day_after_the_window_ends():
    assert status(ORIGIN, EXAMPLE, [], d(98)).overdue == ()
    assert status(ORIGIN, EXAMPLE, [], d(98)).next_due.number == 1
    s = status(ORIGIN, EXAMPLE, [], d(99))
    assert [x.number for x in s.overdue] == [1] and s.next_due.number == 2


def test_overdue_counts_only_since_the_last_assessment():
    s = status(ORIGIN, EXAMPLE, [d(84)], d(300))
    assert [x.number for x in s.overdue] == [2, 3] and s.next_due.number == 4


def test_no_schedule_no_due():
    s = status(ORIGIN, [], [], d(300))
    assert s.next_due is None and s.overdue == ()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 2000), max_size=10), st.integers(0, 3000))
def test_the_next_due_is_never_in_a_closed_window_and_overdue_are_past(assessed, today):
    s = status(ORIGIN, EXAMPLE, [d(n) for n in assessed], d(today))
    assert s.next_due is not None and s.next_due.window_end >= d(today)
    assert all(x.window_end < d(today) for x in s.overdue)
    assert all(not (x.window_start <= d(n) <= x.window_end) for x in s.overdue for n in assessed)
