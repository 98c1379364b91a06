from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OligamiSiteConfig(AppConfig):
    name = "oligami_site"
    verbose_name = _("OLIGAMI trial")

    def ready(self):
        from . import audit, dataversion, lockout, two_factor  # noqa: F401  (connect the receivers)
        from .roles import sync_role_groups

        # After every app's permissions exist (sender: the last app of INSTALLED_APPS to migrate
        # would do, but any sender is fine: the sync is idempotent and cheap).
        post_migrate.connect(sync_role_groups, dispatch_uid="oligami_sync_role_groups")


class OligamiAdminConfig(AdminConfig):
    """Django's admin on a site that also requires a verified second factor (oligami_site.two_factor)."""

    default_site = "oligami_site.two_factor.OTPRequiredAdminSite"
