"""OLIGAMI visit windows, patient status and reminder rules: dates in, windows and due reminders out.

Pure rules (stdlib only, no Django; of the project only the pure eligibility engine, which owns the
protocol's day counts), so they are tested exhaustively without a database. Source:
shared/protocol/ELIGIBILITY.md, "Dates and day counts", S3/S4, "Reminder-worthy dates".

Conventions (apply to every function here):

- Day numbers count calendar days from primary registration: the primary registration date is day 0,
  so "day 84" is ``primary_date + 84 days``. All arithmetic is on ``datetime.date`` (never datetimes):
  month ends, year ends and 29 February need no special case. ``datetime.datetime`` (a subclass of
  ``date``) is refused, because comparing it with a date raises and its time part would shift days.
- ``today`` is passed in, never read from a clock: the caller gives the trial-local date
  (Asia/Tokyo, ``django.utils.timezone.localdate()``), and tests pass any date they like.
- A timeline is the record as it stands; ``today`` only moves the clock. A fact dated after ``today``
  is not ignored (the forms refuse future dates; here it is simply taken as recorded).
- "Within N days prior to X" is ``0 <= X - date <= N`` (ELIGIBILITY.md), so every window below is
  closed at both ends: the close date itself is still inside the window (0 days left = still open).

Labels are English %-templates marked with ``_()``, a no-op here, so that ``makemessages``/xgettext
extracts them and the web layer translates them with ``gettext`` at render time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from screening.eligibility import EVALUATION_WINDOW_DAYS, LAB_WINDOW_DAYS, SECONDARY_WINDOW_DAYS


def _(message: str) -> str:
    """No-op marker for xgettext (``_ = lambda s: s``, written as a def for the linter)."""
    return message


# --- Protocol constants (ELIGIBILITY.md, "Dates and day counts") -------------------------------------
# The numbers are the criteria's, written once in screening.eligibility (the engine that applies S3, S4,
# P16/S8); the windows are named here for the date arithmetic below. Everything else (services, views,
# the timeline, labels) asks this module.

WINDOW_OPEN_DAY, WINDOW_CLOSE_DAY = SECONDARY_WINDOW_DAYS  # S4: 84 <= secondary - primary <= 126
EVALUATION_TO_SECONDARY_DAYS = EVALUATION_WINDOW_DAYS  # S3: 0 <= secondary - evaluation <= 28
LAB_VALIDITY_DAYS = LAB_WINDOW_DAYS  # P16/S8: 0 <= registration - lab <= 14
WINDOW_CLOSING_DAYS = 7  # status "window closing": 7 days or fewer left (issue 4)


def _check_date(value: date, name: str) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime.date (not a datetime), got {type(value).__name__}")


def _days(n: int) -> timedelta:
    return timedelta(days=n)


# --- Window arithmetic ---------------------------------------------------------------------------


def day_number(primary_date: date, on_date: date) -> int:
    """Day of ``on_date`` counted from primary registration (day 0); negative before it."""
    _check_date(primary_date, "primary_date")
    _check_date(on_date, "on_date")
    return (on_date - primary_date).days


def window_open(primary_date: date) -> date:
    """First day of the secondary-registration window: day 84 (S4)."""
    _check_date(primary_date, "primary_date")
    return primary_date + _days(WINDOW_OPEN_DAY)


def last_window_day(primary_date: date) -> date:
    """Day 126 (S4): the latest the window can close, whatever the evaluation."""
    _check_date(primary_date, "primary_date")
    return primary_date + _days(WINDOW_CLOSE_DAY)


def evaluation_close(evaluation_date: date) -> date:
    """Evaluation + 28 (S3): the last day a secondary registration may follow the evaluation."""
    _check_date(evaluation_date, "evaluation_date")
    return evaluation_date + _days(EVALUATION_TO_SECONDARY_DAYS)


def window_close(primary_date: date, evaluation_date: date | None) -> date:
    """Last day of the window: the earlier of day 126 (S4) and evaluation + 28 (S3).

    Without a response evaluation the close is day 126: that is the latest the window can ever close,
    so the coordinator is never told a later date than the protocol allows.
    """
    day_126 = last_window_day(primary_date)
    if evaluation_date is None:
        return day_126
    return min(day_126, evaluation_close(evaluation_date))


def days_remaining(deadline: date, today: date) -> int:
    """Calendar days from ``today`` to ``deadline``: 0 on the deadline itself, negative once it has passed."""
    _check_date(deadline, "deadline")
    _check_date(today, "today")
    return (deadline - today).days


def lab_expiry(lab_date: date) -> date:
    """Last day on which labs drawn on ``lab_date`` are valid for a registration: lab_date + 14.

    P16/S8 "within 14 days prior to registration" is ``0 <= registration - lab <= 14``, so labs drawn on
    day X serve a registration on X..X+14 inclusive and are stale from X+15.
    """
    _check_date(lab_date, "lab_date")
    return lab_date + _days(LAB_VALIDITY_DAYS)


def evaluation_due(primary_date: date, planned_courses: int, cycle_length_days: int) -> date:
    """Date the response evaluation falls due: primary + planned_courses * cycle_length_days.

    That is the day the next cycle would start, i.e. the first day after the planned courses are
    completed (S1: "the planned number of courses given"). With 4 courses of 21 days it is day 84;
    ELIGIBILITY.md says "about day 77-84", and the "evaluation due soon" reminder 7 days earlier covers
    the early end of that range. The plan (courses, cycle length) is trial configuration per subtype,
    passed in, never hard-coded.
    """
    _check_date(primary_date, "primary_date")
    _check_positive(planned_courses, "planned_courses")
    _check_positive(cycle_length_days, "cycle_length_days")
    return primary_date + _days(planned_courses * cycle_length_days)


# The earliest evaluation day from which a secondary registration inside both windows is possible: the
# evaluation must be at most 28 days before secondary registration (S3) and secondary registration at the
# earliest on day 84 (S4), so an evaluation before day 84 - 28 = 56 leaves an empty window (issue 15).
EARLIEST_USEFUL_EVALUATION_DAY = WINDOW_OPEN_DAY - EVALUATION_TO_SECONDARY_DAYS


class EvaluationWarning(enum.StrEnum):
    """What an evaluation about to be saved makes impossible or doubtful; the site confirms, nothing refuses."""

    TOO_EARLY = "too_early"  # before day 56: no date meets S3 and S4 together (the window is empty)
    FEWER_COURSES = "fewer_courses"  # fewer courses given than planned: S1 not met at secondary registration

    @property
    def label(self) -> str:
        return EVALUATION_WARNING_LABELS[self]


# Placeholders: %(day)s (the evaluation's day number), %(earliest)s (day 56), %(open)s (day 84),
# %(limit)s (28), %(given)s and %(planned)s (courses).
EVALUATION_WARNING_LABELS: dict[EvaluationWarning, str] = {
    EvaluationWarning.TOO_EARLY: _(
        "The evaluation is dated day %(day)s after primary registration, before day %(earliest)s: secondary "
        "registration must be on day %(open)s or later and within %(limit)s days of the evaluation, so no date "
        "would be possible and the patient would show as \"window missed\". Check the date."
    ),
    EvaluationWarning.FEWER_COURSES: _(
        "%(given)s courses given, fewer than the %(planned)s planned: S1 (the planned courses given) would not "
        "be met at secondary registration. Check the number of courses."
    ),
}


def evaluation_warnings(primary_date: date, evaluation_date: date, courses_given: int,
                        planned_courses: int) -> list[EvaluationWarning]:
    """The warnings an evaluation deserves before it is saved (issue 15), in a fixed order.

    TOO_EARLY: ``day_number(primary, evaluation) < 56`` (day 56 itself is fine: evaluation + 28 = day 84).
    FEWER_COURSES: ``courses_given < planned_courses`` (S1).
    """
    _check_positive(planned_courses, "planned_courses")
    out = []
    if day_number(primary_date, evaluation_date) < EARLIEST_USEFUL_EVALUATION_DAY:
        out.append(EvaluationWarning.TOO_EARLY)
    if courses_given < planned_courses:
        out.append(EvaluationWarning.FEWER_COURSES)
    return out


def evaluation_warning_params(primary_date: date, evaluation_date: date, courses_given: int,
                              planned_courses: int) -> dict[str, int]:
    """Values for the warnings' placeholders (every label takes the same dict)."""
    return {"day": day_number(primary_date, evaluation_date), "earliest": EARLIEST_USEFUL_EVALUATION_DAY,
            "open": WINDOW_OPEN_DAY, "limit": EVALUATION_TO_SECONDARY_DAYS, "given": courses_given,
            "planned": planned_courses}


def _check_positive(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class Window(NamedTuple):
    """The dates on which secondary registration satisfies both S3 and S4, inclusive at both ends."""

    open: date
    close: date

    @property
    def is_empty(self) -> bool:
        """True when no date satisfies S3 and S4 together: the window can never be met."""
        return self.open > self.close

    def contains(self, on_date: date) -> bool:
        return self.open <= on_date <= self.close


def secondary_window(primary_date: date, evaluation_date: date | None) -> Window:
    """The effective secondary window: from max(day 84, evaluation) to window_close(...).

    S3 also forbids a secondary registration before the evaluation (``0 <= secondary - evaluation``), so an
    evaluation after day 84 moves the effective opening to the evaluation date. The window is empty when
    evaluation + 28 falls before day 84 (evaluation before day 56) or the evaluation is after day 126.
    Without an evaluation only S4 is applied: [day 84, day 126].
    """
    opening = window_open(primary_date)
    if evaluation_date is not None:
        _check_date(evaluation_date, "evaluation_date")
        opening = max(opening, evaluation_date)
    return Window(opening, window_close(primary_date, evaluation_date))


def in_secondary_window(primary_date: date, evaluation_date: date | None, on_date: date) -> bool:
    """Whether a secondary registration on ``on_date`` meets the date parts of S4 and S3.

    S4: ``84 <= on_date - primary <= 126``; S3: ``0 <= on_date - evaluation <= 28``. With no evaluation
    recorded only S4 is checked (S2/S3 as a whole are the eligibility engine's business: no evaluation
    means S2 is missing, never met).
    """
    _check_date(on_date, "on_date")
    return secondary_window(primary_date, evaluation_date).contains(on_date)


# --- The facts a status needs ---------------------------------------------------------------------


class ScreeningOutcome(enum.StrEnum):
    DRAFT = "draft"
    ELIGIBLE = "eligible"
    SCREEN_FAILED = "screen_failed"


@dataclass(frozen=True)
class PatientTimeline:
    """One patient's dated facts, as recorded; every field optional so that any stage can be described.

    ``lab_date`` is the date the latest labs were drawn for the registration now pending (primary while
    the patient is eligible but not registered, secondary after primary registration).
    ``evaluation_progression`` is True when the response evaluation shows progression or a new distant
    metastasis (S2 not met), False when it shows neither, None when not recorded.
    Construction refuses values no form can produce (unknown outcome, non-positive plan, datetimes),
    so that ``patient_status`` can never raise for a timeline that exists.
    """

    screening_outcome: str | None = None  # None (nothing entered yet), "draft", "eligible", "screen_failed"
    primary_registration_date: date | None = None
    planned_courses: int | None = None
    cycle_length_days: int | None = None
    evaluation_date: date | None = None
    evaluation_progression: bool | None = None
    secondary_registration_date: date | None = None
    randomized: bool = False
    off_study: bool = False
    off_study_date: date | None = None
    lab_date: date | None = None

    def __post_init__(self) -> None:
        if self.screening_outcome is not None and self.screening_outcome not in set(ScreeningOutcome):
            raise ValueError(f"unknown screening outcome {self.screening_outcome!r}")
        for name in ("planned_courses", "cycle_length_days"):
            value = getattr(self, name)
            if value is not None:
                _check_positive(value, name)
        for name in (
            "primary_registration_date",
            "evaluation_date",
            "secondary_registration_date",
            "off_study_date",
            "lab_date",
        ):
            value = getattr(self, name)
            if value is not None:
                _check_date(value, name)

    @property
    def is_off_study(self) -> bool:
        return self.off_study or self.off_study_date is not None

    @property
    def evaluation_due_date(self) -> date | None:
        """evaluation_due(...) when primary registration and the plan are known, else None."""
        if self.primary_registration_date is None or self.planned_courses is None:
            return None
        if self.cycle_length_days is None:
            return None
        return evaluation_due(self.primary_registration_date, self.planned_courses, self.cycle_length_days)

    @property
    def window(self) -> Window | None:
        """The effective secondary window, or None before primary registration."""
        if self.primary_registration_date is None:
            return None
        return secondary_window(self.primary_registration_date, self.evaluation_date)


# --- Status ---------------------------------------------------------------------------------------


class Status(enum.StrEnum):
    SCREENING = "screening"
    SCREEN_FAILED = "screen_failed"
    ELIGIBLE = "eligible"
    ON_THERAPY = "on_therapy"
    EVALUATION_DUE = "evaluation_due"
    WINDOW_OPEN = "window_open"
    WINDOW_CLOSING = "window_closing"
    RANDOMIZED = "randomized"
    PROGRESSION = "progression"
    WINDOW_MISSED = "window_missed"
    OFF_STUDY = "off_study"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[Status, str] = {
    Status.SCREENING: _("Screening"),
    Status.SCREEN_FAILED: _("Screen failed"),
    Status.ELIGIBLE: _("Eligible, awaiting primary registration"),
    Status.ON_THERAPY: _("On systemic therapy"),
    Status.EVALUATION_DUE: _("Response evaluation due"),
    Status.WINDOW_OPEN: _("Secondary registration window open"),
    Status.WINDOW_CLOSING: _("Secondary registration window closing"),
    Status.RANDOMIZED: _("Randomized"),
    Status.PROGRESSION: _("Progression at response evaluation: record off study"),
    Status.WINDOW_MISSED: _("Secondary registration window missed"),
    Status.OFF_STUDY: _("Off study"),
}

# Statuses in which a secondary registration can still happen (reminders about the window apply).
ACTIVE_STATUSES = frozenset(
    {Status.ON_THERAPY, Status.EVALUATION_DUE, Status.WINDOW_OPEN, Status.WINDOW_CLOSING}
)
# Statuses that never get a reminder and have no deadline.
FINAL_STATUSES = frozenset({Status.SCREEN_FAILED, Status.RANDOMIZED, Status.OFF_STUDY})


@dataclass(frozen=True)
class _Facts:
    """A timeline seen on one day, with the derived dates the rules share (computed once)."""

    timeline: PatientTimeline
    today: date
    window: Window | None
    evaluation_due: date | None

    @property
    def registered(self) -> bool:
        return self.timeline.primary_registration_date is not None

    @property
    def secondary_impossible(self) -> bool:
        """After primary registration: the current record can no longer lead to a secondary registration.

        The window has closed (today > close), or it is empty (evaluation + 28 before day 84, or the
        evaluation after day 126), or the evaluation shows progression / a new distant metastasis (S2).
        """
        assert self.window is not None  # only asked after primary registration
        return (
            self.today > self.window.close
            or self.window.is_empty
            or self.timeline.evaluation_progression is True
        )

    @property
    def days_to_close(self) -> int:
        assert self.window is not None
        return days_remaining(self.window.close, self.today)


def _facts(timeline: PatientTimeline, today: date) -> _Facts:
    _check_date(today, "today")
    return _Facts(timeline, today, timeline.window, timeline.evaluation_due_date)


# THE status precedence: the first row whose test holds gives the status. Rows after the three
# screening rows run only for primarily registered patients (those rows catch every unregistered one).
#
#  1 off_study           off study recorded (date or flag), whatever else is recorded
#  2 randomized          randomization or secondary registration recorded (one transaction does both:
#                        screening.stages has no stage between them)
#  3 screen_failed       not registered, screening outcome "screen_failed"
#  4 eligible            not registered, screening outcome "eligible" (awaiting primary registration)
#  5 screening           not registered, no outcome yet or a draft
#  6 progression         the evaluation shows progression / new distant metastasis (S2 can never be
#                        met): its own status from the day it is entered, prompting "record off study,
#                        reason progression" (issue 15: it was "window missed" up to four weeks later)
#  6b window_missed      secondary registration can no longer happen: today > close, or the window is
#                        empty (evaluation + 28 < day 84, or evaluation after day 126: "can never be
#                        met", shown as missed as soon as it is recorded, not only after close).
#                        The patient is off the randomized part; the coordinator records off study.
#  7 window_closing      close - today <= 7 (0 = the close day, still open); also before day 84 when an
#                        early evaluation makes the close come within 7 days: urgency wins
#  8 evaluation_due      no evaluation recorded and today >= the evaluation due date (or >= day 84
#                        when the plan is unknown): secondary registration needs the evaluation first
#  9 window_open         today >= day 84 (an evaluation is recorded, by row 8)
# 10 on_therapy          otherwise: registered, before the evaluation is due and before day 84
_STATUS_PRECEDENCE: tuple[tuple[Status, Callable[[_Facts], bool]], ...] = (
    (Status.OFF_STUDY, lambda f: f.timeline.is_off_study),
    (Status.RANDOMIZED, lambda f: f.timeline.randomized or f.timeline.secondary_registration_date is not None),
    (
        Status.SCREEN_FAILED,
        lambda f: not f.registered and f.timeline.screening_outcome == ScreeningOutcome.SCREEN_FAILED,
    ),
    (
        Status.ELIGIBLE,
        lambda f: not f.registered and f.timeline.screening_outcome == ScreeningOutcome.ELIGIBLE,
    ),
    (Status.SCREENING, lambda f: not f.registered),
    (Status.PROGRESSION, lambda f: f.timeline.evaluation_progression is True),
    (Status.WINDOW_MISSED, lambda f: f.secondary_impossible),
    (Status.WINDOW_CLOSING, lambda f: f.days_to_close <= WINDOW_CLOSING_DAYS),
    (
        Status.EVALUATION_DUE,
        lambda f: (
            f.timeline.evaluation_date is None
            and (
                (f.evaluation_due is not None and f.today >= f.evaluation_due)
                or f.today >= window_open(f.timeline.primary_registration_date)
            )
        ),
    ),
    (Status.WINDOW_OPEN, lambda f: f.today >= window_open(f.timeline.primary_registration_date)),
    (Status.ON_THERAPY, lambda f: True),
)

# The precedence order, for documentation and tests.
STATUS_PRECEDENCE: tuple[Status, ...] = tuple(status for status, _test in _STATUS_PRECEDENCE)


def _status(facts: _Facts) -> Status:
    for status, test in _STATUS_PRECEDENCE:
        if test(facts):
            return status
    raise AssertionError("unreachable: the last precedence row always holds")  # pragma: no cover


def patient_status(timeline: PatientTimeline, today: date) -> Status:
    """The patient's status on ``today``; precedence as in ``_STATUS_PRECEDENCE`` (first match wins)."""
    return _status(_facts(timeline, today))


# --- Next deadline (worklist sort key) ------------------------------------------------------------


class DeadlineKind(enum.StrEnum):
    LABS_EXPIRE = "labs_expire"
    EVALUATION_DUE = "evaluation_due"
    WINDOW_CLOSES = "window_closes"

    @property
    def label(self) -> str:
        return DEADLINE_LABELS[self]


DEADLINE_LABELS: dict[DeadlineKind, str] = {
    DeadlineKind.LABS_EXPIRE: _("Lab results valid until %(deadline)s"),
    DeadlineKind.EVALUATION_DUE: _("Response evaluation due on %(deadline)s"),
    DeadlineKind.WINDOW_CLOSES: _("Secondary registration window closes on %(deadline)s"),
}


class Deadline(NamedTuple):
    date: date
    kind: DeadlineKind


def _labs_pending(facts: _Facts, status: Status) -> bool:
    """Labs are recorded for a registration that is pending and could still use them.

    Primary: the patient is eligible and not registered. Secondary: a secondary registration is still
    possible and the labs' validity (lab_date..lab_date+14) overlaps the effective window, so labs drawn
    too early to ever serve the secondary registration (e.g. the primary-registration labs) are not
    nagged about.
    """
    lab_date = facts.timeline.lab_date
    if lab_date is None:
        return False
    if status == Status.ELIGIBLE:
        return True
    if status not in ACTIVE_STATUSES:
        return False
    assert facts.window is not None
    return lab_date <= facts.window.close and lab_expiry(lab_date) >= facts.window.open


def next_deadline(timeline: PatientTimeline, today: date) -> Deadline | None:
    """The nearest date by which the site must act, for sorting the coordinator worklist; None if none.

    - eligible: the lab expiry (register by then or redraw labs); None without labs;
    - while a secondary registration is possible: the earliest of the window close, the evaluation due
      date (no evaluation recorded, due date not yet passed) and the expiry of the pending labs (still
      valid); on a tie the window close is reported. Once the evaluation is overdue the binding date is
      the window close (the evaluation must come before the secondary registration), so that is shown;
    - screening, screen_failed, window_missed, randomized, off_study: None.
    """
    return status_and_deadline(timeline, today)[1]


def status_and_deadline(timeline: PatientTimeline, today: date) -> tuple[Status, Deadline | None]:
    """``patient_status`` and ``next_deadline`` together, the window worked out once (the worklist needs both
    for every patient it lists)."""
    facts = _facts(timeline, today)
    status = _status(facts)
    return status, _deadline(facts, status)


def _deadline(facts: _Facts, status: Status) -> Deadline | None:
    timeline, today = facts.timeline, facts.today
    if status == Status.ELIGIBLE:
        if timeline.lab_date is None:
            return None
        return Deadline(lab_expiry(timeline.lab_date), DeadlineKind.LABS_EXPIRE)
    if status not in ACTIVE_STATUSES:
        return None
    assert facts.window is not None
    candidates = [Deadline(facts.window.close, DeadlineKind.WINDOW_CLOSES)]
    due = facts.evaluation_due
    if timeline.evaluation_date is None and due is not None and today <= due:
        candidates.append(Deadline(due, DeadlineKind.EVALUATION_DUE))
    if _labs_pending(facts, status) and today <= lab_expiry(timeline.lab_date):
        candidates.append(Deadline(lab_expiry(timeline.lab_date), DeadlineKind.LABS_EXPIRE))
    order = list(DeadlineKind)  # tie-break: the window close before the evaluation before the labs
    return min(candidates, key=lambda d: (d.date, -order.index(d.kind)))


# --- Reminder rules -------------------------------------------------------------------------------


class ReminderKind(enum.StrEnum):
    LABS_EXPIRING = "labs_expiring"
    LABS_LAST_DAY = "labs_last_day"
    EVALUATION_DUE_SOON = "evaluation_due_soon"
    EVALUATION_DUE = "evaluation_due"
    WINDOW_OPENING = "window_opening"
    WINDOW_CLOSING_7 = "window_closing_7"
    WINDOW_CLOSING_2 = "window_closing_2"
    WINDOW_MISSED = "window_missed"
    PROGRESSION = "progression"

    @property
    def label(self) -> str:
        return REMINDER_LABELS[self]


# Placeholders: %(deadline)s (the date the reminder hangs on, formatted by the caller),
# %(days_left)d (days_remaining(deadline, day of sending); negative once past) and the protocol's day
# numbers of LABEL_NUMBERS (%(day)s: day 84). See Reminder.params().
REMINDER_LABELS: dict[ReminderKind, str] = {
    ReminderKind.LABS_EXPIRING: _(
        "Lab results are valid for registration until %(deadline)s (days left: %(days_left)d): "
        "register by then or draw new labs"
    ),
    ReminderKind.LABS_LAST_DAY: _(
        "Last day the lab results are valid for registration: %(deadline)s; after it, draw new labs"
    ),
    ReminderKind.EVALUATION_DUE_SOON: _(
        "Response evaluation due on %(deadline)s (days left: %(days_left)d): book the imaging"
    ),
    ReminderKind.EVALUATION_DUE: _("Response evaluation due on %(deadline)s: record the evaluation"),
    ReminderKind.WINDOW_OPENING: _("Secondary registration window opens on %(deadline)s (day %(day)s)"),
    ReminderKind.WINDOW_CLOSING_7: _(
        "Secondary registration window closes on %(deadline)s (days left: %(days_left)d)"
    ),
    ReminderKind.WINDOW_CLOSING_2: _(
        "Secondary registration window closes on %(deadline)s: only %(days_left)d days left"
    ),
    ReminderKind.WINDOW_MISSED: _(
        "Secondary registration window closed on %(deadline)s without secondary registration: "
        "the patient is off the randomized part of the trial; record off study"
    ),
    ReminderKind.PROGRESSION: _(
        "Progression at the response evaluation of %(deadline)s: the patient cannot be randomized (S2); "
        "record off study with reason progression"
    ),
}


# The protocol numbers a label may name; every caller that fills a label passes them too.
LABEL_NUMBERS: dict[str, int] = {"day": WINDOW_OPEN_DAY}


class Recipient(enum.StrEnum):
    SITE_STAFF = "site_staff"  # the site's active coordinators and investigator
    DATA_MANAGERS = "data_managers"  # the data centre


SITE = frozenset({Recipient.SITE_STAFF})
SITE_AND_DATA_MANAGERS = frozenset({Recipient.SITE_STAFF, Recipient.DATA_MANAGERS})


class Anchor(enum.StrEnum):
    """The protocol date a reminder hangs on; it is also the reminder's ``deadline``."""

    LAB_EXPIRY = "lab_expiry"  # lab_date + 14, last valid day (P16/S8)
    EVALUATION_DUE = "evaluation_due"  # primary + planned courses x cycle length (S1)
    WINDOW_OPEN = "window_open"  # day 84 (S4)
    WINDOW_CLOSE = "window_close"  # min(day 126, evaluation + 28) (S3, S4)
    EVALUATION = "evaluation"  # the response evaluation's date (S2: progression)


@dataclass(frozen=True)
class ReminderRule:
    """One row of the reminder table.

    due date        = anchor - lead_days (a negative lead is after the anchor)
    last send day   = anchor + send_until_days: a reminder not sent on its due date (the scan did not
                      run) is still returned on every later day up to this one, for catch-up
    chain           = on any day at most one reminder per chain is returned: the one with the latest
                      due date (ties: the later row), so a late catch-up never sends a stale
                      "7 days left" together with "2 days left"
    applies         = the facts that must hold on the day of sending (e.g. no evaluation recorded yet)
    """

    kind: ReminderKind
    anchor: Anchor
    lead_days: int
    send_until_days: int
    recipients: frozenset[Recipient]
    chain: str
    applies: Callable[[_Facts, Status], bool]


def _labs_usable(facts: _Facts, status: Status) -> bool:
    return _labs_pending(facts, status)


def _no_evaluation(facts: _Facts, status: Status) -> bool:
    return status in ACTIVE_STATUSES and facts.timeline.evaluation_date is None


def _reachable(facts: _Facts, status: Status) -> bool:
    return status in ACTIVE_STATUSES


def _missed(facts: _Facts, status: Status) -> bool:
    return status == Status.WINDOW_MISSED


def _progression(facts: _Facts, status: Status) -> bool:
    return status == Status.PROGRESSION


CATCH_UP = 3  # a scan outage over a long weekend still sends the reminder
K, A = ReminderKind, Anchor
DM = SITE_AND_DATA_MANAGERS

# THE reminder table: review it against ELIGIBILITY.md "Reminder-worthy dates" and issue 7.
# due = anchor - lead; last send day = anchor + until; one reminder per chain per day (latest due).
# window_missed is due the day after close and is sent up to a week later: the data manager must know.
# progression is due on the evaluation's date and goes to the next digest after it is entered (a late
# entry is still sent while the evaluation's own 28 days of S3 run), to the data managers too.
#
# Why these leads: labs are redrawn and resulted within a day or two, so 3 days before expiry leaves a
# working day even across a weekend, and the expiry day (still valid: 0 <= reg - lab <= 14) is the last
# chance to register on them. The evaluation needs imaging booked, hence a week's notice (which is also
# day 77 for 4 x 21-day courses, the early end of "about day 77-84"). The window reminders are issue 7's:
# opening (day 84), 7 days and 2 days before close, missed the day after close (to data managers too).
# Conditions, checked on the day of sending: _labs_usable = eligible and awaiting primary registration,
# or secondary registration still possible and the labs' validity overlaps the window; _no_evaluation =
# secondary still possible and no evaluation recorded; _reachable = secondary registration still
# possible (status on_therapy, evaluation_due, window_open or window_closing); _missed = status
# window_missed (window closed or unattainable, no secondary registration, not off study).
# fmt: off
REMINDER_RULES: tuple[ReminderRule, ...] = (
    #            kind                   anchor            lead  until     to    chain         condition
    ReminderRule(K.LABS_EXPIRING,       A.LAB_EXPIRY,        3, 0,        SITE, "labs",       _labs_usable),
    ReminderRule(K.LABS_LAST_DAY,       A.LAB_EXPIRY,        0, CATCH_UP, SITE, "labs",       _labs_usable),
    ReminderRule(K.EVALUATION_DUE_SOON, A.EVALUATION_DUE,    7, 0,        SITE, "evaluation", _no_evaluation),
    ReminderRule(K.EVALUATION_DUE,      A.EVALUATION_DUE,    0, CATCH_UP, SITE, "evaluation", _no_evaluation),
    ReminderRule(K.WINDOW_OPENING,      A.WINDOW_OPEN,       0, CATCH_UP, SITE, "window",     _reachable),
    ReminderRule(K.WINDOW_CLOSING_7,    A.WINDOW_CLOSE,      7, 0,        SITE, "window",     _reachable),
    ReminderRule(K.WINDOW_CLOSING_2,    A.WINDOW_CLOSE,      2, 0,        SITE, "window",     _reachable),
    ReminderRule(K.WINDOW_MISSED,       A.WINDOW_CLOSE,     -1, 1 + 7,    DM,   "window",     _missed),
    ReminderRule(K.PROGRESSION,         A.EVALUATION,        0, EVALUATION_TO_SECONDARY_DAYS, DM, "progression",
                 _progression),
)
# fmt: on
del K, A, DM

RULES_BY_KIND: dict[ReminderKind, ReminderRule] = {rule.kind: rule for rule in REMINDER_RULES}


def _anchor_date(anchor: Anchor, facts: _Facts) -> date | None:
    timeline = facts.timeline
    if anchor == Anchor.LAB_EXPIRY:
        return None if timeline.lab_date is None else lab_expiry(timeline.lab_date)
    if anchor == Anchor.EVALUATION_DUE:
        return facts.evaluation_due
    if anchor == Anchor.EVALUATION:
        return timeline.evaluation_date
    if timeline.primary_registration_date is None:
        return None
    if anchor == Anchor.WINDOW_OPEN:
        return window_open(timeline.primary_registration_date)
    return window_close(timeline.primary_registration_date, timeline.evaluation_date)


@dataclass(frozen=True)
class Reminder:
    """A reminder due for one patient. The caller's notice table is keyed by (patient, kind, due_date)."""

    kind: ReminderKind
    due_date: date
    deadline: date
    recipients: frozenset[Recipient]

    @property
    def label(self) -> str:
        return self.kind.label

    def params(self, today: date) -> dict[str, object]:
        """Values for the label's placeholders on the day of sending (dates left for the caller to format)."""
        return {
            "deadline": self.deadline,
            "days_left": days_remaining(self.deadline, today),
            "due_date": self.due_date,
            **LABEL_NUMBERS,
        }


def due_reminders(timeline: PatientTimeline, today: date) -> list[Reminder]:
    """The reminders to send for this patient on ``today``, in table order.

    A rule yields a reminder when its due date (anchor - lead) is today or earlier, today is not after its
    last send day (anchor + send_until_days), and its condition holds today; then at most one per chain
    (the latest due). So a reminder whose due date fell on a day the scan did not run is still returned
    on the next days (until its last send day), and the same reminder keeps the same due date on every
    day it is returned: the caller sends it at most once by keying its notice table on
    (patient, kind, due_date), with a unique constraint. Due dates are never after ``today``.

    Nothing is ever due for screening, screen-failed, randomized or off-study
    patients; labs reminders are for an eligible patient awaiting primary registration or a pending
    secondary registration only.
    """
    facts = _facts(timeline, today)
    status = _status(facts)
    if status in FINAL_STATUSES or status == Status.SCREENING:
        return []
    latest_in_chain: dict[str, tuple[date, int, Reminder]] = {}
    for index, rule in enumerate(REMINDER_RULES):
        anchor = _anchor_date(rule.anchor, facts)
        if anchor is None:
            continue
        due = anchor - _days(rule.lead_days)
        last_send_day = anchor + _days(rule.send_until_days)
        if not (due <= today <= last_send_day) or not rule.applies(facts, status):
            continue
        candidate = (due, index, Reminder(rule.kind, due, anchor, rule.recipients))
        current = latest_in_chain.get(rule.chain)
        if current is None or candidate[:2] > current[:2]:
            latest_in_chain[rule.chain] = candidate
    return [reminder for _due, _index, reminder in sorted(latest_in_chain.values(), key=lambda c: c[1])]
