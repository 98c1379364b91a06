from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OligamiSiteConfig(AppConfig):
    name = "oligami_site"
    verbose_name = _("OLIGAMI trial")

    def ready(self):
        from django.core import checks
        from django.db.models.signals import m2m_changed, pre_save

        from . import audit, dataversion, duties, lockout, two_factor  # noqa: F401  (connect the receivers)
        from .models import Membership, User
        from .roles import sync_role_groups

        # Separation of duties (issue 13): the model layer's last line behind the admin forms' checks, and
        # the check of existing accounts (`manage.py check --database default`).
        pre_save.connect(duties.guard_membership_save, sender=Membership, dispatch_uid="oligami_duties_membership")
        pre_save.connect(duties.guard_user_save, sender=User, dispatch_uid="oligami_duties_user")
        m2m_changed.connect(duties.guard_group_grant, sender=User.groups.through, dispatch_uid="oligami_duties_groups")
        checks.register(duties.check_separation_of_duties, checks.Tags.database)

        # After every app's permissions exist: the receiver acts on the signal of the last app with models only
        # (it is sent once per app; the sync is idempotent, but 110 queries each time).
        post_migrate.connect(sync_role_groups, dispatch_uid="oligami_sync_role_groups")


class OligamiAdminConfig(AdminConfig):
    """Django's admin on a site that also requires a verified second factor (oligami_site.two_factor)."""

    default_site = "oligami_site.two_factor.OTPRequiredAdminSite"
