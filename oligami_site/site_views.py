"""The sites pages: each site's status and approval record; the data centre records approvals and changes
the status here (through oligami_site.sites, a reason each). Thin views.

Site staff and monitors read their own sites (another site is a 404); data managers read every site and
are the only ones who write (403 for others). Statisticians have no site pages (403).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from . import access, site_status, sites
from .exceptions import DomainError
from .models import Site
from .widgets import IsoDateInput

HISTORY_ROWS = 50  # the page shows the latest changes; the admin's History has them all


DateInput = IsoDateInput  # yyyy-mm-dd whatever the browser's locale (widgets.py)


class ApprovalForm(forms.Form):
    ethics_approval_date = forms.DateField(label=_("ethics committee approval date"), required=False,
                                           widget=DateInput)
    approved_protocol_version = forms.CharField(label=_("approved protocol version"), required=False,
                                                max_length=sites.PROTOCOL_VERSION_MAX_LENGTH)
    head_permission_date = forms.DateField(label=_("permission of the head of the institution"), required=False,
                                           widget=DateInput)
    start_date = forms.DateField(label=_("start date"), required=False, widget=DateInput)
    reason = forms.CharField(label=_("Reason for change"), required=False, max_length=sites.REASON_MAX_LENGTH,
                             help_text=_("Required to correct a record already on file."))


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"))
    reason = forms.CharField(label=_("Reason for change"), max_length=sites.REASON_MAX_LENGTH)

    def __init__(self, *args, site: Site, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = site_status.TRANSITIONS[site_status.Status(site.status)]
        self.fields["status"].choices = [(value, label) for value, label in Site.Status.choices if value in allowed]


def _visible_sites(user):
    if access.is_statistician(user) and not access.is_data_manager(user):
        raise PermissionDenied
    return access.sites_for(user)


def _site(request, pk) -> Site:
    return access.get_scoped_or_404(_visible_sites(request.user), request.user, site_field="pk", pk=pk)


def _require_manager(user):
    if not (user.is_superuser or access.is_data_manager(user)):
        raise PermissionDenied


@login_required
@require_safe
def site_list(request):
    site_rows = list(_visible_sites(request.user).order_by("code"))
    if not site_rows and not access.is_data_manager(request.user):
        raise PermissionDenied
    return render(request, "oligami_site/site_list.html", {"sites": site_rows})


def _detail(request, site, approval_form=None, status_form=None, status=200):
    manager = request.user.is_superuser or access.is_data_manager(request.user)
    history = (Site.history.filter(id=site.pk).select_related("history_user").order_by("-history_date",
                                                                                      "-history_id")
               [:HISTORY_ROWS])
    if manager:
        approval_form = approval_form or ApprovalForm(initial={
            "ethics_approval_date": site.ethics_approval_date,
            "approved_protocol_version": site.approved_protocol_version,
            "head_permission_date": site.head_permission_date, "start_date": site.start_date})
        status_form = status_form or StatusForm(site=site)
    allowed = [(sites.ACTION_LABELS[action], site.allows(action)) for action in site_status.SiteAction]
    return render(request, "oligami_site/site_detail.html", {
        "site": site, "history": history, "manager": manager, "approval_form": approval_form,
        "status_form": status_form, "allowed": allowed,
        "missing": [sites.APPROVAL_LABELS[name] for name in site.approval.missing],
    }, status=status)


@login_required
@require_safe
def site_detail(request, pk):
    return _detail(request, _site(request, pk))


@login_required
@require_POST
def site_approval(request, pk):
    site = _site(request, pk)
    _require_manager(request.user)
    form = ApprovalForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            sites.record_approval(site=site, user=request.user, reason=data["reason"],
                                  ethics_approval_date=data["ethics_approval_date"],
                                  approved_protocol_version=data["approved_protocol_version"],
                                  head_permission_date=data["head_permission_date"], start_date=data["start_date"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("The approval record of %(site)s was saved.") % {"site": site.code})
            return redirect("site_detail", pk=site.pk)
    return _detail(request, site, approval_form=form)


@login_required
@require_POST
def site_change_status(request, pk):
    site = _site(request, pk)
    _require_manager(request.user)
    form = StatusForm(request.POST, site=site)
    if form.is_valid():
        try:
            site = sites.change_status(site=site, status=form.cleaned_data["status"], user=request.user,
                                       reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("%(site)s is now %(status)s.")
                             % {"site": site.code, "status": site.get_status_display()})
            return redirect("site_detail", pk=site.pk)
    return _detail(request, site, status_form=form)
