from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = _("Follow-up")

    def ready(self):
        from registration import courses

        from . import selectors

        # S1 is derived from the courses recorded here (issue 16); registration asks through its registry.
        courses.register_courses_source(selectors.recorded_courses)
