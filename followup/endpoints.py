"""Overall survival and progression-free survival of one patient (protocol/FOLLOWUP.md, rules F1-F5).

Pure: facts in, endpoints out; standard library only. The same function serves the patient pages, the
analysis export, the Kaplan-Meier pictures and `manage.py compute_endpoints`, so there is exactly one
reading of the rules. Days are date differences from the origin (the randomization date, Asia/Tokyo):
an event on the origin day is day 0.

Order (FOLLOWUP.md): F3 sets aside facts after a withdrawal of all data use, then F4 sets aside facts
before the origin, then F5 looks for contradictions in what is left, then F1 and F2.

This module also parses the command's JSON case files (`parse_case`), strictly: a malformed file
raises `CaseFormatError` naming the field, never anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

# Withdrawal kinds (FOLLOWUP.md "three kinds, three consequences"). Only ALL_DATA changes the endpoints (F3).
WITHDRAWAL_TREATMENT = "treatment"
WITHDRAWAL_VISITS = "visits"
WITHDRAWAL_ALL_DATA = "all_data"
WITHDRAWAL_KINDS = (WITHDRAWAL_TREATMENT, WITHDRAWAL_VISITS, WITHDRAWAL_ALL_DATA)

# Causes of death (FOLLOWUP.md "What the sites record"); the rules do not depend on the cause.
CAUSE_BREAST_CANCER = "breast_cancer"
CAUSE_TREATMENT_RELATED = "treatment_related"
CAUSE_OTHER = "other"
CAUSE_UNKNOWN = "unknown"
DEATH_CAUSES = (CAUSE_BREAST_CANCER, CAUSE_TREATMENT_RELATED, CAUSE_OTHER, CAUSE_UNKNOWN)

# F5 problem codes, exactly these.
DEATH_BEFORE_ORIGIN = "death_before_origin"
ALIVE_AFTER_DEATH = "alive_after_death"
PROGRESSION_AFTER_DEATH = "progression_after_death"
PROBLEM_CODES = (ALIVE_AFTER_DEATH, DEATH_BEFORE_ORIGIN, PROGRESSION_AFTER_DEATH)


@dataclass(frozen=True)
class Assessment:
    """A follow-up contact: the patient was alive on `date`; `progression` by imaging on that date."""

    date: date
    progression: bool


@dataclass(frozen=True)
class Withdrawal:
    date: date
    kind: str  # one of WITHDRAWAL_KINDS


@dataclass(frozen=True)
class Facts:
    """What the endpoints need of one randomized patient."""

    randomization_date: date
    assessments: tuple[Assessment, ...] = ()
    last_known_alive: date | None = None
    death_date: date | None = None
    withdrawal: Withdrawal | None = None


@dataclass(frozen=True)
class Endpoints:
    """OS and PFS in days from the origin; all four None when `problems` is not empty (F5)."""

    os_days: int | None
    os_event: bool | None
    pfs_days: int | None
    pfs_event: bool | None
    problems: tuple[str, ...] = ()
    # The dates behind the days (None with problems): what a page shows and the export derives from.
    os_date: date | None = None
    pfs_date: date | None = None

    @property
    def known(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """The command's output fields, in the contract's order."""
        return {"os_days": self.os_days, "os_event": self.os_event, "pfs_days": self.pfs_days,
                "pfs_event": self.pfs_event, "problems": list(self.problems)}


def usable_facts(facts: Facts) -> Facts:
    """F3 then F4: the facts the endpoints may use (a death before the origin is kept for F5)."""
    assessments = facts.assessments
    last_known_alive = facts.last_known_alive
    death_date = facts.death_date
    withdrawal = facts.withdrawal
    # F3: a withdrawal of all data use sets aside every fact dated strictly after it (a death included);
    # facts on the withdrawal date are used. The other two kinds change nothing.
    if withdrawal is not None and withdrawal.kind == WITHDRAWAL_ALL_DATA:
        cut = withdrawal.date
        assessments = tuple(a for a in assessments if a.date <= cut)
        if last_known_alive is not None and last_known_alive > cut:
            last_known_alive = None
        if death_date is not None and death_date > cut:
            death_date = None
    # F4: assessments, progressions and a last date known alive before the origin are baseline, not
    # follow-up. A fact on the origin day is follow-up.
    origin = facts.randomization_date
    assessments = tuple(a for a in assessments if a.date >= origin)
    if last_known_alive is not None and last_known_alive < origin:
        last_known_alive = None
    return Facts(randomization_date=origin, assessments=assessments, last_known_alive=last_known_alive,
                 death_date=death_date, withdrawal=withdrawal)


def contradictions(usable: Facts) -> tuple[str, ...]:
    """F5 on facts already through F3 and F4: the problem codes, sorted."""
    death = usable.death_date
    if death is None:
        return ()
    problems = set()
    if death < usable.randomization_date:
        problems.add(DEATH_BEFORE_ORIGIN)
    # "After the death date" is strictly after: an assessment or a last date known alive on the day of
    # death is no contradiction.
    if (usable.last_known_alive is not None and usable.last_known_alive > death) or any(
            a.date > death for a in usable.assessments):
        problems.add(ALIVE_AFTER_DEATH)
    if any(a.progression and a.date > death for a in usable.assessments):
        problems.add(PROGRESSION_AFTER_DEATH)
    return tuple(sorted(problems))


def last_known_alive(usable: Facts) -> date:
    """F1's censoring date: the latest of the recorded last date known alive, every assessment date and
    the origin (a withdrawal date is not a date known alive)."""
    dates = [usable.randomization_date, *(a.date for a in usable.assessments)]
    if usable.last_known_alive is not None:
        dates.append(usable.last_known_alive)
    return max(dates)


def first_progression(usable: Facts) -> date | None:
    """The first progression at any site; a later assessment without progression does not undo it."""
    return min((a.date for a in usable.assessments if a.progression), default=None)


def last_progression_free(usable: Facts) -> date:
    """F2's censoring date: the latest assessment without progression, or the origin when there is none."""
    return max((a.date for a in usable.assessments if not a.progression), default=usable.randomization_date)


def compute(facts: Facts) -> Endpoints:
    """F3, F4, F5, then F1 (overall survival) and F2 (progression-free survival)."""
    usable = usable_facts(facts)
    problems = contradictions(usable)
    if problems:
        return Endpoints(os_days=None, os_event=None, pfs_days=None, pfs_event=None, problems=problems)
    origin = usable.randomization_date
    death = usable.death_date
    # F1: death from any cause at its date, else censored at the last date known alive.
    if death is not None:
        os_date, os_event = death, True
    else:
        os_date, os_event = last_known_alive(usable), False
    # F2: the first progression or death, whichever is earlier; else censored at the last date
    # confirmed progression-free.
    events = [d for d in (first_progression(usable), death) if d is not None]
    if events:
        pfs_date, pfs_event = min(events), True
    else:
        pfs_date, pfs_event = last_progression_free(usable), False
    return Endpoints(os_days=(os_date - origin).days, os_event=os_event, pfs_days=(pfs_date - origin).days,
                     pfs_event=pfs_event, os_date=os_date, pfs_date=pfs_date)


# --- case files (the compute_endpoints contract) ------------------------------------------------------


class CaseFormatError(ValueError):
    """A malformed case file; the message names the field."""


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(value: Any, field: str, *, required: bool = False) -> date | None:
    if value is None:
        if required:
            raise CaseFormatError(f"{field}: missing (a date YYYY-MM-DD is required)")
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise CaseFormatError(f"{field}: expected a date YYYY-MM-DD, got {json.dumps(value)[:40]}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CaseFormatError(f"{field}: not a valid date: {value}") from None


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CaseFormatError(f"{field}: expected an object")
    return value


def parse_case(data: Any) -> Facts:
    """Facts from a decoded case file; absent or null optional keys are absent facts."""
    data = _object(data, "case")
    if "randomization_date" not in data:
        raise CaseFormatError("randomization_date: missing")
    origin = _date(data["randomization_date"], "randomization_date", required=True)
    raw_assessments = data.get("assessments")
    if raw_assessments is None:
        raw_assessments = []
    if not isinstance(raw_assessments, list):
        raise CaseFormatError("assessments: expected a list")
    assessments = []
    for i, item in enumerate(raw_assessments):
        item = _object(item, f"assessments[{i}]")
        progression = item.get("progression")
        if not isinstance(progression, bool):
            raise CaseFormatError(f"assessments[{i}].progression: expected true or false")
        assessments.append(Assessment(date=_date(item.get("date"), f"assessments[{i}].date", required=True),
                                      progression=progression))
    death_date = None
    if data.get("death") is not None:
        death = _object(data["death"], "death")
        death_date = _date(death.get("date"), "death.date", required=True)
        cause = death.get("cause")
        if cause is not None and cause not in DEATH_CAUSES:
            raise CaseFormatError(f"death.cause: expected one of {', '.join(DEATH_CAUSES)}")
    withdrawal = None
    if data.get("withdrawal") is not None:
        raw = _object(data["withdrawal"], "withdrawal")
        kind = raw.get("kind")
        if kind not in WITHDRAWAL_KINDS:
            raise CaseFormatError(f"withdrawal.kind: expected one of {', '.join(WITHDRAWAL_KINDS)}, "
                                  f"got {json.dumps(kind)[:40]}")
        withdrawal = Withdrawal(date=_date(raw.get("date"), "withdrawal.date", required=True), kind=kind)
    return Facts(randomization_date=origin, assessments=tuple(assessments),
                 last_known_alive=_date(data.get("last_known_alive"), "last_known_alive"),
                 death_date=death_date, withdrawal=withdrawal)


def loads_case(text: str) -> Facts:
    """Facts from a case file's text; anything wrong raises CaseFormatError."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so are huge integers
        raise CaseFormatError(f"not JSON: {exc}") from None
    return parse_case(data)

