"""Admin: therapy plans are edited by data managers (each save is a new version); every clinical
record is read-only here (written by the services only) and nothing can be deleted."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .models import (
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
    Signature,
    SignatureFailure,
    TherapyPlan,
)


class NoDeleteAdmin(SimpleHistoryAdmin):
    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoDeleteAdmin):
    """Clinical records: written by the registration services (with signature and audit), only read here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TherapyPlan)
class TherapyPlanAdmin(NoDeleteAdmin):
    list_display = ("subtype", "version", "planned_courses", "cycle_length_days", "effective_from", "regimen")
    list_filter = ("subtype",)
    ordering = ("subtype", "-version")
    fields = ("subtype", "version", "regimen", "planned_courses", "cycle_length_days", "effective_from")

    def get_readonly_fields(self, request, obj=None):
        return ("version", "subtype") if obj else ("version",)

    def save_model(self, request, obj, form, change):
        # Never rewrite a version a patient may be registered under: every save is a new version.
        plan = services.save_therapy_plan(
            subtype=obj.subtype, regimen=obj.regimen, planned_courses=obj.planned_courses,
            cycle_length_days=obj.cycle_length_days, effective_from=obj.effective_from, user=request.user,
            reason=f"Edited in the admin (from version {obj.version})" if change else "Created in the admin")
        for field in TherapyPlan._meta.concrete_fields:  # the admin goes on with the new version
            setattr(obj, field.attname, getattr(plan, field.attname))
        obj._state.adding = False
        if change:
            messages.info(request, _("Saved as version %(version)s; patients registered under earlier versions "
                                     "keep their plan.") % {"version": plan.version})


@admin.register(PrimaryRegistration)
class PrimaryRegistrationAdmin(ReadOnlyAdmin):
    list_display = ("number", "patient", "registration_date", "subtype", "plan")
    search_fields = ("number", "patient__screening_number")
    list_select_related = ("patient", "plan")


@admin.register(SecondaryRegistration)
class SecondaryRegistrationAdmin(ReadOnlyAdmin):
    list_display = ("primary", "patient", "registration_date")
    search_fields = ("primary__number", "patient__screening_number")
    list_select_related = ("primary", "patient")


@admin.register(ResponseEvaluation)
class ResponseEvaluationAdmin(ReadOnlyAdmin):
    list_display = ("patient", "date", "overall_response", "progression", "remaining_lesions")
    list_select_related = ("patient",)


@admin.register(OffStudy)
class OffStudyAdmin(ReadOnlyAdmin):
    list_display = ("patient", "date", "reason")
    list_select_related = ("patient",)


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ("printed_name", "signed_at", "kind", "subject")
    list_filter = ("kind",)


@admin.register(SignatureFailure)
class SignatureFailureAdmin(ReadOnlyAdmin):
    list_display = ("user", "attempted_at", "kind", "patient", "ip_address")
    list_filter = ("kind",)
    list_select_related = ("user", "patient")
