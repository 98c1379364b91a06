from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistrationConfig(AppConfig):
    name = "registration"
    verbose_name = _("Registration")

    def ready(self):
        from django.db.models.signals import post_delete, post_save, pre_save

        from oligami_site import signatures, sites
        from oligami_site.models import Membership

        from . import selectors, services, signals

        # What registration signs: its kinds and meanings, declared to the core's e-signatures.
        signatures.register(kinds=services.SIGNATURE_KINDS, meanings=services.SIGNATURE_MEANINGS)

        # Closing a site asks how many of its patients still await secondary registration (the core
        # cannot import this app; it asks through this registration).
        sites.register_awaiting_secondary(selectors.awaiting_secondary_count)
        # An ended membership revokes the user's calendar feed (issue 13; registration/signals.py).
        pre_save.connect(signals.membership_before_save, sender=Membership, dispatch_uid="calendar_membership_before")
        post_save.connect(signals.membership_saved, sender=Membership, dispatch_uid="calendar_membership_saved")
        post_delete.connect(signals.membership_deleted, sender=Membership, dispatch_uid="calendar_membership_deleted")
