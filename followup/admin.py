"""Admin: the schedule of assessments and the follow-up settings are trial configuration edited by data
managers (frozen once used); every clinical record is read-only here (written by the services only),
scoped to the user's sites, and nothing can be deleted (oligami_site.audited_admin)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from oligami_site.audited_admin import AuditedAdmin, ReadOnlyAuditedAdmin, SiteListFilter

from . import services
from .models import (
    Assessment,
    Contamination,
    Death,
    FollowupSettings,
    FollowupSurvey,
    LastKnownAlive,
    LostToFollowUp,
    MetastasisDirectedTherapy,
    ScheduleRule,
    SurveyEntry,
    SystemicCourse,
    Withdrawal,
)

SITE_FILTER = ("patient__site", SiteListFilter)  # the user's sites, one small query (issue 21)


class ReadOnlyAdmin(ReadOnlyAuditedAdmin):
    site_field = "patient__site"
    list_filter = (SITE_FILTER,)
    list_select_related = ("patient__site",)

    @admin.display(description=_("site"), ordering="patient__site__code")
    def site(self, obj):
        return obj.patient.site.code


@admin.register(SystemicCourse)
class SystemicCourseAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "number", "start_date", "end_date", "dose_modified", "stopped_early")


@admin.register(MetastasisDirectedTherapy)
class MetastasisDirectedTherapyAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "modality", "start_date", "end_date", "completed_as_planned")


@admin.register(Contamination)
class ContaminationAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "date", "modality")


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "date", "progression")


@admin.register(Death)
class DeathAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "date", "cause")


@admin.register(LastKnownAlive)
class LastKnownAliveAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "date", "source")


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "date", "kind")


@admin.register(SurveyEntry)
class SurveyEntryAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "survey", "status", "last_known_alive", "confirmed_at")
    list_select_related = ("patient__site", "survey")  # the survey column: one query per row without it


@admin.register(LostToFollowUp)
class LostToFollowUpAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "confirmed_at", "confirmed_by")
    list_select_related = ("patient__site", "confirmed_by")  # the user column: one query per row without it


@admin.register(FollowupSurvey)
class FollowupSurveyAdmin(ReadOnlyAuditedAdmin):
    """Opened and closed on the survey pages (services), read here."""

    list_display = ("cutoff_date", "opened_at", "opened_by", "closed_at")


@admin.register(ScheduleRule)
class ScheduleRuleAdmin(AuditedAdmin):
    list_display = ("from_day", "interval_days", "window_days", "frozen_at")
    fields = ("from_day", "interval_days", "window_days", "frozen_at")
    readonly_fields = ("frozen_at",)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not services.schedule_frozen()

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not services.schedule_frozen()

    def save_model(self, request, obj, form, change):
        services.save_schedule_rule(rule=obj, user=request.user,
                                    reason=self.change_reason(form, change, "Created in the admin"))


@admin.register(FollowupSettings)
class FollowupSettingsAdmin(AuditedAdmin):
    list_display = ("status_unknown_days", "mdt_start_days")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not FollowupSettings.objects.exists()
