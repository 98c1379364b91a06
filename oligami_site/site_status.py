"""What a participating site may do in each status, and which status changes are allowed (pure).

The one place that answers "may this site still screen / register / randomize / enter follow-up /
get reminders?". Services ask `refusal(status, action)` before they write anything; the site services
(oligami_site.sites) ask `transition_refusal(...)` before a status change. Standard library only, so the
whole table is tested exhaustively without a database.

Statuses (issue 17):
- pending: not yet approved (ethics committee, head of institution): no screening, nothing else either.
- open: everything.
- closed_to_accrual (登録停止): no new patient, no primary registration; patients already registered
  go on to secondary registration, randomization and follow-up, with their reminders.
- closed: read-only; no reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    CLOSED_TO_ACCRUAL = "closed_to_accrual"
    CLOSED = "closed"


class SiteAction(StrEnum):
    """The kinds of work a site's status can allow or stop."""

    SCREENING = "screening"  # a new patient, screening facts, re-screening
    PRIMARY_REGISTRATION = "primary_registration"
    SECONDARY_REGISTRATION = "secondary_registration"  # and the response evaluation that feeds it
    RANDOMIZATION = "randomization"
    FOLLOW_UP = "follow_up"  # after primary registration: off study, re-consent, treatment, follow-up
    REMINDERS = "reminders"  # deadline reminders and digest lines for the site's patients


_AFTER_ACCRUAL = frozenset({SiteAction.SECONDARY_REGISTRATION, SiteAction.RANDOMIZATION, SiteAction.FOLLOW_UP,
                            SiteAction.REMINDERS})

# The status x action table. Closed to accrual keeps every step of patients already primary registered
# (they must not be stranded inside their secondary-registration window), with their reminders.
ALLOWED: dict[Status, frozenset[SiteAction]] = {
    Status.PENDING: frozenset(),
    Status.OPEN: frozenset(SiteAction),
    Status.CLOSED_TO_ACCRUAL: _AFTER_ACCRUAL,
    Status.CLOSED: frozenset(),
}

# Allowed status changes. A pending site that never opens may be closed; a site closed to accrual may
# reopen; closed is final (a site that must work again is a protocol amendment, not a click).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.OPEN, Status.CLOSED}),
    Status.OPEN: frozenset({Status.CLOSED_TO_ACCRUAL, Status.CLOSED}),
    Status.CLOSED_TO_ACCRUAL: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


def allows(status: str, action: str) -> bool:
    return SiteAction(action) in ALLOWED[Status(status)]


def refusal(status: str, action: str) -> str | None:
    """None when `status` allows `action`, else a refusal code (the services word it, naming the status)."""
    return None if allows(status, action) else f"site_{Status(status).value}"


def statuses_allowing(action: str) -> frozenset[Status]:
    """Every status that allows `action` (e.g. the reminder scan's site filter)."""
    return frozenset(status for status, actions in ALLOWED.items() if SiteAction(action) in actions)


@dataclass(frozen=True)
class Approval:
    """The site approval record (issue 17): what must be on file before a site may open."""

    ethics_approval_date: object = None  # datetime.date; object keeps this module free of imports
    approved_protocol_version: str = ""
    head_permission_date: object = None
    start_date: object = None

    @property
    def missing(self) -> tuple[str, ...]:
        names = ("ethics_approval_date", "approved_protocol_version", "head_permission_date", "start_date")
        return tuple(name for name in names if not getattr(self, name))


def transition_refusal(current: str, new: str, *, approval: Approval, awaiting_secondary: int) -> str | None:
    """None when the change current -> new is allowed, else a refusal code.

    - same status, or a change TRANSITIONS does not list: "not_allowed";
    - to open without the complete approval record: "approval_incomplete";
    - to closed while patients of the site are primary registered and not yet secondary registered
      (`awaiting_secondary` > 0): "would_strand" (close to accrual first; they keep their steps).
    """
    current, new = Status(current), Status(new)
    if new not in TRANSITIONS[current]:
        return "not_allowed"
    if new == Status.OPEN and approval.missing:
        return "approval_incomplete"
    if new == Status.CLOSED and awaiting_secondary > 0:
        return "would_strand"
    return None


def cap_reached(screened: int, cap: int | None) -> bool:
    """The site's enrolment cap (trial configuration, issue 17) stops a new patient's screening: `screened`
    patients at the site already, `cap` at most (None: no cap). A re-screening is the same patient: not asked."""
    return cap is not None and screened >= cap


def grant_cap(cap: int | None, screened: int, more: int) -> int | None:
    """The cap after the data centre approves `more` patients: `more` beyond those screened or beyond the cap,
    whichever is higher (a cap lowered below the count does not swallow the grant). No cap stays no cap."""
    return None if cap is None else max(cap, screened) + more
