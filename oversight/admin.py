"""Data queries in the admin console: read-only and site-scoped (written only through their pages)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from oligami_site.audited_admin import ReadOnlyAuditedAdmin, SiteListFilter, fixed_values_filter

from . import checks
from .models import DataQuery, QueryMessage


class QueryMessageInline(admin.TabularInline):
    model = QueryMessage
    fields = ("at", "step", "author", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DataQuery)
class DataQueryAdmin(ReadOnlyAuditedAdmin):
    site_field = "patient__site"
    list_display = ("__str__", "site_code", "patient", "record_type", "field", "status", "rule", "opened_at")
    list_filter = ("status", fixed_values_filter("rule", _("automatic check"), lambda: [c.code for c in checks.CHECKS]),
                   ("patient__site", SiteListFilter))
    list_select_related = ("patient", "patient__site")
    search_fields = ("patient__screening_number", "text")
    inlines = [QueryMessageInline]

    @admin.display(description=_("site"), ordering="patient__site__code")
    def site_code(self, obj):
        return obj.patient.site.code
