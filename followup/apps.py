from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = _("Follow-up")

    def ready(self):
        from registration import courses, ical

        from . import calendar, selectors

        # S1 is derived from the courses recorded here (issue 16); registration asks through its registry.
        courses.register_courses_source(selectors.recorded_courses)
        # Next assessment due and overdue ones in the calendar feed, like the registration windows (FOLLOWUP.md).
        ical.register_source(calendar.events)
