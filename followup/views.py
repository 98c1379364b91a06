"""Follow-up pages (site-scoped): the patient's follow-up and one form per record, thin over the services.

Another site's patient answers 404; a user of the patient's site without EDIT (a monitor, a data manager)
gets 403 on the forms and reads the follow-up page (VIEW).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from oligami_site import access
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from randomization.models import Arm
from registration.models import PrimaryRegistration
from registration.selectors import related
from screening.models import Patient

from . import forms, selectors, services
from .models import (
    Assessment,
    Contamination,
    LastKnownAlive,
    MetastasisDirectedTherapy,
    SystemicCourse,
)


def _patient(request, pk, action=Action.VIEW):
    queryset = Patient.objects.select_related("site", "allocation", "secondary_registration", "death", "withdrawal")
    patient = access.get_scoped_or_404(queryset, request.user, Action.VIEW, site_field="site", pk=pk)
    if action != Action.VIEW and not access.can(request.user, action, patient.site_id):
        raise PermissionDenied
    return patient


def _arm(patient):
    allocation = related(patient, "allocation")
    return allocation.arm if allocation is not None else None


@login_required
def patient(request, pk):
    patient = _patient(request, pk)
    primary = PrimaryRegistration.objects.select_related("plan").filter(patient=patient).first()
    followup = selectors.followup_of(patient)
    arm = _arm(patient)
    return render(request, "followup/patient.html", {
        "patient": patient,
        "primary": primary,
        "arm": arm,
        "arm_label": Arm(arm).label if arm else None,
        "origin": followup.origin if followup else None,
        "result": followup.result if followup else None,
        "treatment": selectors.treatment_facts(patient),
        "courses": list(SystemicCourse.objects.filter(patient=patient).select_related("plan").order_by("number")),
        "mdts": list(MetastasisDirectedTherapy.objects.filter(patient=patient).select_related("lesion")
                     .order_by("start_date", "id")),
        "contaminations": list(Contamination.objects.filter(patient=patient).order_by("date", "id")),
        "assessments": list(Assessment.objects.filter(patient=patient).order_by("date", "id")),
        "alive_dates": list(LastKnownAlive.objects.filter(patient=patient).order_by("-date", "-id")[:5]),
        "death": related(patient, "death"),
        "withdrawal": related(patient, "withdrawal"),
        "can_edit": access.can(request.user, Action.EDIT, patient.site_id),
        "randomized": patient.stage == Patient.Stage.RANDOMIZED,
        "on_treatment": patient.stage in services.COURSE_STAGES and primary is not None,
        "arm_b": arm == Arm.B,
        "arm_a": arm == Arm.A,
    })


def _record(request, patient, form, title, save, *, intro=None, template="followup/form.html"):
    """POST: the service with the form's data; a refusal goes on the form, nothing saved. GET: the form."""
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("%(what)s saved.") % {"what": title})
            return redirect("followup:patient", pk=patient.pk)
    return render(request, template, {"patient": patient, "form": form, "title": title, "intro": intro})


def _edited(request, queryset):
    """The record named by ?id= (of this patient), or None for a new one."""
    pk = request.GET.get("id")
    if not pk:
        return None
    try:
        return queryset.get(pk=int(pk))
    except (ValueError, queryset.model.DoesNotExist):
        raise Http404 from None


@login_required
def course(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    existing = _edited(request, SystemicCourse.objects.filter(patient=patient))
    form = forms.CourseForm(request.POST or None, plans=services.course_plans(patient), course=existing)

    def save(data):
        if existing is None:
            return services.record_course(patient=patient, data=data, user=request.user)
        return services.update_course(course=existing, data=data, user=request.user, reason=data["change_reason"])

    title = _("Systemic therapy course") if existing is None else _("Course %(number)s") % {"number": existing.number}
    return _record(request, patient, form, title, save)


@login_required
def mdt(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    existing = _edited(request, MetastasisDirectedTherapy.objects.filter(patient=patient))
    form = forms.MdtForm(request.POST or None, lesions=services.remaining_lesions(patient), mdt=existing)

    def save(data):
        if existing is None:
            return services.record_mdt(patient=patient, data=data, user=request.user)
        return services.update_mdt(mdt=existing, data=data, user=request.user, reason=data["change_reason"])

    return _record(request, patient, form, _("Metastasis-directed therapy"), save,
                   intro=_("Arm B: one record per remaining oligometastasis."))


@login_required
def contamination(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    form = forms.ContaminationForm(request.POST or None)
    return _record(request, patient, form, _("Contamination"),
                   lambda data: services.record_contamination(patient=patient, data=data, user=request.user),
                   intro=_("Arm A: local therapy to a metastasis given outside the protocol."))


@login_required
def assessment(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    form = forms.AssessmentForm(request.POST or None)
    return _record(request, patient, form, _("Assessment"),
                   lambda data: services.record_assessment(patient=patient, data=data, user=request.user))


@login_required
def death(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    form = forms.DeathForm(request.POST or None)
    return _record(request, patient, form, _("Death"),
                   lambda data: services.record_death(patient=patient, data=data, user=request.user))


@login_required
def alive(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    form = forms.AliveForm(request.POST or None)
    return _record(request, patient, form, _("Last date known alive"),
                   lambda data: services.record_last_known_alive(patient=patient, data=data, user=request.user))


@login_required
def withdrawal(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    form = forms.WithdrawalForm(request.POST or None)
    return _record(request, patient, form, _("Withdrawal"),
                   lambda data: services.record_withdrawal(patient=patient, data=data, user=request.user),
                   intro=_("Recorded once. Stopping protocol treatment keeps all follow-up; no more study visits keeps "
                           "vital status and progression from medical records; withdrawing consent to any further "
                           "data use keeps the data recorded up to the withdrawal date and nothing after it."))
