"""Follow-up pages (site-scoped): the patient's follow-up and one form per record, thin over the services.

Another site's patient answers 404; a user of the patient's site without EDIT (a monitor, a data manager)
gets 403 on the forms and reads the follow-up page (VIEW).
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oligami_site import access, dataversion
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
    FollowupSurvey,
    LastKnownAlive,
    MetastasisDirectedTherapy,
    SurveyEntry,
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


# Pages of the apps above that a recorded death leads to (safety's assessment of it: R1). Registered at
# start-up (safety/apps.py); follow-up imports none of them (docs/architecture.md, the arrows).
_after_death: list[Callable] = []


def register_after_death(next_url: Callable) -> None:
    """`next_url(patient) -> str | None`: where to go after a death is recorded, if anywhere."""
    if next_url not in _after_death:
        _after_death.append(next_url)


@login_required
def death(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    form = forms.DeathForm(request.POST or None)
    response = _record(request, patient, form, _("Death"),
                       lambda data: services.record_death(patient=patient, data=data, user=request.user))
    if request.method == "POST" and response.status_code == 302:
        for next_url in _after_death:
            url = next_url(patient)
            if url:
                return redirect(url)
    return response


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


# --- follow-up surveys ---------------------------------------------------------------------------------

SURVEY_PAGE_SIZE = 100


def _may_see_surveys(user):
    """Data managers, and site staff and monitors (their own sites); the statistician sees no patients."""
    if not (access.is_data_manager(user) or access.has_any_site_role(user)):
        raise PermissionDenied


@login_required
def surveys(request):
    _may_see_surveys(request.user)
    is_dm = access.is_data_manager(request.user)
    form = forms.OpenSurveyForm(request.POST or None) if is_dm else None
    if request.method == "POST":
        if not is_dm:
            raise PermissionDenied
        if form.is_valid():
            try:
                survey = services.open_survey(cutoff_date=form.cleaned_data["cutoff_date"], user=request.user)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Follow-up survey opened."))
                return redirect("followup:survey", survey_id=survey.pk)
    return render(request, "followup/surveys.html", {
        "surveys": list(FollowupSurvey.objects.select_related("opened_by").order_by("-cutoff_date")[:50]),
        "form": form, "is_dm": is_dm, "threshold": selectors.status_unknown_days()})


def _survey(survey_id):
    try:
        return FollowupSurvey.objects.get(pk=survey_id)
    except FollowupSurvey.DoesNotExist:
        raise Http404 from None


@login_required
def survey(request, survey_id):
    _may_see_surveys(request.user)
    survey = _survey(survey_id)
    is_dm = access.is_data_manager(request.user)
    if request.method == "POST":
        if not is_dm:
            raise PermissionDenied
        try:
            services.close_survey(survey=survey, user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Follow-up survey closed."))
        return redirect("followup:survey", survey_id=survey.pk)
    rows = selectors.survey_rows_of_sites(survey, access.site_ids_for(request.user), timezone.localdate())
    state = request.GET.get("state")
    shown = [row for row in rows if row.state == state] if state in STATE_LABELS else rows
    page = Paginator(shown, SURVEY_PAGE_SIZE).get_page(request.GET.get("page"))
    edit_sites = access.site_ids_for(request.user, Action.EDIT)
    for row in page:
        row.state_label = STATE_LABELS[row.state]
        row.can_edit = survey.is_open and (edit_sites is None or row.site_id in edit_sites) and not is_dm
    return render(request, "followup/survey.html", {
        "survey": survey, "page": page, "rows": page, "is_dm": is_dm, "state": state if state in STATE_LABELS else "",
        "states": list(STATE_LABELS.items()), "sites": selectors.completeness(rows),
        "total": len(rows), "complete": sum(row.state in selectors.COMPLETE_STATES for row in rows),
        "unknown": sum(row.status_unknown for row in rows), "threshold": selectors.status_unknown_days()})


STATE_LABELS = {
    "to_update": _("To update"),
    "confirmed": _("Confirmed"),
    "dead": _("Death recorded"),
    "lost": _("Lost to follow-up"),
    "withdrawn": _("Withdrew consent to data use"),
}


@login_required
def survey_entry(request, survey_id, pk):
    patient = _patient(request, pk, Action.EDIT)
    survey = _survey(survey_id)
    existing = SurveyEntry.objects.filter(survey=survey, patient=patient).first()
    initial = {}
    if existing is not None:
        initial = {"status": existing.status, "last_known_alive": existing.last_known_alive,
                   "progression_since_last": forms._yes_no_initial(existing.progression_since_last)}
    death = related(patient, "death")
    if death is not None:
        initial.update({"status": "dead", "death_date": death.date, "cause": death.cause})
    form = forms.SurveyEntryForm(request.POST or None, initial=initial, require_reason=existing is not None)

    def save(data):
        return services.confirm_survey_entry(survey=survey, patient=patient, data=data, user=request.user,
                                             reason=data.get("change_reason"))

    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Survey entry of %(patient)s confirmed.")
                             % {"patient": patient.screening_number})
            return redirect("followup:survey", survey_id=survey.pk)
    followup = selectors.followup_of(patient)
    return render(request, "followup/survey_entry.html", {
        "patient": patient, "survey": survey, "form": form, "existing": existing,
        "facts": followup.facts if followup else None})


@login_required
def lost(request, survey_id, pk):
    """The data manager confirms a patient lost to follow-up (POST only; the survey page has the button)."""
    if not access.is_data_manager(request.user):
        raise PermissionDenied
    patient = _patient(request, pk)
    survey = _survey(survey_id)
    if request.method != "POST":
        return redirect("followup:survey", survey_id=survey.pk)
    form = forms.LostForm(request.POST)
    if form.is_valid():
        try:
            services.confirm_lost_to_follow_up(patient=patient, survey=survey, user=request.user,
                                               details=form.cleaned_data["details"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(patient)s confirmed lost to follow-up.")
                             % {"patient": patient.screening_number})
    return redirect("followup:survey", survey_id=survey.pk)


# --- Kaplan-Meier curves -------------------------------------------------------------------------------


@login_required
def curves(request):
    """OS and PFS: pooled for everyone who may see the patients (site staff: their sites), by arm for the
    statistician only (DESIGN.md, blinding of results)."""
    user = request.user
    by_arm = access.is_statistician(user)
    if by_arm:
        site_ids = None  # aggregates only: no patient is named on the page
    elif access.is_data_manager(user) or access.has_any_site_role(user):
        site_ids = access.site_ids_for(user, Action.VIEW)  # access.scope's sites
    else:
        raise PermissionDenied
    # Computed once per data version, day, scope and blinding (the by-arm and pooled entries are apart);
    # the cached pictures are labelled with group keys, translated here.
    curves_ = selectors.survival_curves(site_ids, by_arm=by_arm, today=timezone.localdate())
    labels = {"all": _("All patients"), Arm.A: _("Arm A"), Arm.B: _("Arm B")}
    charts = [{"key": key, "title": title, "picture": _labelled(curves_.pictures[key], labels)}
              for key, title in (("os", _("Overall survival (OS)")), ("pfs", _("Progression-free survival (PFS)")))]
    return render(request, "followup/curves.html", {"charts": charts, "by_arm": by_arm, "data": curves_.data})


def _labelled(picture: dict | None, labels: dict) -> dict | None:
    """A copy of a cached km.picture whose lines and numbers-at-risk rows carry the reader's labels instead of
    their group keys (the cached picture itself is left as it is)."""
    if picture is None:
        return None
    lines = [{**line, "label": str(labels.get(line["key"], line["key"]))} for line in picture["lines"]]
    rows = [{**row, "label": line["label"]} for row, line in zip(picture["risk_rows"], lines, strict=True)]
    return {**picture, "lines": lines, "risk_rows": rows}


# --- the worklist's follow-up section -------------------------------------------------------------------

DUE_SHOWN = 50


def assessments_due_section(request) -> dict:
    """Next assessments due and overdue at the user's sites, for the worklist (oversight/dashboards.py)."""
    today = timezone.localdate()
    view_sites = access.site_ids_for(request.user, Action.VIEW)

    def compute():
        rows = selectors.assessments_due(access.scope(Patient.objects.all(), request.user), today)
        return rows[:DUE_SHOWN], len(rows)

    # Every followed patient of the sites is put on the schedule (seconds at a busy site of a large trial):
    # reused while no audited write has committed and the day is the same (oligami_site.dataversion; the
    # schedule moves with the date only). The rows are the user's scope's, whoever asks (no translation in
    # them; arms are shown to every site role).
    rows, total = dataversion.cached("worklist-assessments-due", dataversion.scope_key(view_sites), today, compute)
    edit_sites = access.site_ids_for(request.user, Action.EDIT)
    site_ids = dict(Patient.objects.filter(pk__in=[r.patient_id for r in rows]).values_list("pk", "site_id"))
    for row in rows:
        row.can_edit = edit_sites is None or site_ids.get(row.patient_id) in edit_sites
    return {"template": "followup/_assessments_due.html", "rows": rows, "total": total, "today": today}
