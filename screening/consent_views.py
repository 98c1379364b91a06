"""The consent document versions page (the data centre adds versions; everyone with a site role reads) and
a patient's re-consent page (issue 17). Thin views over screening.consents.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from oligami_site import access, auditing, sites
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from oligami_site.site_status import SiteAction

from . import consents, stages
from .forms import DateInput, consent_version_label
from .models import ConsentDocument, Patient


class VersionForm(forms.Form):
    version = forms.CharField(label=_("version"), max_length=consents.VERSION_MAX_LENGTH)
    effective_date = forms.DateField(label=_("effective date"), widget=DateInput,
                                     help_text=_("The day it takes effect; the current version is superseded "
                                                 "that day. A future date announces it."))
    reason = forms.CharField(label=_("Reason for change"), max_length=auditing.REASON_MAX_LENGTH)


class ReconsentForm(forms.Form):
    document = forms.ModelChoiceField(label=_("consent document version"), queryset=ConsentDocument.objects.none(),
                                      empty_label=None)
    date = forms.DateField(label=_("re-consent date"), widget=DateInput)
    reason = forms.CharField(label=_("Comment for the audit trail"), required=False,
                             max_length=auditing.REASON_MAX_LENGTH)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["document"].queryset = ConsentDocument.objects.order_by("-effective_date")
        self.fields["document"].label_from_instance = consent_version_label
        today = timezone.localdate()
        if not self.is_bound:
            self.initial.setdefault("date", today)
            current = consents.version_on(today)
            if current is not None:
                self.initial.setdefault("document", current.pk)


def _manager(user) -> bool:
    return user.is_superuser or access.is_data_manager(user)


def _require_reader(user) -> None:
    if not (_manager(user) or access.has_any_site_role(user)):
        raise PermissionDenied


def _documents_page(request, form=None, status=200):
    manager = _manager(request.user)
    today = timezone.localdate()
    return render(request, "screening/consent_documents.html", {
        "documents": list(reversed(consents.versions())), "in_force": consents.version_on(today),
        "manager": manager, "form": form or (VersionForm() if manager else None), "today": today,
    }, status=status)


@login_required
@require_safe
def documents(request):
    _require_reader(request.user)
    return _documents_page(request)


@login_required
@require_POST
def document_add(request):
    if not _manager(request.user):
        raise PermissionDenied
    form = VersionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            document = consents.add_version(version=data["version"], effective_date=data["effective_date"],
                                            user=request.user, reason=data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("Version %(version)s takes effect on %(date)s.")
                             % {"version": document.version, "date": document.effective_date.isoformat()})
            return redirect("screening:consent_documents")
    return _documents_page(request, form=form)


def _patient(request, pk) -> Patient:
    return access.get_scoped_or_404(Patient.objects.select_related("site"), request.user, Action.VIEW, pk=pk)


def _reconsent_page(request, patient, form=None, status=200):
    can_record = (access.can(request.user, Action.EDIT, patient.site_id)
                  and stages.allowed(patient.stage, stages.Step.RECORD_RECONSENT)
                  and patient.site.allows(SiteAction.FOLLOW_UP))
    screening = patient.screenings.select_related("consent_version").order_by("-number").first()
    history = list(patient.reconsents.select_related("document").order_by("date", "id"))
    current, since = consents.current_consent(patient)
    return render(request, "screening/reconsent.html", {
        "patient": patient, "screening": screening, "reconsents": history, "current": current, "since": since,
        "in_force": consents.version_on(timezone.localdate()),
        "can_record": can_record, "form": form or (ReconsentForm() if can_record else None),
        "refusal": None if can_record or not access.can(request.user, Action.EDIT, patient.site_id)
        else (sites.refusal_message(patient.site, SiteAction.FOLLOW_UP)
              if not patient.site.allows(SiteAction.FOLLOW_UP) else None),
    }, status=status)


@login_required
def reconsent(request, pk):
    patient = _patient(request, pk)
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    if request.method != "POST":
        return _reconsent_page(request, patient)
    if not access.can(request.user, Action.EDIT, patient.site_id):
        raise PermissionDenied
    form = ReconsentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            consents.record_reconsent(patient=patient, document=data["document"], date=data["date"],
                                      user=request.user, reason=data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("The re-consent of %(patient)s on version %(version)s was recorded.")
                             % {"patient": patient.screening_number, "version": data["document"].version})
            return redirect("screening:reconsent", pk=patient.pk)
    return _reconsent_page(request, patient, form=form)
