"""Protocol-deviation pages: thin views over oversight/deviations.py, scoped like every site record."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from oligami_site import access
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from oligami_site.widgets import IsoDateInput
from screening.models import Patient

from . import deviations
from .models import Deviation

PAGE_SIZE = 50


class DeviationForm(forms.ModelForm):
    class Meta:
        model = Deviation
        fields = deviations.EDITABLE
        widgets = {"date": IsoDateInput(),
                   "description": forms.Textarea(attrs={"rows": 3}),
                   "corrective_action": forms.Textarea(attrs={"rows": 2}),
                   "preventive_action": forms.Textarea(attrs={"rows": 2})}


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason for change"), max_length=100, required=False)


def _reader(user):
    if not (access.is_data_manager(user) or access.has_any_site_role(user)):
        raise PermissionDenied


@login_required
def deviation_list(request):
    _reader(request.user)
    scoped = access.scope(Deviation.objects.select_related("site", "patient"), request.user, Action.VIEW)
    page = Paginator(scoped.order_by("-date", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    site_ids = access.site_ids_for(request.user, Action.EDIT)
    can_record = access.is_data_manager(request.user) or bool(site_ids)
    found = deviations.cached_suggestions(site_ids=None if access.is_data_manager(request.user) else site_ids) \
        if can_record else []
    return render(request, "oversight/deviations/list.html", {
        "page": page, "suggestions": found[:PAGE_SIZE], "suggestion_count": len(found),
        "titles": deviations.SUGGESTION_TITLES, "can_record": can_record})


@login_required
def deviation_new(request):
    _reader(request.user)
    patient = None
    source = request.POST if request.method == "POST" else request.GET
    if source.get("patient"):
        try:
            patient = access.get_scoped_or_404(Patient.objects.select_related("site"), request.user,
                                               pk=int(source["patient"]))
        except (TypeError, ValueError):
            raise Http404 from None
    sites = access.sites_for(request.user, Action.EDIT) if not access.is_data_manager(request.user) else \
        access.sites_for(request.user)
    if patient is None and not sites.exists():
        raise PermissionDenied
    if patient is not None and not deviations.may_record(request.user, patient.site_id):
        raise PermissionDenied
    rule = source.get("rule", "") if source.get("rule", "") in deviations.SUGGESTION_TITLES else ""
    finding = (source.get("finding") or "")[:120] if rule else ""
    form = DeviationForm(request.POST or None, initial={"category": source.get("category")})
    site_field = forms.ModelChoiceField(queryset=sites.order_by("code"), label=_("Site"))
    site_form = forms.Form(request.POST or None)
    site_form.fields["site"] = site_field
    if request.method == "POST" and form.is_valid() and (patient is not None or site_form.is_valid()):
        try:
            deviation = deviations.record_deviation(
                user=request.user, values=form.cleaned_data, patient=patient, rule=rule, finding=finding,
                site_id=patient.site_id if patient else site_form.cleaned_data["site"].pk)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("deviations:detail", pk=deviation.pk)
    return render(request, "oversight/deviations/form.html", {
        "form": form, "site_form": site_form if patient is None else None, "patient": patient, "rule": rule,
        "finding": finding, "title": deviations.SUGGESTION_TITLES.get(rule)})


def _deviation(request, pk):
    try:
        return access.scope(Deviation.objects.select_related("site", "patient", "recorded_by"), request.user,
                            Action.VIEW).get(pk=pk)
    except Deviation.DoesNotExist:
        raise Http404 from None


@login_required
def deviation_detail(request, pk):
    _reader(request.user)
    deviation = _deviation(request, pk)
    can_edit = deviations.may_record(request.user, deviation.site_id) and deviation.status == Deviation.Status.OPEN
    form = DeviationForm(request.POST or None, instance=deviation) if can_edit else None
    reason_form = ReasonForm(request.POST or None)
    if request.method == "POST":
        if not deviations.may_record(request.user, deviation.site_id):
            raise PermissionDenied  # a monitor reads only
        action = request.POST.get("action")
        try:
            if action == "close":
                deviations.close_deviation(user=request.user, deviation=deviation,
                                           reason=request.POST.get("reason", ""))
                return redirect("deviations:detail", pk=pk)
            if action == "save" and form is not None and form.is_valid() and reason_form.is_valid():
                deviations.update_deviation(user=request.user, deviation=deviation, values=form.cleaned_data,
                                            reason=reason_form.cleaned_data["reason"])
                messages.success(request, _("Saved."))
                return redirect("deviations:detail", pk=pk)
        except DomainError as exc:
            if form is not None:
                form.add_error(None, exc.message)
            else:
                messages.error(request, exc.message)
        deviation.refresh_from_db()
    return render(request, "oversight/deviations/detail.html", {
        "deviation": deviation, "form": form, "reason_form": reason_form,
        "can_close": access.is_data_manager(request.user) and deviation.status == Deviation.Status.OPEN,
        "history": list(deviation.history.select_related("history_user").order_by("-history_date")[:50])})
