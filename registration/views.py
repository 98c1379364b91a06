"""Registration pages: thin views over the services, every object through oligami_site.access.

Another site's patient answers 404; a user of the patient's site without the action (a monitor, a data
manager) gets 403 on the pages that enter data (EDIT) or sign (SIGN), and reads the rest (VIEW).
"""

from collections import Counter
from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oligami_site import access, signatures
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from oligami_site.models import Membership
from randomization.models import Allocation
from randomization.selectors import factor_rows
from screening import eligibility as rules
from screening import stages, verdicts
from screening.models import Patient
from screening.stages import Step

from . import ical, selectors, services, windows
from .exceptions import AlreadyRegistered, CoursesUnavailable, NeedsConfirmation, NotEligible
from .forms import LabPanelForm, OffStudyForm, ResponseEvaluationForm, SignatureForm, VoidEvaluationForm
from .models import OffStudy, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration
from .next_step import NextStep, next_step
from .selectors import related
from .timeline import timeline_picture

STATUS_ORDER = list(windows.Status)
WORKLIST_PAGE_SIZE = 50
STATUS_ICONS = {"met": "✔", "not_met": "✘", "missing": "?"}


def _patient(request, pk, action=Action.VIEW, queryset=None):
    """The patient of one of the user's sites (else 404); 403 when the user may not take `action` there."""
    queryset = queryset if queryset is not None else Patient.objects.select_related("site")
    patient = access.get_scoped_or_404(queryset, request.user, Action.VIEW, site_field="site", pk=pk)
    if action != Action.VIEW and not access.can(request.user, action, patient.site_id):
        raise PermissionDenied
    return patient


def _checklist(verdict: rules.Verdict | None):
    if verdict is None:
        return []
    return [{"id": c.id, "title": rules.CRITERIA[c.id].text(gettext) if c.id in rules.CRITERIA else c.id,
             "status": c.status, "icon": STATUS_ICONS[c.status], "reason": c.render(gettext),
             # the checklist's wording for E-criteria ("does not apply" / "applies (excluded)"), as screening's
             "met": c.status == rules.MET, "not_met": c.status == rules.NOT_MET, "is_exclusion": c.id.startswith("E")}
            for c in verdict.criteria]


def _refusal(form, exc: DomainError):
    form.add_error(None, exc.message if not isinstance(exc, NotEligible) else
                   _("Refused: the criteria below are not met or not recorded."))
    return getattr(exc, "failures", [])


def _courses_context(primary, until) -> dict:
    """S1's fact shown read-only (issue 16): the courses recorded from primary registration to `until`, or why
    they cannot be read (no app records courses): never a zero standing in for an unknown."""
    if primary is None:
        return {"courses_given": None, "courses_unavailable": None}
    try:
        given = services.courses_given(primary, until)
    except CoursesUnavailable as exc:
        return {"courses_given": None, "courses_unavailable": exc.message}
    return {"courses_given": given, "courses_unavailable": None,
            "courses_completed": given.completed(primary.plan.planned_courses)}


def _status_context(patient, today):
    timeline = selectors.timeline_of(patient)
    status = windows.patient_status(timeline, today)
    deadline = windows.next_deadline(timeline, today)
    return timeline, status, deadline


# --- worklist (the home page of site users) -------------------------------------------------------


def _deadline_text(deadline):
    if deadline is None:
        return ""
    return gettext(deadline.kind.label) % {"deadline": deadline.date.isoformat()}


def progression_off_study_url(pk: int) -> str:
    """The off-study form with the reason "progression" preselected (the progression prompt's link)."""
    return f"{reverse('registration:off_study', kwargs={'pk': pk})}?reason={OffStudy.Reason.PROGRESSION}"


# Each next step (registration.next_step): its label, its page and the action the user needs to take it.
NEXT_STEP_LABELS = {
    NextStep.START_SCREENING: _("Start screening"),
    NextStep.CONTINUE_SCREENING: _("Continue screening"),
    NextStep.REVIEW_SCREENING: _("Correct the screening or re-screen"),
    NextStep.REGISTER_PRIMARY: _("Register (primary)"),
    NextStep.RECORD_EVALUATION: _("Record response evaluation"),
    NextStep.REGISTER_SECONDARY: _("Register (secondary) and randomize"),
    NextStep.OFF_STUDY_PROGRESSION: _("Record off study (progression)"),
    NextStep.OFF_STUDY: _("Record off study"),
    NextStep.FOLLOW_UP: _("Record treatment and follow-up"),
}
NEXT_STEP_ACTIONS = {
    NextStep.REGISTER_PRIMARY: Action.SIGN,
    NextStep.REGISTER_SECONDARY: Action.SIGN,
}  # every other step: EDIT


def _next_step_url(step: NextStep, patient_pk: int, latest_screening_pk: int | None) -> str:
    kwargs = {"pk": patient_pk}
    if step == NextStep.START_SCREENING:
        return reverse("screening:screening_create", kwargs=kwargs)
    if step == NextStep.CONTINUE_SCREENING:
        return reverse("screening:screening_edit", kwargs={"pk": latest_screening_pk})
    if step == NextStep.REVIEW_SCREENING:
        return reverse("screening:patient_detail", kwargs=kwargs)
    if step == NextStep.OFF_STUDY_PROGRESSION:
        return progression_off_study_url(patient_pk)
    names = {NextStep.REGISTER_PRIMARY: "registration:primary", NextStep.RECORD_EVALUATION: "registration:evaluation",
             NextStep.REGISTER_SECONDARY: "registration:secondary", NextStep.OFF_STUDY: "registration:off_study",
             NextStep.FOLLOW_UP: "followup:patient"}
    return reverse(names[step], kwargs=kwargs)


def next_step_link(step: NextStep | None, *, patient_pk, site_id, latest_screening_pk, may):
    """{"label", "url", "may"} of the patient's next step, or None; `may(action, site_id)` says whether the
    user may take it (a reader sees the step named, without the button)."""
    if step is None:
        return None
    return {"step": step, "label": NEXT_STEP_LABELS[step],
            "url": _next_step_url(step, patient_pk, latest_screening_pk),
            "may": may(NEXT_STEP_ACTIONS.get(step, Action.EDIT), site_id)}


def _action(row, user_sites_edit, user_sites_sign):
    """The worklist row's button: the patient's next step (the patient page's), or "Open patient" for a
    user who may not take it."""
    patient = row.patient

    def may(action, site):
        sites = user_sites_sign if action == Action.SIGN else user_sites_edit
        return sites is None or site in sites

    step = next_step(row.stage, row.status, screened=True, evaluated=row.has_evaluation)
    link = next_step_link(step, patient_pk=patient.pk, site_id=patient.site_id, latest_screening_pk=None, may=may)
    if link is not None and link["may"]:
        return link["label"], link["url"]
    return _("Open patient"), reverse("registration:patient", kwargs={"pk": patient.pk})


DUE_WITHIN_MAX_DAYS = 366


class WorklistFilterForm(forms.Form):
    """The worklist's filters; a value that cannot be read is ignored with its error shown (never a 500)."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    site = forms.TypedChoiceField(label=_("Site"), required=False, coerce=int, empty_value=None)
    due = forms.IntegerField(label=_("Due within (days)"), required=False, min_value=0,
                             max_value=DUE_WITHIN_MAX_DAYS)

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All statuses"))] + [(s.value, s.label) for s in STATUS_ORDER]
        self.fields["site"].choices = [("", _("All my sites"))] + [(s.pk, s.code) for s in sites]
        self.fields["status"].widget.attrs["class"] = self.fields["site"].widget.attrs["class"] = \
            "form-select form-select-sm"
        self.fields["due"].widget.attrs.update({"class": "form-control form-control-sm", "size": 4})

    def value(self, name):
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get(name)


def render_worklist(request, sections=()):
    """The coordinator's worklist: patients needing action at the user's sites, nearest deadline first.
    `sections`: more lists from the apps above (e.g. follow-up assessments due), each a dict with the
    "template" that draws it; the roof (oversight/dashboards.py) passes them in."""
    today = timezone.localdate()
    edit_sites = access.site_ids_for(request.user, Action.EDIT)
    sign_sites = access.site_ids_for(request.user, Action.SIGN)
    filters = WorklistFilterForm(request.GET or None, sites=access.sites_for(request.user))
    # Every patient of the sites is sorted (nearest deadline first) and counted by status on keys the database
    # computes (registration.window_expressions); only the page's rows get their timeline in Python: a busy site
    # has thousands of patients between the registrations (docs/performance.md, "Issue 21, second round").
    keys = selectors.worklist_keys(request.user, today)
    counts = Counter(key.status for key in keys)
    keys = selectors.filter_keys(keys, today, status=filters.value("status"), site=filters.value("site"),
                                 due=filters.value("due"))
    rows = Paginator(keys, WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    rows.object_list = selectors.worklist_rows_of([key.pk for key in rows.object_list], today)
    for row in rows:
        row.action_label, row.action_url = _action(row, edit_sites, sign_sites)
        row.deadline_text = _deadline_text(row.deadline)
        row.status_label = gettext(row.status.label)
        row.overdue_days = -row.days_left if row.days_left is not None and row.days_left < 0 else 0
    memberships = (Membership.objects.filter(user=request.user, active=True)
                   .select_related("site").order_by("site__code"))
    randomized, randomized_more = selectors.recently_randomized(request.user, today)
    return render(request, "registration/worklist.html", {
        "randomized": randomized,
        "randomized_more": randomized_more,
        "randomized_days": selectors.RECENTLY_RANDOMIZED_DAYS,
        "rows": rows,
        "page": rows,
        "filters": filters,
        "query": urlencode({k: v for k, v in request.GET.items() if k in filters.fields}),
        "today": today,
        "memberships": memberships,
        "status_counts": [(status, gettext(status.label), counts[status]) for status in STATUS_ORDER
                          if counts[status]],
        "sections": sections,
    })


# --- patient page ---------------------------------------------------------------------------------


@login_required
def patient(request, pk):
    # The allocation joined too (issue 15: the arm is the first thing a site looks for after randomization);
    # only its arm and time are shown, never the allocation internals (DESIGN.md "Blinding of results").
    queryset = selectors.patients_with_records(Patient.objects.all()).select_related(
        "primary_registration__signature__user", "secondary_registration__signature__user", "allocation")
    patient = _patient(request, pk, Action.VIEW, queryset=queryset)
    today = timezone.localdate()
    timeline, status, deadline = _status_context(patient, today)
    primary = related(patient, "primary_registration")
    recorded_evaluation = related(patient, "response_evaluation")
    evaluation = selectors.current_evaluation(patient)  # a voided one counts for nothing (issue 15)
    secondary = related(patient, "secondary_registration")
    can_edit = access.can(request.user, Action.EDIT, patient.site_id)
    can_sign = access.can(request.user, Action.SIGN, patient.site_id)
    window = timeline.window
    screenings = list(patient.screenings.all())
    step = next_step(patient.stage, status, screened=bool(screenings), evaluated=evaluation is not None)
    next_link = next_step_link(step, patient_pk=patient.pk, site_id=patient.site_id,
                               latest_screening_pk=screenings[-1].pk if screenings else None,
                               may=lambda action, site: access.can(request.user, action, site))
    # S1's courses by the evaluation date, derived from the recorded courses (issue 16)
    courses = _courses_context(primary, evaluation.date) if evaluation is not None else {}
    return render(request, "registration/patient.html", {
        "evaluation_courses": courses.get("courses_given"),
        "evaluation_courses_unavailable": courses.get("courses_unavailable"),
        "patient": patient,
        "screenings": screenings,
        "allocation": related(patient, "allocation"),
        "next_step": next_link,
        "primary": primary,
        "evaluation": evaluation,
        "voided_evaluation": recorded_evaluation if recorded_evaluation is not None and evaluation is None else None,
        "can_void_evaluation": evaluation is not None and secondary is None and access.is_data_manager(request.user),
        "secondary": secondary,
        "off_study": related(patient, "off_study"),
        "status": status,
        "status_label": gettext(status.label),
        "deadline": deadline,
        "deadline_text": _deadline_text(deadline),
        "days_left": windows.days_remaining(deadline.date, today) if deadline else None,
        "window": window if window and not window.is_empty else None,
        "window_empty": bool(window and window.is_empty),
        "day_today": windows.day_number(primary.registration_date, today) if primary else None,
        "evaluation_due": timeline.evaluation_due_date,
        "picture": timeline_picture(timeline, today, translate=gettext),
        "notices": list(patient.notices.order_by("-due_date", "kind", "audience")),
        "today": today,
        # The stage machine says which step is open (screening.stages); the role says who may take it.
        "can_register_primary": can_sign and stages.allowed(patient.stage, Step.REGISTER_PRIMARY),
        "can_evaluate": can_edit and stages.allowed(patient.stage, Step.RECORD_EVALUATION),
        "can_register_secondary": (can_sign and stages.allowed(patient.stage, Step.REGISTER_SECONDARY)
                                   and evaluation is not None),
        "can_take_off_study": can_edit and stages.allowed(patient.stage, Step.TAKE_OFF_STUDY),
        "progression_off_study_url": progression_off_study_url(patient.pk),
    })


# --- primary registration -------------------------------------------------------------------------


@login_required
def primary(request, pk):
    patient = _patient(request, pk, Action.SIGN)
    today = timezone.localdate()
    screening = selectors.latest_screening(patient)
    registration = PrimaryRegistration.objects.filter(patient=patient).first()
    verdict = None
    plans = []
    if screening is not None and registration is None:
        verdict = services.primary_checklist(screening, today)
        plans = services.plans_in_force(verdict.subtype, today) if verdict.subtype else []
    form = SignatureForm(request.POST or None, regimens=plans)
    failures = []
    if request.method == "POST" and form.is_valid():
        if screening is None:
            form.add_error(None, _("This patient has no screening."))
        else:
            try:
                registration = services.register_primary(
                    screening=screening, user=request.user, password=form.cleaned_data["password"], request=request,
                    regimen=form.cleaned_data.get("regimen"))
            except DomainError as exc:
                failures = _refusal(form, exc)
            else:
                messages.success(request, _("Primary registration %(number)s signed.")
                                 % {"number": registration.number})
                return redirect("registration:certificate", pk=patient.pk)
    return render(request, "registration/primary.html", {
        "patient": patient,
        "screening": screening,
        "registration": registration,
        "verdict": verdict,
        "subtype_label": gettext(rules.SUBTYPE_LABELS[verdict.subtype]) if verdict and verdict.subtype else None,
        "checklist": _checklist(verdict),
        "plans": plans,
        "today": today,
        "form": form,
        "failures": failures,
        "meaning": signatures.meaning_text(services.PRIMARY_MEANING), "lab_days": windows.LAB_VALIDITY_DAYS,
        "can_register": registration is None and stages.allowed(patient.stage, Step.REGISTER_PRIMARY),
    })


@login_required
def certificate(request, pk):
    patient = _patient(request, pk, Action.VIEW)
    registration = (PrimaryRegistration.objects.select_related("plan", "signature", "screening")
                    .filter(patient=patient).first())
    if registration is None:
        raise Http404
    return render(request, "registration/certificate.html", {
        "patient": patient, "registration": registration,
        "criteria": verdicts.rows(registration.verdict, with_details=False)})


@login_required
def randomization_certificate(request, pk):
    """The randomization's printable certificate, like the primary registration's: the allocated arm with
    the secondary registration that randomized the patient and its signature. Only what the site may see:
    the arm, the time (Japan), the allocation number, the method and the factor levels (the patient's own
    facts). The allocation internals (preferred arm, random draw, counts, stratum, list slot) are the
    statistician's (DESIGN.md "Blinding of results") and are not passed to the template at all."""
    patient = _patient(request, pk, Action.VIEW)
    allocation = (Allocation.objects.only("patient_id", "arm", "sequence", "method", "factors", "allocated_at")
                  .filter(patient=patient).first())
    secondary = (SecondaryRegistration.objects.select_related("signature__user", "primary__plan")
                 .filter(patient=patient).first())
    if allocation is None or secondary is None:
        raise Http404
    return render(request, "registration/randomization_certificate.html", {
        "patient": patient, "secondary": secondary, "primary": secondary.primary,
        "arm": allocation.arm, "arm_label": allocation.get_arm_display(),
        "allocated_at": allocation.allocated_at, "sequence": allocation.sequence,
        "method": allocation.get_method_display(), "factor_rows": factor_rows(allocation)})


# --- response evaluation --------------------------------------------------------------------------


@login_required
def evaluation(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    primary = PrimaryRegistration.objects.select_related("plan").filter(patient=patient).first()
    recorded = ResponseEvaluation.objects.select_related("labs").filter(patient=patient).first()
    existing = recorded if recorded is not None and not recorded.voided else None
    data = request.POST or None
    form = ResponseEvaluationForm(data, instance=existing, require_reason=existing is not None)
    lab_form = LabPanelForm(data, instance=existing.labs if existing else None)
    warnings = []
    if request.method == "POST" and form.is_valid() & lab_form.is_valid():
        try:
            services.record_evaluation(patient=patient, data=form.cleaned_data, labs=lab_form.cleaned_data,
                                       user=request.user, reason=form.cleaned_data.get("reason"),
                                       confirmed=form.cleaned_data.get("confirm", False))
        except NeedsConfirmation as exc:
            # Not a refusal (issue 15): the warnings and an "I confirm" box; the same entry re-submitted with the
            # box ticked is saved, a corrected one is checked again.
            warnings = exc.warnings
            form = ResponseEvaluationForm(data, instance=existing, require_reason=existing is not None,
                                          ask_confirmation=True)
            form.is_valid()
            lab_form.is_valid()
        except DomainError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, _("Response evaluation saved."))
            return redirect("registration:patient", pk=patient.pk)
    due = None
    if primary is not None:
        due = windows.evaluation_due(primary.registration_date, primary.plan.planned_courses,
                                     primary.plan.cycle_length_days)
    return render(request, "registration/evaluation.html", {
        **_courses_context(primary, timezone.localdate()),
        "patient": patient, "primary": primary, "existing": existing, "form": form, "lab_form": lab_form,
        "evaluation_due": due, "lab_days": windows.LAB_VALIDITY_DAYS, "warnings": warnings,
        "voided": recorded if recorded is not None and recorded.voided else None,
        "secondary_rests": SecondaryRegistration.objects.filter(patient=patient).exists(),
        "earliest_day": windows.EARLIEST_USEFUL_EVALUATION_DAY,
        "earliest_date": (primary.registration_date + timedelta(days=windows.EARLIEST_USEFUL_EVALUATION_DAY)
                          if primary is not None else None),
        "allowed": stages.allowed(patient.stage, Step.RECORD_EVALUATION),
    })


@login_required
def evaluation_void(request, pk):
    """A data manager voids a mistaken evaluation with a reason (issue 15); site staff and monitors: 403."""
    patient = _patient(request, pk, Action.VIEW)
    if not access.is_data_manager(request.user):
        raise PermissionDenied
    evaluation = ResponseEvaluation.objects.select_related("labs").filter(patient=patient, voided=False).first()
    form = VoidEvaluationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.void_evaluation(patient=patient, user=request.user, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, _("The response evaluation was voided; the site may record it again."))
            return redirect("registration:patient", pk=patient.pk)
    return render(request, "registration/evaluation_void.html", {
        "patient": patient, "evaluation": evaluation, "form": form,
        "secondary_rests": SecondaryRegistration.objects.filter(patient=patient).exists(),
    })


# --- secondary registration -----------------------------------------------------------------------


def _existing_allocation(patient):
    return (Allocation.objects.filter(patient=patient).select_related("signature")
            .only("pk", "signed_name", "allocated_at", "signature__printed_name").first())


@login_required
def secondary(request, pk):
    patient = _patient(request, pk, Action.SIGN)
    today = timezone.localdate()
    form = SignatureForm(request.POST or None)
    failures = []
    if request.method == "POST" and form.is_valid():
        try:
            services.register_secondary(patient=patient, user=request.user, password=form.cleaned_data["password"],
                                        request=request)
        except AlreadyRegistered as exc:
            allocation = _existing_allocation(patient) if exc.code == "already_registered" else None
            if allocation is None:
                failures = _refusal(form, exc)
            else:
                # A double submit whose first request committed (and perhaps lost its worker before answering):
                # the user's wish is done, so show its result rather than a refusal (issue 13).
                messages.info(request, _(
                    "%(patient)s was already secondary registered and randomized (%(time)s, signed by %(name)s): "
                    "this is the result. Your repeated submission changed nothing.") % {
                    "patient": patient.screening_number,
                    "name": allocation.signature.printed_name if allocation.signature_id else allocation.signed_name,
                    "time": timezone.localtime(allocation.allocated_at).strftime("%Y-%m-%d %H:%M")})
                return redirect("randomization:result", patient_id=patient.pk)
        except DomainError as exc:
            failures = _refusal(form, exc)
        else:
            messages.success(request, _("Secondary registration signed and the patient randomized."))
            return redirect("randomization:result", patient_id=patient.pk)
    primary = PrimaryRegistration.objects.select_related("plan").filter(patient=patient).first()
    evaluation = ResponseEvaluation.objects.select_related("labs").filter(patient=patient, voided=False).first()
    verdict = window = None
    can_register = stages.allowed(patient.stage, Step.REGISTER_SECONDARY)
    courses = _courses_context(primary, today)
    if primary is not None and can_register:
        if courses["courses_given"] is not None:
            verdict = services.secondary_checklist(primary, evaluation, today, courses["courses_given"])
        window = windows.secondary_window(primary.registration_date, evaluation.date if evaluation else None)
    return render(request, "registration/secondary.html", {
        **courses,
        "patient": patient, "primary": primary, "evaluation": evaluation, "form": form, "failures": failures,
        "verdict": verdict, "checklist": _checklist(verdict), "window": window, "today": today,
        "day_today": windows.day_number(primary.registration_date, today) if primary else None,
        "day_84": windows.window_open(primary.registration_date) if primary else None,
        "day_126": windows.last_window_day(primary.registration_date) if primary else None,
        "days_left": windows.days_remaining(window.close, today) if window else None,
        "evaluation_close": windows.evaluation_close(evaluation.date) if evaluation else None,
        "window_days": {"open": windows.WINDOW_OPEN_DAY, "close": windows.WINDOW_CLOSE_DAY,
                        "after_evaluation": windows.EVALUATION_TO_SECONDARY_DAYS},
        "meaning": signatures.meaning_text(services.SECONDARY_MEANING),
        "can_register": can_register and evaluation is not None,
    })


# --- off study ------------------------------------------------------------------------------------


@login_required
def off_study(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    existing = related(patient, "off_study")
    initial = {"date": timezone.localdate()}
    if request.GET.get("reason") in OffStudy.Reason.values:
        initial["reason"] = request.GET["reason"]  # preselected by the progression prompt; still a choice
    form = OffStudyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.take_off_study(patient=patient, user=request.user, **form.cleaned_data)
        except DomainError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, _("Off study recorded."))
            return redirect("registration:patient", pk=patient.pk)
    return render(request, "registration/off_study.html", {
        "patient": patient, "form": form, "existing": existing,
        "allowed": stages.allowed(patient.stage, Step.TAKE_OFF_STUDY),
    })


# --- reminders: the iCalendar feed ----------------------------------------------------------------


NEW_FEED_SESSION_KEY = "calendar_new_feed_token"


@login_required
def calendar_page(request):
    """Create, replace or revoke one's own feed URL: users with a site role (the feed is site-scoped)."""
    if not access.has_any_site_role(request.user):
        raise PermissionDenied
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            ical.revoke_tokens(user=request.user)
            messages.success(request, _("Your calendar feed URL is revoked: calendars subscribed to it get nothing."))
        else:
            # Only the token's hash is stored: the new URL is shown once, on the page this redirect leads to
            # (kept in the session until then; the page answers no-store, like every signed-in page).
            request.session[NEW_FEED_SESSION_KEY] = ical.issue_token(user=request.user).token
            messages.success(request, _("New calendar feed URL created; any earlier URL no longer works."))
        return redirect("calendar")
    token = ical.active_token(request.user)
    new_token = request.session.pop(NEW_FEED_SESSION_KEY, None)
    return render(request, "registration/calendar.html", {
        "token": token, "feed_url": ical.feed_url(new_token) if token and new_token else None})


def calendar_feed(request, token):
    """The feed itself, without login: the secret token is the credential; unknown or revoked: 404."""
    user = ical.user_for_token(token)
    if user is None:
        raise Http404
    body = ical.feed(user, today=timezone.localdate(), now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
