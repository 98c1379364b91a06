"""Permissions of the trial-wide roles, declared in one table and applied after every migrate.

Django's admin asks model permissions; the trial-wide roles are auth groups whose permissions are set
from this table, so that a review of "who may change what in the admin" reads one place. Historical
(audit) models never get change or delete permissions: history is read-only for everyone.
"""

from django.contrib.auth.models import Group, Permission

from .access import TrialRole

# (app_label, model or "*", actions). "*" = every model of the app. Later issues extend the table.
ROLE_PERMISSIONS = {
    TrialRole.DATA_MANAGER: [
        ("oligami_site", "*", ["view"]),
        ("oligami_site", "site", ["add", "change"]),
        # Users and memberships: view only (the "*" above). Accounts and roles are the trial
        # administrator's (superuser's) alone, and the admin asks for a superuser besides (issue 13).
        ("screening", "*", ["view"]),
        ("registration", "*", ["view"]),
        ("registration", "therapyplan", ["add", "change"]),  # each save is a new plan version
        # Randomization: the set-up, the allocation log and refused changes, read-only. Never "*": the
        # concealed allocation list (blocklistentry) is granted to nobody.
        ("randomization", "randomizationconfig", ["view"]),
        ("randomization", "historicalrandomizationconfig", ["view"]),
        ("randomization", "allocation", ["view"]),
        ("randomization", "historicalallocation", ["view"]),
        ("randomization", "configchangeattempt", ["view"]),
        # Follow-up: clinical records read-only (written on the pages); the schedule of assessments and the
        # "status unknown" threshold are trial configuration (the schedule freezes at the first assessment).
        ("followup", "*", ["view"]),
        ("followup", "schedulerule", ["add", "change"]),
        ("followup", "followupsettings", ["add", "change"]),
        # Safety: events and reports read-only here (recorded, signed and acknowledged on the pages); the
        # CTCAE version, the deadlines (frozen once an event was judged) and the expected events are
        # trial configuration (SAFETY.md).
        ("safety", "*", ["view"]),
        ("safety", "safetysettings", ["add", "change"]),
        ("safety", "expectedevent", ["add", "change"]),
        # Data queries are raised and answered on their pages (services); the admin only reads them.
        ("oversight", "dataquery", ["view"]),
        ("oversight", "querymessage", ["view"]),
    ],
    TrialRole.STATISTICIAN: [
        ("oligami_site", "site", ["view"]),
        # Sets up the randomization until the first allocation (services refuse changes after it).
        ("randomization", "randomizationconfig", ["view", "add", "change"]),
        ("randomization", "historicalrandomizationconfig", ["view"]),
        ("randomization", "configchangeattempt", ["view"]),
        # The allocation log with its internals (preferred arm, uniform draw, counts before): hers alone
        # (issue 13; the admin hides them from everyone else).
        ("randomization", "allocation", ["view"]),
        ("randomization", "historicalallocation", ["view"]),
    ],
}


def permissions_for(role: str):
    wanted = Permission.objects.none()
    for app_label, model, actions in ROLE_PERMISSIONS.get(role, []):
        qs = Permission.objects.filter(content_type__app_label=app_label)
        if model != "*":
            qs = qs.filter(content_type__model=model)
        codenames = [p for p in qs.values_list("codename", flat=True) if p.split("_", 1)[0] in actions]
        wanted = wanted | qs.filter(codename__in=codenames)
    # Audit rows are read-only: only "view" of a historical model is ever granted.
    return [p for p in wanted.distinct() if not (p.content_type.model.startswith("historical") and
                                                 not p.codename.startswith("view_"))]


def sync_role_groups(sender=None, **kwargs):
    """post_migrate: create the trial-wide groups and set their permissions exactly to the table.

    Django sends post_migrate once per app with models (after `migrate`, and after every `flush`: each
    transactional test's teardown). The sync runs on the last of them, when every app's permissions exist:
    once per round instead of fifteen times (about 1,700 queries saved per round)."""
    from django.apps import apps

    if sender is not None and sender is not [c for c in apps.get_app_configs() if c.models_module is not None][-1]:
        return
    for role in TrialRole.ALL:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(permissions_for(role))
