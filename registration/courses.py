"""S1's fact, "the planned number of systemic therapy courses given", from the courses recorded (issue 16).

The courses are recorded by the follow-up app (followup.models.SystemicCourse), which sits above this app
in the arrows (architecture.md): registration cannot import it. So the follow-up app registers, in its
AppConfig.ready, the one function that reads a patient's recorded courses (`register_courses_source`), and
the registration services ask here. Without that source (the follow-up app not installed) the courses are
unknown: asking refuses with CoursesUnavailable, never a silent zero that would judge S1 not met (or, worse,
let a typed number stand in for the record).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy as _

from .exceptions import CoursesUnavailable


@dataclass(frozen=True)
class Course:
    """One recorded systemic therapy course, as S1 and the pages need it."""

    number: int
    plan_id: int
    regimen: str  # the therapy plan's regimen name (one plan per regimen of the subtype)
    start_date: date
    end_date: date | None  # None: ongoing
    stopped_early: bool


@dataclass(frozen=True)
class CoursesGiven:
    """The courses recorded from primary registration on, started on or before `until` (S1's fact)."""

    until: date
    courses: tuple[Course, ...]

    @property
    def count(self) -> int:
        return len(self.courses)

    def completed(self, planned_courses: int) -> bool:
        """S1: the planned number of courses given. A course counts once started (a course stopped early was
        given; the stop shows in the count of those that follow it, i.e. none)."""
        return self.count >= planned_courses


# source(patient_id, since, until) -> list[Course]: the patient's courses started from `since` to `until`.
_source: Callable | None = None


def register_courses_source(source: Callable) -> None:
    """Called once by the follow-up app at start-up (followup.apps.FollowupConfig.ready)."""
    global _source
    _source = source


def available() -> bool:
    return _source is not None


def courses_given(patient_id: int, *, since: date, until: date) -> CoursesGiven:
    """The courses recorded for the patient from `since` (the primary registration date) to `until`
    (inclusive, by start date). CoursesUnavailable when no app records courses."""
    if _source is None:
        raise CoursesUnavailable(
            _("The systemic therapy courses given cannot be read: no application records them (the follow-up app "
              "is not installed). S1 is derived from the recorded courses and cannot be judged; nothing was "
              "saved."), code="courses_unavailable")
    courses = tuple(sorted(_source(patient_id, since, until), key=lambda c: (c.start_date, c.number)))
    return CoursesGiven(until=until, courses=courses)
