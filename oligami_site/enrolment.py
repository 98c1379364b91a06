"""Enrolment caps (issue 17): a site may screen at most so many patients; beyond that it asks the data centre.

Trial configuration, optional per site (`Site.enrolment_cap`, None = no cap). The rule is
oligami_site.site_status.cap_reached (pure); this module applies it and words it:

- the data centre sets, changes or removes a site's cap (`set_cap`, with a reason, in the site's history);
- a new patient's screening at a site whose count has reached its cap is refused before anything is
  written (`require_below_cap`, asked by screening.services.create_patient under the site row's lock, and
  by the new-patient page and its form first), with a message that names the cap;
- the site's staff then send a request (`request_more`); a data manager grants N more patients (the cap
  is raised, on the site's history) or refuses with a reason (`grant`, `refuse`), each audited.

Counting: the patients of the site are reached through the reverse relation by name (`patients`, the
screening app's Patient.site), so the core imports no trial app. Patients are never deleted, and the
numbering is gapless per site, so the count is the number of patients ever screened there.

Lock order: the Site row, then the request row; the same as create_patient (Site row, then the patient),
so two coordinators screening the last slot at once are serialised and only the first gets it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import access, auditing, site_status, sites
from .access import Action
from .exceptions import DomainError
from .models import EnrolmentRequest, Site
from .site_status import SiteAction

CAP_MAX = 100_000  # more is a typing error, not a cap
MORE_MAX = 1_000  # patients granted in one decision
MESSAGE_MAX_LENGTH = 500


class EnrolmentCapReached(DomainError):
    """A new patient's screening was refused: the site has reached its enrolment cap (the message names it)."""


class EnrolmentRefused(DomainError):
    """A cap change, a request or a decision was refused (the message says why)."""


# --- reads --------------------------------------------------------------------------------------------


def screened(site: Site | int) -> int:
    """Patients ever screened at the site (one query)."""
    site_id = site if isinstance(site, int) else site.pk
    return Site.objects.filter(pk=site_id).aggregate(n=Count("patients"))["n"] or 0


def screened_by_site(site_ids) -> dict[int, int]:
    """{site id: patients screened} for many sites in one query."""
    return dict(Site.objects.filter(pk__in=list(site_ids)).annotate(n=Count("patients")).values_list("pk", "n"))


def cap_reached(site: Site, count: int) -> bool:
    return site_status.cap_reached(count, site.enrolment_cap)


def cap_message(site: Site, count: int) -> str:
    return _("%(site)s has reached its enrolment cap of %(cap)s patients screened (%(screened)s so far): a new "
             "patient can be screened only when the data centre approves more.") % {
        "site": site.code, "cap": site.enrolment_cap, "screened": count}


def require_below_cap(site: Site, count: int) -> None:
    """Refuse a new patient's screening at a site whose count has reached its cap (EnrolmentCapReached)."""
    if cap_reached(site, count):
        raise EnrolmentCapReached(cap_message(site, count), code="cap_reached")


def pending_requests(site_ids) -> dict[int, EnrolmentRequest]:
    """{site id: its pending request} (one query)."""
    return {r.site_id: r for r in EnrolmentRequest.objects.filter(site_id__in=list(site_ids),
                                                                  status=EnrolmentRequest.Status.PENDING)}


def latest_requests(site_ids) -> dict[int, EnrolmentRequest]:
    """{site id: its latest request, whatever its status} (one query): what the site's staff see of the
    data centre's decision."""
    latest: dict[int, EnrolmentRequest] = {}
    for row in (EnrolmentRequest.objects.filter(site_id__in=list(site_ids)).select_related("decided_by")
                .order_by("site_id", "-requested_at", "-id")):
        latest.setdefault(row.site_id, row)
    return latest


# --- writes -------------------------------------------------------------------------------------------


def _require_manager(user) -> None:
    if not (user.is_authenticated and user.is_active and (user.is_superuser or access.is_data_manager(user))):
        raise EnrolmentRefused(_("Only the data centre sets enrolment caps and decides requests."),
                               code="forbidden")


def _reason(reason) -> str:
    reason = auditing.clean_reason(reason, error=EnrolmentRefused)
    if not reason:
        raise EnrolmentRefused(_("Give a reason (it is kept in the audit trail)."), code="reason_required")
    return reason


def _whole(value, *, low: int, high: int, label) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EnrolmentRefused(_("%(field)s: a whole number from %(low)s to %(high)s.")
                               % {"field": label, "low": low, "high": high}, code="invalid")
    return value


def _lock_site(site: Site | int) -> Site:
    return Site.objects.select_for_update().get(pk=site if isinstance(site, int) else site.pk)


@transaction.atomic
def set_cap(*, site: Site, cap: int | None, user, reason: str) -> Site:
    """Set, change or remove (None) the site's enrolment cap, with a reason in the site's history. A cap below
    the patients already screened is allowed: the site then screens no new patient without a request."""
    _require_manager(user)
    reason = _reason(reason)
    if cap is not None:
        cap = _whole(cap, low=1, high=CAP_MAX, label=_("enrolment cap"))
    site = _lock_site(site)
    if site.enrolment_cap == cap:
        return site  # nothing changed: no history row
    site.enrolment_cap = cap
    auditing.save(site, user=user, reason=reason, update_fields=["enrolment_cap"])
    return site


@transaction.atomic
def request_more(*, site: Site, user, message: str = "") -> EnrolmentRequest:
    """The site's staff ask the data centre to screen beyond the cap. Refused: a user without entry rights at
    the site; a site whose status stops screening (the status is the answer there, not the cap); a site below
    its cap or without one; a request of the site already waiting."""
    if not access.can(user, Action.EDIT, site):
        raise EnrolmentRefused(_("You may not send requests for this site."), code="forbidden")
    message = (message or "").strip()
    if len(message) > MESSAGE_MAX_LENGTH:
        raise EnrolmentRefused(_("The message is too long (at most %(max)s characters).")
                               % {"max": MESSAGE_MAX_LENGTH}, code="invalid")
    site = _lock_site(site)
    sites.require(site, SiteAction.SCREENING)
    count = screened(site)
    if not cap_reached(site, count):
        raise EnrolmentRefused(_("%(site)s has not reached an enrolment cap: new patients can be screened.")
                               % {"site": site.code}, code="below_cap")
    waiting = EnrolmentRequest.objects.filter(site=site, status=EnrolmentRequest.Status.PENDING).first()
    if waiting is not None:
        raise EnrolmentRefused(_("A request of %(site)s sent on %(date)s is waiting for the data centre.")
                               % {"site": site.code, "date": timezone.localtime(waiting.requested_at).date()
                                  .isoformat()}, code="already_pending")
    request = EnrolmentRequest(site=site, requested_by=user, message=message, cap=site.enrolment_cap,
                               screened=count)
    try:
        with transaction.atomic():
            auditing.save(request, user=user, reason="Enrolment request sent")
    except IntegrityError:  # a request sent at the same moment (the partial unique constraint)
        raise EnrolmentRefused(_("A request of %(site)s is already waiting for the data centre.")
                               % {"site": site.code}, code="already_pending") from None
    return request


def _lock_pending(request: EnrolmentRequest | int) -> tuple[Site, EnrolmentRequest]:
    request_id = request if isinstance(request, int) else request.pk
    site_id = EnrolmentRequest.objects.filter(pk=request_id).values_list("site_id", flat=True).first()
    if site_id is None:
        raise EnrolmentRefused(_("No such request."), code="invalid")
    site = _lock_site(site_id)
    request = EnrolmentRequest.objects.select_for_update().get(pk=request_id)
    if request.status != EnrolmentRequest.Status.PENDING:
        raise EnrolmentRefused(_("This request of %(site)s was already decided (%(status)s).")
                               % {"site": site.code, "status": request.get_status_display()}, code="decided")
    return site, request


@transaction.atomic
def grant(*, request: EnrolmentRequest | int, more: int, user, reason: str) -> EnrolmentRequest:
    """Approve `more` patients beyond the cap: the site's cap is raised (site_status.grant_cap) with the
    reason in the site's history, and the request is marked granted."""
    _require_manager(user)
    reason = _reason(reason)
    more = _whole(more, low=1, high=MORE_MAX, label=_("patients granted"))
    site, request = _lock_pending(request)
    new_cap = site_status.grant_cap(site.enrolment_cap, screened(site), more)
    if new_cap != site.enrolment_cap:
        site.enrolment_cap = new_cap
        auditing.save(site, user=user, reason=reason, update_fields=["enrolment_cap"])
    request.status, request.granted = EnrolmentRequest.Status.GRANTED, more
    request.decided_by, request.decided_at, request.decision_reason = user, timezone.now(), reason
    auditing.save(request, user=user, reason=reason)
    return request


@transaction.atomic
def refuse(*, request: EnrolmentRequest | int, user, reason: str) -> EnrolmentRequest:
    """Refuse the request with a reason (the site's staff see it); the cap stays."""
    _require_manager(user)
    reason = _reason(reason)
    _site, request = _lock_pending(request)
    request.status = EnrolmentRequest.Status.REFUSED
    request.decided_by, request.decided_at, request.decision_reason = user, timezone.now(), reason
    auditing.save(request, user=user, reason=reason)
    return request
