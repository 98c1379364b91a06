from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistrationConfig(AppConfig):
    name = "registration"
    verbose_name = _("Registration")

    def ready(self):
        from oligami_site import sites

        from . import selectors

        # Closing a site asks how many of its patients still await secondary registration (the core
        # cannot import this app; it asks through this registration).
        sites.register_awaiting_secondary(selectors.awaiting_secondary_count)
