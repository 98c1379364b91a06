"""Who may see and do what, at which sites: the one place that decides it.

Every view and queryset asks here. Site staff (coordinator, investigator) and monitors act only at the
sites of their active memberships; data managers see every site; statisticians see no patient data,
only the randomization set-up and balance reports. Nothing here depends on a trial app.
"""

from enum import StrEnum

from django.db.models import QuerySet
from django.http import Http404

from .models import Membership, Site


class TrialRole:
    """Trial-wide roles, held as auth groups (their permissions come from roles.py)."""

    DATA_MANAGER = "Data manager"
    STATISTICIAN = "Statistician"
    ALL = (DATA_MANAGER, STATISTICIAN)


class Action(StrEnum):
    VIEW = "view"  # read patient records of the site
    EDIT = "edit"  # enter screening facts, evaluations; create patients
    SIGN = "sign"  # sign a registration with an electronic signature (registers the patient)
    SIGN_REPORT = "sign_report"  # sign an expedited safety report: the site investigator (SAFETY.md)


# What a site role may do at its own site. Coordinators register with their own signature as JCOG
# sites do through the data centre's web system; investigators may do all a coordinator does.
SITE_ROLE_ACTIONS = {
    Membership.Role.COORDINATOR: {Action.VIEW, Action.EDIT, Action.SIGN},
    Membership.Role.INVESTIGATOR: {Action.VIEW, Action.EDIT, Action.SIGN, Action.SIGN_REPORT},
    Membership.Role.MONITOR: {Action.VIEW},
}
# Trial-wide roles act on every site, read-only on clinical data.
TRIAL_ROLE_ACTIONS = {
    TrialRole.DATA_MANAGER: {Action.VIEW},
    TrialRole.STATISTICIAN: set(),
}


def _group_names(user) -> set[str]:
    # Cached per user object: a page asks several times.
    cached = getattr(user, "_oligami_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._oligami_groups = cached
    return cached


def is_data_manager(user) -> bool:
    return user.is_authenticated and user.is_active and TrialRole.DATA_MANAGER in _group_names(user)


def is_statistician(user) -> bool:
    return user.is_authenticated and user.is_active and TrialRole.STATISTICIAN in _group_names(user)


def sees_allocation_internals(user) -> bool:
    """Allocation internals (preferred arm, uniform draw, counts before, imbalance, weights, p, the tallies
    and the set-up's parameters) and balance by site or by factor: the statistician only (DESIGN.md,
    "Blinding of results"; issue 13: with them the next allocation was predictable)."""
    return is_statistician(user)


def sees_arm_totals(user) -> bool:
    """Trial-wide totals by arm (no site or factor breakdown): data managers and the statistician. Site staff
    and monitors see no arm counts, only each of their own patients' arm (issue 13)."""
    return is_data_manager(user) or is_statistician(user)


def site_roles(user) -> dict[int, str]:
    """{site id: role} of the user's active memberships, whatever the site's status.

    A closed site's staff still read their patients; what each status lets them *do* is
    oligami_site.site_status, which the services ask (issue 17: a site's status is no lock-out)."""
    cached = getattr(user, "_oligami_site_roles", None)
    if cached is None:
        cached = {}
        if user.is_authenticated and user.is_active:
            cached = dict(
                Membership.objects.filter(user=user, active=True).values_list("site_id", "role")
            )
        user._oligami_site_roles = cached
    return cached


def site_ids_for(user, action: Action = Action.VIEW) -> set[int] | None:
    """Ids of the sites where the user may take `action`; None means every site."""
    if not (user.is_authenticated and user.is_active):
        return set()
    for group in _group_names(user):
        if action in TRIAL_ROLE_ACTIONS.get(group, set()):
            return None
    return {site_id for site_id, role in site_roles(user).items() if action in SITE_ROLE_ACTIONS[role]}


def sites_for(user, action: Action = Action.VIEW) -> QuerySet[Site]:
    ids = site_ids_for(user, action)
    sites = Site.objects.all()
    return sites if ids is None else sites.filter(id__in=ids)


def can(user, action: Action, site) -> bool:
    site_id = site if isinstance(site, int) else getattr(site, "pk", None)
    ids = site_ids_for(user, action)
    return ids is None or site_id in ids


def scope(queryset: QuerySet, user, action: Action = Action.VIEW, site_field: str = "site") -> QuerySet:
    """Restrict any queryset to the rows of the sites where the user may take `action`."""
    ids = site_ids_for(user, action)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{site_field}__in": ids})


def get_scoped_or_404(queryset: QuerySet, user, action: Action = Action.VIEW, site_field: str = "site", **lookup):
    """An object of the user's sites, else 404 (never 403: another site's ids are not to be confirmed)."""
    try:
        return scope(queryset, user, action, site_field).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def has_any_site_role(user) -> bool:
    return bool(site_roles(user))

