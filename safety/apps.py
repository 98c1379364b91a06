from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SafetyConfig(AppConfig):
    name = "safety"
    verbose_name = _("Safety")

    def ready(self):
        from followup import services as followup_services
        from followup import views as followup_views
        from oligami_site import signatures
        from registration import ical

        from . import calendar, links, services

        # The apps below cannot import safety (docs/architecture.md, the arrows); they ask through these.
        ical.register_source(calendar.events)  # report deadlines in the calendar feed
        followup_views.register_after_death(links.after_death)  # a death asks for its safety assessment (R1)
        # What safety signs: its kind and meanings, declared to the core's e-signatures.
        signatures.register(kinds=services.SIGNATURE_KINDS, meanings=services.SIGNATURE_MEANINGS)
        # A course or local therapy recorded or corrected later re-judges the patient's events (R1-R3 phases).
        followup_services.register_after_treatment_change(services.rejudge_after_treatment_change)
