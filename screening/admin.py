"""Admin of the screening records: read-only (the screening services write them, with the engine's verdict
and the audit reason), scoped to the user's sites, with their history. Nothing is ever deleted."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from oligami_site.audited_admin import ReadOnlyAuditedAdmin, SiteListFilter

from .models import LabPanel, Lesion, Patient, Screening

SITE_FILTER = ("site", SiteListFilter)


@admin.register(Patient)
class PatientAdmin(ReadOnlyAuditedAdmin):
    list_display = ("screening_number", "site", "registration_number", "stage", "sex", "created_at")
    list_filter = (SITE_FILTER, "stage", "sex")
    search_fields = ("screening_number", "primary_registration__number")
    list_select_related = ("site", "primary_registration")
    site_field = "site"

    @admin.display(description=_("registration number"), ordering="primary_registration__number")
    def registration_number(self, obj):
        registration = getattr(obj, "primary_registration", None)
        return registration.number if registration else "–"


@admin.register(Screening)
class ScreeningAdmin(ReadOnlyAuditedAdmin):
    list_display = ("__str__", "site", "screening_date", "outcome", "subtype", "evaluated_at")
    list_filter = (("patient__site", SiteListFilter), "outcome", "subtype",
                   ("screening_date", admin.DateFieldListFilter))
    search_fields = ("patient__screening_number", "patient__primary_registration__number")
    list_select_related = ("patient__site",)
    list_defer = ("verdict",)  # ~14 kB of JSON per row, never shown in the list (issue 21)
    site_field = "patient__site"

    @admin.display(description=_("site"), ordering="patient__site__code")
    def site(self, obj):
        return obj.patient.site.code


@admin.register(Lesion)
class LesionAdmin(ReadOnlyAuditedAdmin):
    list_display = ("__str__", "organ", "diameter_mm", "mdt_feasible", "bilsky_grade")
    list_filter = (("screening__patient__site", SiteListFilter), "organ")
    search_fields = ("screening__patient__screening_number",)
    list_select_related = ("screening__patient",)
    site_field = "screening__patient__site"


@admin.register(LabPanel)
class LabPanelAdmin(ReadOnlyAuditedAdmin):
    list_display = ("__str__", "date", "anc", "hemoglobin", "platelets", "bilirubin", "ast", "alt", "creatinine")
    list_filter = (("patient__site", SiteListFilter), ("date", admin.DateFieldListFilter))
    search_fields = ("patient__screening_number", "patient__primary_registration__number")
    list_select_related = ("patient",)
    site_field = "patient__site"
