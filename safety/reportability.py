"""OLIGAMI expedited-report rules R0-R4 and their deadlines: event in, rule and deadlines out.

Pure (standard library only), tested exhaustively without a database. Source:
shared/protocol/SAFETY.md ("Terms", "Reportability", "Deadlines"). The same functions serve the
adverse-event services, the worklist and reminders, and ``manage.py check_reportability``.

Conventions:

- Dates are ``datetime.date`` (never datetimes). "Days after the last protocol treatment day" is the
  onset date minus that day, so the day itself is day 0 and an onset before it is negative.
- Awareness is an aware ``datetime``; a naive one is refused (the site's local time cannot be guessed).
  Deadlines are counted in elapsed time on UTC (72 h is 72 real hours whatever the offset or a daylight
  saving change where the awareness was written) and returned in Asia/Tokyo, the trial's time zone.
- The deadline lengths are trial configuration: the defaults below are passed in by the callers that
  have no configuration (the command) and are the configuration model's defaults. They live here only.
- A fact the decision needs and does not have raises ``MissingFact`` naming it; facts the decision does
  not need may be ``None`` (SAFETY.md: "a key is required only where the decision needs it").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# --- Trial numbers (SAFETY.md) --------------------------------------------------------------------

FIRST_REPORT_HOURS = 72  # "Deadlines": first report within 72 hours of awareness (default)
SECOND_REPORT_DAYS = 15  # "Deadlines": second, detailed report within awareness + 15 x 24 hours (default)
POST_TREATMENT_DAYS = 30  # R1b/R2b/R3b: up to 30 days after the last protocol treatment day; 31+ is "c"
DUE_SOON_HOURS = 24  # issue 18: a deadline 24 hours away appears on the worklist and is e-mailed at once
GRADES = (1, 2, 3, 4)  # CTCAE grades of an adverse event; grade 5 is a death (record it as a death)
DEATH_GRADE = 5

TRIAL_TZ = ZoneInfo("Asia/Tokyo")


def _(message: str) -> str:
    """No-op marker for xgettext; the web layer translates with gettext at render time."""
    return message


class Kind(enum.StrEnum):
    DEATH = "death"
    ADVERSE_EVENT = "adverse_event"


class Causality(enum.StrEnum):
    DEFINITE = "definite"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"
    NOT_RELATED = "not_related"


# "Causality ... definite, probable, possible (not denied), unlikely, not_related (denied)"
NOT_DENIED = frozenset({Causality.DEFINITE, Causality.PROBABLE, Causality.POSSIBLE})


class Phase(enum.StrEnum):
    """Where the onset falls against protocol treatment: the letter of R1a/R1b/R1c etc."""

    BEFORE_TREATMENT = "a"  # after primary registration, before protocol treatment started
    TREATMENT = "b"  # treatment ongoing, or within 30 days after the last protocol treatment day
    AFTER = "c"  # 31 days or more after the last protocol treatment day


class Rule(enum.StrEnum):
    R0 = "R0"
    R1A = "R1a"
    R1B = "R1b"
    R1C = "R1c"
    R2A = "R2a"
    R2B = "R2b"
    R2C = "R2c"
    R3A = "R3a"
    R3B = "R3b"
    R3C = "R3c"
    R4 = "R4"


RULE_LABELS = {
    Rule.R0: _("R0: onset before primary registration, not the trial's event"),
    Rule.R1A: _("R1a: death after primary registration, before protocol treatment started"),
    Rule.R1B: _("R1b: death during protocol treatment or within 30 days after the last treatment day"),
    Rule.R1C: _("R1c: death 31 days or more after the last treatment day"),
    Rule.R2A: _("R2a: Grade 4 before protocol treatment started, not reported at once"),
    Rule.R2B: _("R2b: Grade 4 during protocol treatment or within 30 days after the last treatment day"),
    Rule.R2C: _("R2c: Grade 4 31 days or more after the last treatment day"),
    Rule.R3A: _("R3a: unexpected Grade 1-3 with hospitalization before protocol treatment started, "
                "not reported at once"),
    Rule.R3B: _("R3b: unexpected Grade 1-3 with hospitalization during protocol treatment or within 30 days "
                "after the last treatment day"),
    Rule.R3C: _("R3c: unexpected Grade 1-3 with hospitalization 31 days or more after the last treatment day"),
    Rule.R4: _("R4: expected, or without hospitalization: collected on the routine forms"),
}


class MissingFact(ValueError):
    """A fact the decision needs is absent; ``field`` names it (the command prefixes its JSON path)."""

    def __init__(self, field: str, why: str):
        self.field = field
        super().__init__(f"{field} is required {why}")


@dataclass(frozen=True)
class Treatment:
    """Protocol treatment facts (FOLLOWUP.md). ``start_date`` None: not started. ``ongoing`` True: the last
    day is not reached (``last_day`` may then be None and is not read)."""

    start_date: date | None
    last_day: date | None
    ongoing: bool


@dataclass(frozen=True)
class Event:
    """An event to judge. For a death only ``onset_date`` (the date of death) and ``causality`` are read."""

    kind: Kind
    onset_date: date
    grade: int | None = None
    expected: bool | None = None
    hospitalization_24h: bool | None = None
    causality: Causality | None = None


@dataclass(frozen=True)
class Decision:
    reportable: bool
    rule: Rule
    first_report_due: datetime | None = None
    second_report_due: datetime | None = None

    @property
    def label(self) -> str:
        return RULE_LABELS[self.rule]


def _check_date(value, name: str) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime.date (not a datetime), got {type(value).__name__}")


def days_after_last_day(onset_date: date, last_day: date) -> int:
    """Days after the last protocol treatment day: onset minus that day (the day itself is 0)."""
    _check_date(onset_date, "onset_date")
    _check_date(last_day, "last_day")
    return (onset_date - last_day).days


def phase(onset_date: date, treatment: Treatment | None) -> Phase:
    """The time rule shared by R1-R3 (SAFETY.md).

    Not started (``start_date`` None) or an onset strictly before the start day: "a". An onset on the start
    day is under treatment. From the start on: "b" while ongoing (whatever ``last_day`` says) or up to day
    30 after the last day; "c" from day 31.
    """
    _check_date(onset_date, "onset_date")
    if treatment is None:
        raise MissingFact("protocol_treatment", "to place the onset against protocol treatment")
    if treatment.start_date is None or onset_date < treatment.start_date:
        return Phase.BEFORE_TREATMENT
    if treatment.ongoing:
        return Phase.TREATMENT
    if treatment.last_day is None:
        raise MissingFact("last_day", "when treatment has started and is not ongoing")
    if days_after_last_day(onset_date, treatment.last_day) <= POST_TREATMENT_DAYS:
        return Phase.TREATMENT
    return Phase.AFTER


def _causality_not_denied(event: Event) -> bool:
    if event.causality is None:
        raise MissingFact("causality", "31 days or more after the last protocol treatment day")
    return Causality(event.causality) in NOT_DENIED


def decide(*, primary_registration_date: date, treatment: Treatment | None, event: Event) -> tuple[bool, Rule]:
    """Reportable or not, and the rule that decided (SAFETY.md R0-R4)."""
    _check_date(primary_registration_date, "primary_registration_date")
    _check_date(event.onset_date, "onset_date")
    # R0: strictly before primary registration; an onset on the registration day is the trial's.
    if event.onset_date < primary_registration_date:
        return False, Rule.R0
    if Kind(event.kind) is Kind.DEATH:
        when = phase(event.onset_date, treatment)
        if when is Phase.BEFORE_TREATMENT:
            return True, Rule.R1A  # R1a: any cause
        if when is Phase.TREATMENT:
            return True, Rule.R1B  # R1b: whatever the causality
        return _causality_not_denied(event), Rule.R1C
    if event.grade is None:
        raise MissingFact("grade", "for an adverse event")
    if event.grade not in GRADES:
        raise ValueError(f"grade must be one of 1-4 for an adverse event (5 is a death), got {event.grade!r}")
    if event.grade == 4:
        # R2: expected or not; before treatment R2a is not reported at once.
        when = phase(event.onset_date, treatment)
        if when is Phase.BEFORE_TREATMENT:
            return False, Rule.R2A
        if when is Phase.TREATMENT:
            return True, Rule.R2B
        return _causality_not_denied(event), Rule.R2C
    # Grade 1-3: R3 only for an unexpected event with hospitalization >= 24 h (or prolonged); else R4.
    if event.expected is True or event.hospitalization_24h is False:
        return False, Rule.R4
    if event.expected is None:
        raise MissingFact("expected", "for a Grade 1-3 adverse event with hospitalization")
    if event.hospitalization_24h is None:
        raise MissingFact("hospitalization_24h", "for an unexpected Grade 1-3 adverse event")
    when = phase(event.onset_date, treatment)
    if when is Phase.BEFORE_TREATMENT:
        return False, Rule.R3A
    if when is Phase.TREATMENT:
        return True, Rule.R3B
    return _causality_not_denied(event), Rule.R3C


def deadlines(awareness: datetime, *, first_report_hours: int = FIRST_REPORT_HOURS,
              second_report_days: int = SECOND_REPORT_DAYS) -> tuple[datetime, datetime]:
    """First and second report deadlines from awareness, in Asia/Tokyo.

    Elapsed time on UTC, so "72 hours" is 72 real hours even for an awareness written in a zone that
    changes its clocks in between (aware datetime arithmetic in one zone is wall-clock arithmetic).
    """
    if not isinstance(awareness, datetime) or awareness.tzinfo is None or awareness.utcoffset() is None:
        raise ValueError("awareness must be a date-time with its UTC offset")
    if first_report_hours <= 0 or second_report_days <= 0:
        raise ValueError("deadline lengths must be positive")
    base = awareness.astimezone(UTC)
    first = base + timedelta(hours=first_report_hours)
    second = base + timedelta(hours=24 * second_report_days)
    return first.astimezone(TRIAL_TZ), second.astimezone(TRIAL_TZ)


def assess(*, primary_registration_date: date, treatment: Treatment | None, event: Event,
           awareness: datetime | None, first_report_hours: int = FIRST_REPORT_HOURS,
           second_report_days: int = SECOND_REPORT_DAYS) -> Decision:
    """``decide`` plus the deadlines of a reportable event (awareness needed only then)."""
    if awareness is not None:
        # Any value present must be valid, even where the decision does not read it.
        deadlines(awareness, first_report_hours=first_report_hours, second_report_days=second_report_days)
    reportable, rule = decide(primary_registration_date=primary_registration_date, treatment=treatment,
                              event=event)
    if not reportable:
        return Decision(False, rule)
    if awareness is None:
        raise MissingFact("awareness", "for a reportable event")
    first, second = deadlines(awareness, first_report_hours=first_report_hours,
                              second_report_days=second_report_days)
    return Decision(True, rule, first, second)


class DeadlineState(enum.StrEnum):
    OPEN = "open"
    DUE_SOON = "due_soon"  # 24 hours or less left
    OVERDUE = "overdue"  # passed without a signed report


def deadline_state(due: datetime, now: datetime) -> DeadlineState:
    """Where ``now`` stands against a deadline: overdue strictly after it, due soon within 24 hours of it."""
    if now > due:
        return DeadlineState.OVERDUE
    if due - now <= timedelta(hours=DUE_SOON_HOURS):
        return DeadlineState.DUE_SOON
    return DeadlineState.OPEN


def due_soon_from(due: datetime) -> datetime:
    """The moment a deadline becomes "24 hours away"."""
    return due - timedelta(hours=DUE_SOON_HOURS)
