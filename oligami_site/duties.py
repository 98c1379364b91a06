"""Separation of duties: which roles one account may hold together, and who may grant them (issue 13).

- A trial-wide role (data manager, statistician, trial administrator = superuser) and a site role that
  signs (a membership whose role may `Action.SIGN` in access.SITE_ROLE_ACTIONS: coordinator, investigator)
  are never held by one account at the same time: the people who review, analyse or administer the
  trial do not also register and randomize its patients under their own signature. Ended memberships
  do not count (who worked where stays on record); a monitor's membership does not sign.
- Nobody grants a role to themself, the trial administrator included: a second administrator does it,
  and the history shows who.

The rule is checked here, once, and asked by every path that grants a role:
- the admin's forms (user, its membership inline, membership) call `check_account` / `check_membership`
  through their clean(), so the refusal is a message on the form;
- Membership.clean() (any ModelForm of memberships);
- the model layer's last line (`guard_*`, connected in apps.py): a grant by any other path (a shell, a
  future page, a data fix) raises RoleGrantRefused instead of writing the forbidden combination;
- `conflicts()` finds existing accounts that break the rule (rows written around the model layer, an
  old dump restored): the database system check oligami.E013 (`manage.py check --database default`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core import checks
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .access import SITE_ROLE_ACTIONS, Action, TrialRole
from .exceptions import DomainError
from .models import Membership, User

# The site roles that sign registrations, randomizations and safety reports (from access: one table).
SIGNING_ROLES = frozenset(role for role, actions in SITE_ROLE_ACTIONS.items() if Action.SIGN in actions)
TRIAL_ADMINISTRATOR = "Trial administrator"  # the superuser flag, named like the groups
CHECK_ID = "oligami.E013"
# The trial-wide roles as the reader of a refusal reads them.
ROLE_LABELS = {TrialRole.DATA_MANAGER: _("Data manager"), TrialRole.STATISTICIAN: _("Statistician"),
               TRIAL_ADMINISTRATOR: _("Trial administrator")}


class RoleGrantRefused(DomainError):
    """A grant that would break the separation of duties (the message says which roles clash)."""


def _conflict_message(user, trial_roles: Iterable[str], sites: Iterable[str]):
    return _("%(user)s cannot hold a trial-wide role and a site role that signs at the same time "
             "(%(roles)s; signing at %(sites)s). End the site membership first, or give the trial-wide role "
             "to another account.") % {
        "user": user.get_username(),
        "roles": ", ".join(str(ROLE_LABELS.get(role, role)) for role in sorted(trial_roles)),
        "sites": ", ".join(sorted(sites))}


def trial_roles(*, group_names: Iterable[str], is_superuser: bool) -> set[str]:
    roles = {name for name in group_names if name in TrialRole.ALL}
    if is_superuser:
        roles.add(TRIAL_ADMINISTRATOR)
    return roles


def _stored_trial_roles(user) -> set[str]:
    names = user.groups.values_list("name", flat=True) if user.pk else []
    return trial_roles(group_names=names, is_superuser=user.is_superuser)


def _signing_sites(user, *, exclude_pk=None) -> set[str]:
    if not user.pk:
        return set()
    memberships = Membership.objects.filter(user=user, active=True, role__in=SIGNING_ROLES)
    if exclude_pk is not None:
        memberships = memberships.exclude(pk=exclude_pk)
    return set(memberships.values_list("site__code", flat=True))


def check_account(user, *, group_names: Iterable[str], is_superuser: bool) -> None:
    """Refuse trial-wide roles (the groups and superuser flag to be saved) on an account that signs at a site.

    The groups the admin form is about to save are also kept on `user` (pending_trial_roles), so that the
    membership inline of the same form is checked against them and not against the stored ones: a role
    and a signing membership sent together are refused as well."""
    roles = trial_roles(group_names=group_names, is_superuser=is_superuser)
    user._oligami_pending_trial_roles = roles
    sites = _signing_sites(user)
    if roles and sites:
        raise RoleGrantRefused(_conflict_message(user, roles, sites), code="separation_of_duties")


def check_membership(membership) -> None:
    """Refuse an active signing membership for an account that holds a trial-wide role."""
    if not (membership.active and membership.role in SIGNING_ROLES and membership.user_id):
        return
    user = membership.user
    roles = getattr(user, "_oligami_pending_trial_roles", None)
    if roles is None:
        roles = _stored_trial_roles(user)
    if roles:
        sites = _signing_sites(user, exclude_pk=membership.pk) | {membership.site.code if membership.site_id else "?"}
        raise RoleGrantRefused(_conflict_message(user, roles, sites), code="separation_of_duties")


def check_not_self(*, actor, user) -> None:
    """Nobody grants or changes a role of their own account (a second administrator does)."""
    if actor is not None and user is not None and actor.pk is not None and actor.pk == user.pk:
        raise RoleGrantRefused(_("You cannot grant yourself a role: another trial administrator does it, and "
                                 "the audit trail shows who."), code="self_grant")


# --- the model layer's last line --------------------------------------------------------------------------


def guard_membership_save(sender, instance, raw=False, **kwargs):
    """pre_save of Membership: the rule holds whatever path saves the row (fixtures loaded raw: the check)."""
    if not raw:
        check_membership(instance)


def guard_user_save(sender, instance, raw=False, **kwargs):
    """pre_save of User: a superuser flag on an account that signs at a site is refused."""
    if raw or not instance.is_superuser or not instance.pk:
        return
    sites = _signing_sites(instance)
    if sites:
        raise RoleGrantRefused(_conflict_message(instance, {TRIAL_ADMINISTRATOR}, sites),
                               code="separation_of_duties")


def guard_group_grant(sender, instance, action, reverse, model, pk_set, **kwargs):
    """m2m_changed of User.groups, both sides (user.groups.add, group.user_set.add): before the rows exist."""
    if action != "pre_add" or not pk_set:
        return
    from django.contrib.auth.models import Group

    if not reverse:
        names = set(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True))
        if names & set(TrialRole.ALL) and _signing_sites(instance):
            raise RoleGrantRefused(_conflict_message(instance, names & set(TrialRole.ALL), _signing_sites(instance)),
                                   code="separation_of_duties")
        return
    if instance.name not in TrialRole.ALL:
        return
    for user in User.objects.filter(pk__in=pk_set):
        sites = _signing_sites(user)
        if sites:
            raise RoleGrantRefused(_conflict_message(user, {instance.name}, sites), code="separation_of_duties")


# --- existing data ---------------------------------------------------------------------------------------


def conflicts() -> list[tuple[str, set[str], set[str]]]:
    """(username, trial-wide roles, signing sites) of every account that breaks the rule. Two queries."""
    signing = {}
    for username, code in (Membership.objects.filter(active=True, role__in=SIGNING_ROLES)
                           .values_list("user__username", "site__code")):
        signing.setdefault(username, set()).add(code)
    if not signing:
        return []
    roles = {}
    for username, group_name, superuser in (User.objects.filter(username__in=signing)
                                            .filter(Q(groups__name__in=TrialRole.ALL) | Q(is_superuser=True))
                                            .values_list("username", "groups__name", "is_superuser")):
        found = roles.setdefault(username, set())
        found |= trial_roles(group_names=[group_name] if group_name else [], is_superuser=superuser)
    return sorted((username, found, signing[username]) for username, found in roles.items() if found)


def check_separation_of_duties(app_configs=None, databases=None, **kwargs):
    """System check (database tag): no account holds a trial-wide role and a site role that signs."""
    if not databases or "default" not in databases:
        return []
    from django.db import DatabaseError

    try:
        found = conflicts()
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    return [checks.Error(
        f"{username} holds {', '.join(sorted(roles))} and signs at {', '.join(sorted(sites))} "
        "(separation of duties, issue 13)",
        hint="End the site membership or remove the trial-wide role (oligami_site/duties.py).", id=CHECK_ID)
        for username, roles, sites in found]
