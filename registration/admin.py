"""Admin: therapy plans are edited by data managers (each save is a new version); every clinical
record is read-only here (written by the services only), scoped to the user's sites, and nothing can be
deleted (oligami_site.audited_admin)."""

from django.contrib import admin, messages
from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy as _

from oligami_site import access
from oligami_site.access import Action
from oligami_site.audited_admin import (
    AuditedAdmin,
    BoundedChangelistMixin,
    ReadOnlyAuditedAdmin,
    ReadOnlyMixin,
    SiteListFilter,
)
from oligami_site.models import Signature, SignatureFailure
from screening.models import Patient

from . import services
from .models import (
    Digest,
    Notice,
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
    TherapyPlan,
)

SITE_FILTER = ("patient__site", SiteListFilter)


class NoDeleteAdmin(AuditedAdmin):
    """Trial configuration: changed with a reason, never deleted."""


class ReadOnlyAdmin(ReadOnlyAuditedAdmin):
    """Clinical records: written by the registration services (with signature and audit), only read here."""

    site_field = "patient__site"

    @admin.display(description=_("site"), ordering="patient__site__code")
    def site(self, obj):
        return obj.patient.site.code


@admin.register(TherapyPlan)
class TherapyPlanAdmin(NoDeleteAdmin):
    list_display = ("subtype", "name", "version", "planned_courses", "cycle_length_days", "effective_from", "regimen")
    list_filter = ("subtype",)
    ordering = ("subtype", "name", "-version")
    fields = ("subtype", "name", "version", "regimen", "regimen_ja", "planned_courses", "cycle_length_days",
              "effective_from")

    def get_readonly_fields(self, request, obj=None):
        # Editing saves a new version of the same regimen; another regimen of the subtype is a new plan.
        return ("version", "subtype", "name") if obj else ("version",)

    def save_model(self, request, obj, form, change):
        # Never rewrite a version a patient may be registered under: every save is a new version.
        plan = services.save_therapy_plan(
            subtype=obj.subtype, name=obj.name, regimen=obj.regimen, regimen_ja=obj.regimen_ja,
            planned_courses=obj.planned_courses,
            cycle_length_days=obj.cycle_length_days, effective_from=obj.effective_from, user=request.user,
            reason=self.change_reason(form, change, "Created in the admin"))
        for field in TherapyPlan._meta.concrete_fields:  # the admin goes on with the new version
            setattr(obj, field.attname, getattr(plan, field.attname))
        obj._state.adding = False
        if change:
            messages.info(request, _("Saved as version %(version)s; patients registered under earlier versions "
                                     "keep their plan.") % {"version": plan.version})


@admin.register(PrimaryRegistration)
class PrimaryRegistrationAdmin(ReadOnlyAdmin):
    list_display = ("number", "patient", "site", "registration_date", "subtype", "plan")
    list_filter = (SITE_FILTER, "subtype", ("registration_date", admin.DateFieldListFilter))
    search_fields = ("number", "patient__screening_number")
    list_select_related = ("patient__site", "plan")
    list_defer = ("verdict",)  # the registration's verdict snapshot, never shown in the list (issue 21)


@admin.register(SecondaryRegistration)
class SecondaryRegistrationAdmin(ReadOnlyAdmin):
    list_display = ("primary", "patient", "site", "registration_date")
    list_filter = (SITE_FILTER, "primary__subtype", ("registration_date", admin.DateFieldListFilter))
    search_fields = ("primary__number", "patient__screening_number")
    list_select_related = ("primary", "patient__site")
    list_defer = ("verdict", "primary__verdict")  # never shown in the list (issue 21)


@admin.register(ResponseEvaluation)
class ResponseEvaluationAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "date", "overall_response", "progression", "remaining_lesions", "voided")
    list_filter = (SITE_FILTER, "overall_response", "progression", "voided")
    search_fields = ("patient__screening_number", "patient__primary_registration__number")
    list_select_related = ("patient__site",)


@admin.register(OffStudy)
class OffStudyAdmin(ReadOnlyAdmin):
    list_display = ("patient", "site", "date", "reason")
    list_filter = (SITE_FILTER, "reason")
    search_fields = ("patient__screening_number", "patient__primary_registration__number")
    list_select_related = ("patient__site",)


# The core's e-signatures (oligami_site.signatures) are administered here: a site user's view is scoped
# through the registrations they sign, which the core cannot name.
@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ("printed_name", "signed_at", "kind", "shown_meaning", "subject")
    list_filter = ("kind",)
    search_fields = ("subject", "printed_name")
    exclude = ("meaning",)
    readonly_fields = ("shown_meaning",)
    site_field = None  # no patient key: scoped through the registrations it signs (below)

    @admin.display(description=_("meaning"))
    def shown_meaning(self, obj):
        return obj.meaning_text  # the meaning's code in the reader's language (a legacy text as stored)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        user = request.user
        site_ids = None if user.is_superuser else access.site_ids_for(user, Action.VIEW)
        if site_ids is None:
            return queryset
        signed = (Q(pk__in=PrimaryRegistration.objects.filter(patient__site_id__in=site_ids).values("signature"))
                  | Q(pk__in=SecondaryRegistration.objects.filter(patient__site_id__in=site_ids).values("signature")))
        return queryset.filter(signed)


@admin.register(SignatureFailure)
class SignatureFailureAdmin(ReadOnlyAdmin):
    list_display = ("user", "attempted_at", "kind", "patient", "ip_address")
    list_filter = ("kind",)
    list_select_related = ("user",)
    search_fields = ("user__username", "screening_number")
    exclude = ("patient_id",)
    readonly_fields = ("patient",)
    site_field = None  # the core keeps the patient as a plain id (it names no trial app): scoped below

    def get_queryset(self, request):
        number = Patient.objects.filter(pk=OuterRef("patient_id")).values("screening_number")[:1]
        queryset = super().get_queryset(request).annotate(screening_number=Subquery(number))
        user = request.user
        site_ids = None if user.is_superuser else access.site_ids_for(user, Action.VIEW)
        if site_ids is None:
            return queryset
        return queryset.filter(patient_id__in=Patient.objects.filter(site_id__in=site_ids).values("pk"))

    @admin.display(description=_("patient"), ordering="screening_number")
    def patient(self, obj):
        return obj.screening_number or ""


class OutboxAdmin(BoundedChangelistMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Reminder outbox rows (not clinical, not audited): read-only, scoped to the user's sites."""

    site_field = "site"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return access.scope(queryset, request.user, Action.VIEW, site_field=self.site_field)


@admin.register(Notice)
class NoticeAdmin(OutboxAdmin):
    list_display = ("patient", "site", "kind", "audience", "due_date", "deadline", "status", "attempts", "sent_at",
                    "last_error")
    list_filter = ("status", "kind", "audience", ("site", SiteListFilter), ("due_date", admin.DateFieldListFilter))
    search_fields = ("patient__screening_number", "patient__primary_registration__number")
    list_select_related = ("patient", "site")


@admin.register(Digest)
class DigestAdmin(OutboxAdmin):
    list_display = ("day", "audience", "site", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "audience", ("site", SiteListFilter))
    list_select_related = ("site",)
    date_hierarchy = "day"

    def get_queryset(self, request):
        # The data managers' digest has no site: only those who see every site see it.
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser or access.site_ids_for(request.user, Action.VIEW) is None:
            return queryset
        return access.scope(queryset, request.user, Action.VIEW, site_field="site")
