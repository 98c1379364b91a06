"""The schedule of assessments (protocol/FOLLOWUP.md): due dates, windows, next due and overdue.

Pure: the schedule's periods (trial configuration, from the database) and dates in, due assessments out;
standard library only. Window arithmetic on dates (Asia/Tokyo days), inclusive at both ends.

Reading of the schedule: periods [(from_day, interval_days, window_days)], ordered by from_day, the first
from day 0. The due days are chained: the first is the first period's interval after the randomization
date; each next one is the previous due day plus the interval of the period that previous day falls in
(e.g. every 84 days from day 0, every 182 days from day 1092 on: 84, 168, ..., 1092, 1274, ...). An
assessment recorded inside a due day's window [due - window, due + window] satisfies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

# Follow-up stops being due after this many years (the trial's follow-up horizon is far shorter; this only
# bounds the iteration of a misconfigured schedule).
MAX_FOLLOWUP_DAYS = 20 * 366


@dataclass(frozen=True)
class Period:
    from_day: int
    interval_days: int
    window_days: int


@dataclass(frozen=True)
class Due:
    number: int  # 1 for the first assessment after randomization
    date: date
    window_start: date
    window_end: date


@dataclass(frozen=True)
class Status:
    """Where a patient is on the schedule today."""

    next_due: Due | None  # the first due assessment whose window has not ended and that is not done
    overdue: tuple[Due, ...]  # due assessments whose window ended without an assessment, since the last one

    @property
    def is_overdue(self) -> bool:
        return bool(self.overdue)


def _period_at(periods: Sequence[Period], day: int) -> Period:
    current = periods[0]
    for period in periods:
        if period.from_day <= day:
            current = period
    return current


def due_dates(origin: date, periods: Sequence[Period], until: date) -> list[Due]:
    """Every due assessment whose window starts on or before `until`."""
    periods = sorted(periods, key=lambda p: p.from_day)
    if not periods or any(p.interval_days < 1 or p.window_days < 0 for p in periods):
        return []
    result, day, number = [], 0, 0
    while True:
        day += _period_at(periods, day).interval_days
        number += 1
        if day > MAX_FOLLOWUP_DAYS:
            return result
        window = _period_at(periods, day).window_days
        due = origin + timedelta(days=day)
        start = due - timedelta(days=window)
        if start > until:
            return result
        result.append(Due(number=number, date=due, window_start=start, window_end=due + timedelta(days=window)))


def status(origin: date, periods: Sequence[Period], assessments: Iterable[date], today: date) -> Status:
    """Next due and overdue assessments on `today` (an assessment satisfies every due whose window holds it)."""
    assessments = sorted(assessments)
    last = assessments[-1] if assessments else None
    if not periods:
        return Status(next_due=None, overdue=())
    # Far enough ahead to hold the first due assessment not yet done after today: two longest intervals and
    # a window (today may sit in a window already done, and a period may change on the way).
    longest = max(p.interval_days for p in periods)
    widest = max(p.window_days for p in periods)
    dues = due_dates(origin, periods, today + timedelta(days=2 * longest + widest + 1))

    def done(due: Due) -> bool:
        return any(due.window_start <= a <= due.window_end for a in assessments)

    next_due = next((d for d in dues if d.window_end >= today and not done(d)), None)
    overdue = tuple(d for d in dues if d.window_end < today and not done(d) and (last is None or d.date > last))
    return Status(next_due=next_due, overdue=overdue)
