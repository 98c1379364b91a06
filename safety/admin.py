"""Admin: the safety settings and the expected events are trial configuration edited by data managers
(the settings frozen once an event was judged with them); events, reports and alerts are read-only here
(written by the services), scoped to the user's sites, and nothing can be deleted."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from oligami_site.audited_admin import AuditedAdmin, ReadOnlyAuditedAdmin, fixed_values_filter

from . import services
from .models import AdverseEvent, DeadlineAlert, ExpectedEvent, ExpeditedReport, SafetySettings


def _frozen() -> bool:
    return SafetySettings.objects.filter(frozen_at__isnull=False).exists()


@admin.register(SafetySettings)
class SafetySettingsAdmin(AuditedAdmin):
    list_display = ("ctcae_version", "first_report_hours", "second_report_days", "frozen_at")
    fields = ("ctcae_version", "first_report_hours", "second_report_days", "frozen_at")
    readonly_fields = ("frozen_at",)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not SafetySettings.objects.exists()

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not _frozen()

    def save_model(self, request, obj, form, change):
        services.save_settings(settings=obj, user=request.user,
                               reason=self.change_reason(form, change, "Created in the admin"))


@admin.register(ExpectedEvent)
class ExpectedEventAdmin(AuditedAdmin):
    list_display = ("treatment", "term")
    list_filter = ("treatment",)
    search_fields = ("term",)


@admin.register(AdverseEvent)
class AdverseEventAdmin(ReadOnlyAuditedAdmin):
    site_field = "patient__site"
    list_display = ("patient", "term", "grade", "onset_date", "reportable", "rule", "first_report_due")
    list_filter = ("reportable", fixed_values_filter("grade", _("grade"), [1, 2, 3, 4, 5]))  # CTCAE grades
    list_select_related = ("patient",)


@admin.register(ExpeditedReport)
class ExpeditedReportAdmin(ReadOnlyAuditedAdmin):
    site_field = "adverse_event__patient__site"
    list_display = ("adverse_event", "kind", "number", "signed_at", "due_at", "acknowledged_at")
    list_select_related = ("adverse_event__patient",)


@admin.register(DeadlineAlert)
class DeadlineAlertAdmin(admin.ModelAdmin):
    list_display = ("adverse_event", "report", "level", "due_at", "created_at", "sent_at")

    def get_queryset(self, request):
        from oligami_site import access

        return access.scope(super().get_queryset(request), request.user, site_field="adverse_event__patient__site")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
