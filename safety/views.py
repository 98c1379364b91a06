"""Safety pages: a patient's adverse events, the event with its reports, the forms, the SAE log and the
frequency table. Thin views over safety/services.py; every object through oligami_site.access.

Another site's patient (or its event) answers 404; a user of the site without the action gets 403:
EDIT records and corrects events, SIGN_REPORT (the site investigator) signs reports; acknowledging a
report is the data managers' (the study office's, for now).
"""

from urllib.parse import urlencode

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from followup.models import Death
from oligami_site import access, csvfiles
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from registration.models import PrimaryRegistration
from screening.models import Patient

from . import deadlines, forms, reportability, selectors, services
from .models import AdverseEvent, ExpeditedReport, ReportKind

LOG_PAGE_SIZE = 50
WORKLIST_SHOWN = 20


def _patient(request, pk, action=Action.VIEW):
    queryset = Patient.objects.select_related("site", "primary_registration")
    patient = access.get_scoped_or_404(queryset, request.user, Action.VIEW, site_field="site", pk=pk)
    if action != Action.VIEW and not access.can(request.user, action, patient.site_id):
        raise PermissionDenied
    return patient


def _event(request, patient, event_id):
    try:
        return (AdverseEvent.objects.select_related("death", "recorded_by")
                .get(pk=event_id, patient=patient))
    except AdverseEvent.DoesNotExist:
        raise Http404 from None


def _rule_label(rule: str) -> str:
    return gettext(reportability.RULE_LABELS[reportability.Rule(rule)]) if rule else ""


def _refusal(form, exc: DomainError, patient):
    form.add_error(None, exc.message)
    # Grade 5 / fatal: the form sends the user to record the death in follow-up (SAFETY.md: a Grade 5 AE is
    # a death). The link is shown beside the refusal.
    return reverse("followup:death", kwargs={"pk": patient.pk}) if exc.code == "grade_5" else None


# --- per patient -------------------------------------------------------------------------------------


@login_required
def patient_events(request, pk):
    patient = _patient(request, pk)
    now = timezone.now()
    events = list(deadlines.with_report_flags(AdverseEvent.objects.filter(patient=patient))
                  .select_related("death").order_by("-id"))
    death = Death.objects.filter(patient=patient).first()
    return render(request, "safety/patient.html", {
        "patient": patient,
        "events": events,
        "deadlines": deadlines.open_deadlines(AdverseEvent.objects.filter(patient=patient), now),
        "death_to_assess": death if death and not any(e.death_id == death.pk for e in events) else None,
        "can_edit": access.can(request.user, Action.EDIT, patient.site_id),
        "registered": PrimaryRegistration.objects.filter(patient=patient).exists(),
        "settings": services.current_settings(),
    })


@login_required
def event_create(request, pk):
    patient = _patient(request, pk, Action.EDIT)
    form = forms.AdverseEventForm(request.POST or None,
                                  initial={"awareness": timezone.localtime().replace(second=0, microsecond=0)})
    death_url = None
    if request.method == "POST" and form.is_valid():
        try:
            event = services.record_event(patient=patient, data=form.cleaned_data, user=request.user)
        except DomainError as exc:
            death_url = _refusal(form, exc, patient)
        else:
            messages.success(request, _("Adverse event recorded."))
            return redirect("safety:event", pk=patient.pk, event_id=event.pk)
    return render(request, "safety/form.html", {
        "patient": patient, "form": form, "title": _("New adverse event"), "death_url": death_url,
        "settings": services.current_settings()})


@login_required
def event_edit(request, pk, event_id):
    patient = _patient(request, pk, Action.EDIT)
    event = _event(request, patient, event_id)
    if event.death_id:
        raise Http404  # a death's assessment is not edited here (its date is follow-up's)
    form = forms.AdverseEventForm(request.POST or None, event=event)
    death_url = None
    if request.method == "POST" and form.is_valid():
        try:
            services.update_event(event=event, data=form.cleaned_data, user=request.user,
                                  reason=form.cleaned_data["change_reason"])
        except DomainError as exc:
            death_url = _refusal(form, exc, patient)
        else:
            messages.success(request, _("Adverse event updated."))
            return redirect("safety:event", pk=patient.pk, event_id=event.pk)
    return render(request, "safety/form.html", {
        "patient": patient, "form": form, "title": _("Change adverse event"), "event": event,
        "death_url": death_url, "settings": services.current_settings()})


@login_required
def death_assessment(request, pk):
    """The safety assessment a death recorded in follow-up asks for (R1: causality; the site's awareness)."""
    patient = _patient(request, pk, Action.EDIT)
    death = Death.objects.filter(patient=patient).first()
    if death is None:
        raise Http404
    existing = AdverseEvent.objects.filter(death=death).first()
    if existing is not None:
        return redirect("safety:event", pk=patient.pk, event_id=existing.pk)
    form = forms.DeathAssessmentForm(request.POST or None,
                                     initial={"awareness": timezone.localtime().replace(second=0, microsecond=0)})
    if request.method == "POST" and form.is_valid():
        try:
            event = services.assess_death(death=death, data=form.cleaned_data, user=request.user)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Safety assessment of the death recorded."))
            return redirect("safety:event", pk=patient.pk, event_id=event.pk)
    return render(request, "safety/form.html", {
        "patient": patient, "form": form, "title": _("Safety assessment of the death"), "death": death,
        "settings": services.current_settings()})


@login_required
def event(request, pk, event_id):
    patient = _patient(request, pk)
    event = _event(request, patient, event_id)
    reports = list(ExpeditedReport.objects.filter(adverse_event=event)
                   .select_related("signature__user", "acknowledged_by").order_by("number"))
    signed = {r.kind for r in reports}
    kinds = [k for k in ReportKind.values if k == ReportKind.FOLLOWUP or k not in signed]
    if ReportKind.FIRST not in signed:
        kinds = [ReportKind.FIRST] if event.reportable else []
    may_sign = services.may_sign(request.user, patient.site_id)
    return render(request, "safety/event.html", {
        "patient": patient, "event": event, "reports": reports,
        "rule_label": _rule_label(event.rule),
        "deadlines": deadlines.deadline_of(event, timezone.now()),
        "can_edit": access.can(request.user, Action.EDIT, patient.site_id) and not event.death_id,
        "report_form": forms.ReportForm(kinds=kinds) if may_sign and kinds else None,
        "is_data_manager": access.is_data_manager(request.user),
        "ack_form": forms.AcknowledgeForm(),
    })


@login_required
def report_sign(request, pk, event_id):
    patient = _patient(request, pk, Action.SIGN_REPORT)
    event = _event(request, patient, event_id)
    if request.method != "POST":
        return redirect("safety:event", pk=patient.pk, event_id=event.pk)
    form = forms.ReportForm(request.POST)
    if form.is_valid():
        try:
            report = services.sign_report(event=event, kind=form.cleaned_data["kind"],
                                          narrative=form.cleaned_data["narrative"], user=request.user,
                                          password=form.cleaned_data["password"], request=request)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(report)s signed.") % {"report": report.get_kind_display()})
    else:
        messages.error(request, _("The report was not signed: give the report, the narrative and your password."))
    return redirect("safety:event", pk=patient.pk, event_id=event.pk)


@login_required
def report_acknowledge(request, pk, event_id, report_id):
    if not access.is_data_manager(request.user):
        raise PermissionDenied
    patient = _patient(request, pk)
    event = _event(request, patient, event_id)
    report = ExpeditedReport.objects.filter(pk=report_id, adverse_event=event).first()
    if report is None:
        raise Http404
    if request.method != "POST":
        return redirect("safety:event", pk=patient.pk, event_id=event.pk)
    form = forms.AcknowledgeForm(request.POST)
    if form.is_valid():
        try:
            services.acknowledge_report(report=report, comment=form.cleaned_data["comment"], user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Report acknowledged."))
    else:
        messages.error(request, _("Give a comment to acknowledge the report."))
    return redirect("safety:event", pk=patient.pk, event_id=event.pk)


# --- the worklist's section (oversight/dashboards.py composes it) ------------------------------------------


def deadlines_section(request) -> dict:
    """Report deadlines at the user's sites: overdue and due within 24 hours first, then the open ones;
    and deaths recorded in follow-up that still wait for their safety assessment."""
    now = timezone.now()
    scoped = access.scope(AdverseEvent.objects.all(), request.user, site_field="patient__site")
    rows = deadlines.open_deadlines(scoped, now)
    rows.sort(key=lambda d: (not d.urgent, d.due))
    waiting = selectors.deaths_to_assess(access.scope(Death.objects.all(), request.user, site_field="patient__site"))
    return {"template": "safety/_deadlines.html", "top": True, "rows": rows[:WORKLIST_SHOWN], "total": len(rows),
            "urgent": sum(1 for d in rows if d.urgent), "deaths": waiting}


# --- the SAE log --------------------------------------------------------------------------------------


class LogFilterForm(django_forms.Form):
    site = django_forms.TypedChoiceField(label=_("Site"), required=False, coerce=int, empty_value=None)
    state = django_forms.ChoiceField(label=_("Reports"), required=False, choices=[
        ("", _("All")), ("overdue", _("Overdue")), ("open", _("Report due")),
        ("unacknowledged", _("Not acknowledged"))])
    grade = django_forms.TypedChoiceField(label=_("Grade"), required=False, coerce=int, empty_value=None,
                                          choices=[("", _("All"))] + [(g, g) for g in (1, 2, 3, 4, 5)])
    serious = django_forms.BooleanField(label=_("Reportable only"), required=False)

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", _("All sites"))] + [(s.pk, s.code) for s in sites]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-check-input" if isinstance(
                field, django_forms.BooleanField) else "form-select form-select-sm"

    def values(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}


def _log_access(request):
    if access.site_ids_for(request.user, Action.VIEW) == set():
        raise PermissionDenied


@login_required
def sae_log(request):
    """Every adverse event of the user's sites (the data centre: all sites), filterable; nearest deadline and
    report state per event, in a constant number of queries per page."""
    _log_access(request)
    filters = LogFilterForm(request.GET or None, sites=access.sites_for(request.user))
    rows = selectors.log_queryset(request.user, filters.values(), timezone.now())
    page = Paginator(rows, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for event in page:
        event.next_deadline = selectors.next_deadline(event, now)
    return render(request, "safety/log.html", {
        "page": page, "filters": filters,
        "query": urlencode({k: v for k, v in request.GET.items() if k in filters.fields}),
        "total": page.paginator.count,
    })


@login_required
def sae_log_csv(request):
    _log_access(request)
    filters = LogFilterForm(request.GET or None, sites=access.sites_for(request.user))
    header, lines = selectors.log_csv(request.user, filters.values(), timezone.now())
    return csvfiles.response(csvfiles.lines(header, lines), filename="sae_log.csv",
                             excel=csvfiles.wants_excel(request))


@login_required
def frequency(request):
    """AE frequency by grade: pooled for everyone with a role; by arm for the statistician only (DESIGN.md
    "Blinding of results": comparative figures are the statistician's until the DSMC releases them)."""
    statistician = access.is_statistician(request.user)
    if not (statistician or access.is_data_manager(request.user) or access.has_any_site_role(request.user)):
        raise PermissionDenied
    return render(request, "safety/frequency.html", {
        "table": selectors.frequency_by_grade(by_arm=statistician), "by_arm": statistician})
