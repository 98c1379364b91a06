"""Services of the participating sites: the approval record, the status, and the check every service asks.

Keyword-only functions, one transaction each, the user and the reason on the site's history row.
The rules (what each status allows, which changes are allowed) are oligami_site.site_status; this
module applies them to the database and words the refusals, always naming the site's status.

The core imports no trial app (DESIGN.md), yet closing a site must know whether some of its patients
are still waiting for secondary registration. The registration app, which owns that question,
registers the answer here at start-up (`register_awaiting_secondary`) and the core asks it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import access, auditing, site_status
from .exceptions import DomainError
from .models import Site
from .site_status import SiteAction

REASON_MAX_LENGTH = auditing.REASON_MAX_LENGTH
PROTOCOL_VERSION_MAX_LENGTH = 20
EARLIEST_DATE = dt.date(2000, 1, 1)  # the trial's documents cannot predate this; earlier is a typing error

ACTION_LABELS = {
    SiteAction.SCREENING: _("screening a patient"),
    SiteAction.PRIMARY_REGISTRATION: _("primary registration"),
    SiteAction.SECONDARY_REGISTRATION: _("secondary registration"),
    SiteAction.RANDOMIZATION: _("randomization"),
    SiteAction.FOLLOW_UP: _("entering follow-up data"),
    SiteAction.REMINDERS: _("reminders"),
}
APPROVAL_LABELS = {
    "ethics_approval_date": _("ethics committee approval date"),
    "approved_protocol_version": _("approved protocol version"),
    "head_permission_date": _("permission of the head of the institution"),
    "start_date": _("start date"),
}


class SiteStatusRefused(DomainError):
    """The site's status does not allow this step (the message names the status)."""


class SiteChangeRefused(DomainError):
    """A change of a site's status or approval record was refused (the message says why)."""


# --- the check every service asks ---------------------------------------------------------------------


def refusal_message(site: Site, action: str) -> str:
    return _("%(site)s is %(status)s: %(action)s is not possible at this site.") % {
        "site": site.code, "status": site.get_status_display(), "action": ACTION_LABELS[SiteAction(action)]}


def require(site: Site, action: str) -> None:
    """Refuse `action` unless the site's status allows it (oligami_site.site_status.ALLOWED)."""
    if site_status.allows(site.status, action):
        return
    raise SiteStatusRefused(refusal_message(site, action), code=site_status.refusal(site.status, action))


def statuses_allowing(action: str) -> list[str]:
    """Status codes that allow `action`, for querysets (e.g. the reminder scan: site__status__in=...)."""
    return sorted(status.value for status in site_status.statuses_allowing(action))


# --- patients awaiting secondary registration (answered by the registration app) -------------------------

_awaiting_secondary: list[Callable[[int], int]] = []


def register_awaiting_secondary(count: Callable[[int], int]) -> None:
    """`count(site_id)`: patients of the site primary registered and not yet secondary registered."""
    if count not in _awaiting_secondary:
        _awaiting_secondary.append(count)


def awaiting_secondary(site_id: int) -> int:
    return sum(count(site_id) for count in _awaiting_secondary)


# --- writes -----------------------------------------------------------------------------------------------


def _require_manager(user) -> None:
    if not (user.is_authenticated and user.is_active and (user.is_superuser or access.is_data_manager(user))):
        raise SiteChangeRefused(_("Only the data centre manages sites."), code="forbidden")


def _clean_reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise SiteChangeRefused(_("Give a reason (it is kept in the audit trail)."), code="reason_required")
    return auditing.clean_reason(reason, error=SiteChangeRefused)


def _save(site: Site, user, reason: str, fields: list[str]) -> None:
    auditing.save(site, user=user, reason=reason, update_fields=fields)


@transaction.atomic
def change_status(*, site: Site, status: str, user, reason: str) -> Site:
    """Move the site to `status` (site_status.TRANSITIONS), with a reason in its history.

    Refused, naming the current status: a change the table does not allow; opening without the complete
    approval record; closing while patients await secondary registration (close to accrual instead).
    """
    _require_manager(user)
    reason = _clean_reason(reason)
    if status not in Site.Status.values:
        raise SiteChangeRefused(_("Unknown site status."), code="invalid")
    # The site row is locked so that a screening started at the same moment sees either the old status or
    # the new one, never a half-made change (screening takes the same row lock to number its patient).
    site = Site.objects.select_for_update().get(pk=site.pk)
    waiting = awaiting_secondary(site.pk) if status == Site.Status.CLOSED else 0
    code = site_status.transition_refusal(site.status, status, approval=site.approval, awaiting_secondary=waiting)
    params = {"site": site.code, "status": site.get_status_display(), "new": Site.Status(status).label}
    if code == "not_allowed":
        raise SiteChangeRefused(_("%(site)s is %(status)s: it cannot be changed to %(new)s.") % params, code=code)
    if code == "approval_incomplete":
        missing = ", ".join(str(APPROVAL_LABELS[name]) for name in site.approval.missing)
        raise SiteChangeRefused(_("%(site)s is %(status)s: it can open only when the approval record is complete "
                                  "(missing: %(missing)s).") % {**params, "missing": missing}, code=code)
    if code == "would_strand":
        raise SiteChangeRefused(
            _("%(site)s is %(status)s and %(count)s of its patients await secondary registration: close it to "
              "accrual first, and close it when none is waiting.") % {**params, "count": waiting}, code=code)
    site.status = status
    _save(site, user, reason, ["status"])
    return site


def _check_date(value, label) -> None:
    if value is None:
        return
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise SiteChangeRefused(_("%(field)s: not a date.") % {"field": label}, code="invalid")
    if value < EARLIEST_DATE:
        raise SiteChangeRefused(_("%(field)s: a date before 2000 is not plausible.") % {"field": label},
                                code="invalid")


@transaction.atomic
def record_approval(*, site: Site, ethics_approval_date: dt.date | None, approved_protocol_version: str,
                    head_permission_date: dt.date | None, start_date: dt.date | None, user,
                    reason: str | None = None) -> Site:
    """Record or correct the site's approval record (a reason is required once anything was on file).

    The approvals are past events (not in the future), the head of the institution permits after the
    ethics committee approves, and the site starts on or after that permission. An open site's record
    may be corrected but not emptied: it is what allowed it to open.
    """
    _require_manager(user)
    version = (approved_protocol_version or "").strip()
    if len(version) > PROTOCOL_VERSION_MAX_LENGTH:
        raise SiteChangeRefused(_("The protocol version is too long (at most %(max)s characters).")
                                % {"max": PROTOCOL_VERSION_MAX_LENGTH}, code="invalid")
    today = timezone.localdate()
    for name, value in (("ethics_approval_date", ethics_approval_date), ("head_permission_date",
                                                                         head_permission_date),
                        ("start_date", start_date)):
        _check_date(value, APPROVAL_LABELS[name])
    for name, value in (("ethics_approval_date", ethics_approval_date), ("head_permission_date",
                                                                         head_permission_date)):
        if value is not None and value > today:
            raise SiteChangeRefused(_("%(field)s: a date in the future is not allowed.")
                                    % {"field": APPROVAL_LABELS[name]}, code="future_date")
    if ethics_approval_date and head_permission_date and head_permission_date < ethics_approval_date:
        raise SiteChangeRefused(_("The head of the institution's permission cannot precede the ethics committee "
                                  "approval."), code="order")
    if head_permission_date and start_date and start_date < head_permission_date:
        raise SiteChangeRefused(_("The start date cannot precede the head of the institution's permission."),
                                code="order")
    site = Site.objects.select_for_update().get(pk=site.pk)
    new = site_status.Approval(ethics_approval_date=ethics_approval_date, approved_protocol_version=version,
                               head_permission_date=head_permission_date, start_date=start_date)
    if new == site.approval:
        return site  # nothing changed: no history row
    if site.status != Site.Status.PENDING and new.missing and site_status.Approval() != site.approval:
        raise SiteChangeRefused(_("%(site)s is %(status)s: its approval record can be corrected, not emptied.")
                                % {"site": site.code, "status": site.get_status_display()}, code="incomplete")
    had_record = site.approval != site_status.Approval()
    # A first entry is named by the service; a correction needs the user's reason.
    reason = _clean_reason(reason) if had_record or (reason or "").strip() else "Approval recorded"
    site.ethics_approval_date = ethics_approval_date
    site.approved_protocol_version = version
    site.head_permission_date = head_permission_date
    site.start_date = start_date
    _save(site, user, reason, ["ethics_approval_date", "approved_protocol_version", "head_permission_date",
                                "start_date"])
    return site
