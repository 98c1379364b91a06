"""The sites pages: each site's status and approval record; the data centre records approvals and changes
the status here (through oligami_site.sites, a reason each). Thin views.

Site staff and monitors read their own sites (another site is a 404); data managers read every site and
are the only ones who write (403 for others). Statisticians have no site pages (403).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from . import access, enrolment, site_status, sites
from .access import Action
from .exceptions import DomainError
from .models import EnrolmentRequest, Site
from .widgets import IsoDateInput

HISTORY_ROWS = 50  # the page shows the latest changes; the admin's History has them all
REQUEST_ROWS = 20  # the site page's latest enrolment requests; the admin has them all


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


class CapForm(forms.Form):
    cap = forms.IntegerField(label=_("Enrolment cap"), required=False, min_value=1, max_value=enrolment.CAP_MAX,
                             help_text=_("Patients screened at most at this site; empty: no cap."))
    reason = forms.CharField(label=_("Reason for change"), max_length=sites.REASON_MAX_LENGTH)


class EnrolmentRequestForm(forms.Form):
    message = forms.CharField(label=_("Message to the data centre"), required=False,
                              max_length=enrolment.MESSAGE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=_("Optional: how many more patients, and why."))


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=[("grant", _("Grant")), ("refuse", _("Refuse"))],
                                 widget=forms.RadioSelect)
    more = forms.IntegerField(label=_("Patients granted"), required=False, min_value=1, max_value=enrolment.MORE_MAX,
                              help_text=_("When granting: the cap is raised by this many patients."))
    reason = forms.CharField(label=_("Reason"), max_length=sites.REASON_MAX_LENGTH,
                             help_text=_("The site sees it with the decision."))

    def clean(self):
        data = super().clean()
        if data.get("decision") == "grant" and not data.get("more"):
            self.add_error("more", _("Give the number of patients granted."))
        return data


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
    counts = enrolment.screened_by_site(s.pk for s in site_rows if s.enrolment_cap is not None)
    for site in site_rows:
        site.screened = counts.get(site.pk)
    return render(request, "oligami_site/site_list.html", {"sites": site_rows})


def enrolment_context(user, site_rows, *, requests: bool = False) -> list[dict]:
    """What the site page and the new-patient page show of the sites' enrolment caps (sites without a cap are
    left out): the count, whether the cap is reached, the pending request and the latest decision, whether the
    user may send a request. Two queries whatever the number of sites (none when no site has a cap)."""
    capped = [site for site in site_rows if site.enrolment_cap is not None]
    if not capped:
        return []
    ids = [site.pk for site in capped]
    counts = enrolment.screened_by_site(ids)
    latest = enrolment.latest_requests(ids)
    edit_ids = access.site_ids_for(user, Action.EDIT)
    rows = []
    for site in capped:
        count = counts.get(site.pk, 0)
        reached = enrolment.cap_reached(site, count)
        last = latest.get(site.pk)
        pending = last if last is not None and last.status == EnrolmentRequest.Status.PENDING else None
        may_request = (reached and pending is None and site.allows(site_status.SiteAction.SCREENING)
                       and (edit_ids is None or site.pk in edit_ids) and not access.is_data_manager(user))
        rows.append({"site": site, "screened": count, "cap": site.enrolment_cap, "reached": reached,
                     "message": enrolment.cap_message(site, count) if reached else "",
                     "pending": pending, "latest": last, "may_request": may_request,
                     "form": EnrolmentRequestForm() if may_request else None})
    return rows


def _detail(request, site, approval_form=None, status_form=None, status=200, cap_form=None, decision_form=None):
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
        cap_form = cap_form or CapForm(initial={"cap": site.enrolment_cap})
    allowed = [(sites.ACTION_LABELS[action], site.allows(action)) for action in site_status.SiteAction]
    requests = list(EnrolmentRequest.objects.filter(site=site).select_related("requested_by", "decided_by")
                    [:REQUEST_ROWS])
    pending = next((r for r in requests if r.status == EnrolmentRequest.Status.PENDING), None)
    caps = enrolment_context(request.user, [site])
    return render(request, "oligami_site/site_detail.html", {
        "site": site, "history": history, "manager": manager, "approval_form": approval_form,
        "status_form": status_form, "allowed": allowed,
        "missing": [sites.APPROVAL_LABELS[name] for name in site.approval.missing],
        "cap_form": cap_form, "requests": requests, "pending": pending,
        "decision_form": (decision_form or DecisionForm()) if manager and pending else None,
        "cap": caps[0] if caps else None,
        "screened": caps[0]["screened"] if caps else None,
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


# --- enrolment caps (issue 17) ------------------------------------------------------------------------------


@login_required
@require_POST
def site_enrolment_cap(request, pk):
    """The data centre sets, changes or removes the site's enrolment cap (a reason, in the site's history)."""
    site = _site(request, pk)
    _require_manager(request.user)
    form = CapForm(request.POST)
    if form.is_valid():
        try:
            site = enrolment.set_cap(site=site, cap=form.cleaned_data["cap"], user=request.user,
                                     reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            if site.enrolment_cap is None:
                messages.success(request, gettext("%(site)s has no enrolment cap.") % {"site": site.code})
            else:
                messages.success(request, gettext("The enrolment cap of %(site)s is %(cap)s patients.")
                                 % {"site": site.code, "cap": site.enrolment_cap})
            return redirect("site_detail", pk=site.pk)
    return _detail(request, site, cap_form=form)


@login_required
@require_POST
def site_enrolment_request(request, pk):
    """The site's staff ask the data centre to screen beyond the cap (the site's coordinators and
    investigators; a monitor or a data manager 403, another site 404)."""
    site = _site(request, pk)
    if not access.can(request.user, Action.EDIT, site) or access.is_data_manager(request.user):
        raise PermissionDenied
    form = EnrolmentRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("site_detail", pk=site.pk)
    try:
        enrolment.request_more(site=site, user=request.user, message=form.cleaned_data["message"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("Your request for %(site)s was sent to the data centre. You will see "
                                          "its decision here.") % {"site": site.code})
    return redirect("site_detail", pk=site.pk)


@login_required
@require_POST
def site_enrolment_decision(request, pk, request_pk):
    """A data manager grants (the cap is raised) or refuses a site's request, with a reason."""
    site = _site(request, pk)
    _require_manager(request.user)
    pending = EnrolmentRequest.objects.filter(site=site, pk=request_pk).first()
    if pending is None:
        raise Http404
    form = DecisionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["decision"] == "grant":
                enrolment.grant(request=pending, more=data["more"], user=request.user, reason=data["reason"])
            else:
                enrolment.refuse(request=pending, user=request.user, reason=data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("The request of %(site)s was decided.") % {"site": site.code})
            return redirect("site_detail", pk=site.pk)
    return _detail(request, Site.objects.get(pk=site.pk), decision_form=form)
