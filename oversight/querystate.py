"""Data queries (問い合わせ): the states a query passes through and who moves it, as one pure table.

The data centre questions a value; the site answers (and corrects the value through the record's own
service, naming the query in the reason); the data centre closes the query or re-opens it. The same
table serves the services (which enforce it), the pages (which only display the allowed steps) and the
tests (which walk every cell). Standard library only.

Who: `data_centre` (data manager) opens, closes and re-opens; `site` (coordinator or investigator of the
patient's site) answers. A monitor reads and moves nothing (no side at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"          # raised, waiting for the site
    ANSWERED = "answered"  # the site answered, waiting for the data centre
    REOPENED = "reopened"  # the data centre was not satisfied: waiting for the site again
    CLOSED = "closed"      # resolved (or withdrawn by the data centre)


class Step(StrEnum):
    OPEN = "open"
    ANSWER = "answer"
    CLOSE = "close"
    REOPEN = "reopen"


class Side(StrEnum):
    DATA_CENTRE = "data_centre"
    SITE = "site"


# Step -> (the side that may take it, the states it may be taken from, the state it leads to).
# The data centre may close an unanswered query too (raised by mistake, or made moot by a correction
# seen in the audit trail); the closing comment says why.
TRANSITIONS: dict[Step, tuple[Side, frozenset[Status | None], Status]] = {
    Step.OPEN: (Side.DATA_CENTRE, frozenset({None}), Status.OPEN),
    Step.ANSWER: (Side.SITE, frozenset({Status.OPEN, Status.REOPENED}), Status.ANSWERED),
    Step.CLOSE: (Side.DATA_CENTRE, frozenset({Status.OPEN, Status.ANSWERED, Status.REOPENED}), Status.CLOSED),
    Step.REOPEN: (Side.DATA_CENTRE, frozenset({Status.ANSWERED, Status.CLOSED}), Status.REOPENED),
}

# Whose turn it is in each state (the worklist of that side shows the query).
WAITING_FOR = {
    Status.OPEN: Side.SITE,
    Status.REOPENED: Side.SITE,
    Status.ANSWERED: Side.DATA_CENTRE,
    Status.CLOSED: None,
}

# The data centre's service level for a site's answer, counted in calendar days from the day the query
# was raised (or re-opened). Not a protocol number: the data centre's own rule, written once here; the
# monitoring report counts a query waiting for its site longer than this as overdue.
ANSWER_DAYS = 14


@dataclass(frozen=True)
class Decision:
    allowed: bool
    new_status: Status | None = None
    refusal: str = ""  # a code; the service turns it into a translated message


def decide(step: Step, status: Status | None, side: Side | None) -> Decision:
    """May `side` take `step` on a query in `status` (None: the query does not exist yet)?"""
    who, sources, target = TRANSITIONS[step]
    if side != who:
        return Decision(False, refusal="wrong_side")
    if status not in sources:
        return Decision(False, refusal="wrong_status")
    return Decision(True, new_status=target)


def allowed_steps(status: Status | None, side: Side | None) -> list[Step]:
    """The steps `side` may take now, in the table's order (what the page offers)."""
    return [step for step in Step if decide(step, status, side).allowed]


def is_open(status: Status) -> bool:
    """Open in the broad sense of the reports: anything not closed."""
    return status != Status.CLOSED


def age_days(since: date, today: date) -> int:
    """Days a query has waited since `since` (the day it was raised or last re-opened); day 0 is that day."""
    return (today - since).days


def is_overdue(status: Status, waiting_since: date, today: date) -> bool:
    """Waiting for the site for more than ANSWER_DAYS days (day ANSWER_DAYS itself is still on time)."""
    return WAITING_FOR.get(status) == Side.SITE and age_days(waiting_since, today) > ANSWER_DAYS
