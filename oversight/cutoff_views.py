"""Cut-off and lock pages: data managers only (403 for everyone else), thin over oversight/cutoffs.py."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from oligami_site import access, signatures
from oligami_site.exceptions import DomainError
from oligami_site.widgets import IsoDateInput

from . import cutoffs
from .models import Cutoff


class DeclareForm(forms.Form):
    date = forms.DateField(label=_("Cut-off date"), widget=IsoDateInput())
    purpose = forms.CharField(label=_("Purpose"), max_length=200)


class LockForm(forms.Form):
    password = forms.CharField(label=_("Your password (electronic signature)"), widget=forms.PasswordInput,
                               max_length=128)


class UnlockForm(forms.Form):
    reason = forms.CharField(label=_("Reason for unlocking"), max_length=80)


def _dm(request):
    if not access.is_data_manager(request.user):
        raise PermissionDenied


def _cutoff(pk):
    try:
        return Cutoff.objects.select_related("declared_by", "locked_by", "signature__user").defer("snapshot").get(pk=pk)
    except Cutoff.DoesNotExist:
        raise Http404 from None


@login_required
def cutoff_list(request):
    _dm(request)
    form = DeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cutoff = cutoffs.declare_cutoff(user=request.user, cutoff_date=form.cleaned_data["date"],
                                            purpose=form.cleaned_data["purpose"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("oversight:cutoff", pk=cutoff.pk)
    return render(request, "oversight/cutoffs.html", {
        "form": form, "cutoffs": list(Cutoff.objects.select_related("declared_by", "locked_by").defer("snapshot"))})


@login_required
def cutoff_detail(request, pk):
    _dm(request)
    cutoff = _cutoff(pk)
    lock_form = LockForm(request.POST if request.POST.get("action") == "lock" else None)
    unlock_form = UnlockForm(request.POST if request.POST.get("action") == "unlock" else None)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "lock" and lock_form.is_valid():
                cutoffs.lock_cutoff(user=request.user, cutoff=cutoff, password=lock_form.cleaned_data["password"],
                                    request=request)
                return redirect("oversight:cutoff", pk=pk)
            if request.POST.get("action") == "unlock" and unlock_form.is_valid():
                cutoffs.unlock_cutoff(user=request.user, cutoff=cutoff, reason=unlock_form.cleaned_data["reason"])
                return redirect("oversight:cutoff", pk=pk)
        except DomainError as exc:
            messages.error(request, exc.message)
    full = Cutoff.objects.get(pk=pk) if cutoff.snapshot_sha256 else None
    return render(request, "oversight/cutoff.html", {
        "cutoff": cutoff, "blockers": cutoffs.blockers(cutoff), "lock_form": LockForm(), "unlock_form": UnlockForm(),
        # A lock signed before the core's signature rows kept only the meaning's code (oversight.models.Cutoff).
        "meaning": signatures.meaning_text(cutoff.signature_meaning) if cutoff.signature_meaning else "",
        "verified": cutoffs.verify_snapshot(full) if full else None,
        "history": list(cutoff.history.select_related("history_user").order_by("-history_date")[:50])})


@login_required
def cutoff_snapshot(request, pk):
    _dm(request)
    cutoff = Cutoff.objects.filter(pk=pk).first()
    if cutoff is None or not cutoff.snapshot_sha256:
        raise Http404
    response = HttpResponse(bytes(cutoff.snapshot), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="analysis-{cutoff.date.isoformat()}.csv"'
    response["X-Content-SHA256"] = cutoff.snapshot_sha256
    return response
