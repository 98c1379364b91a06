"""Data-query pages: thin views over oversight/queries.py; the allowed steps come from querystate.py.

Who sees what: data managers every site's queries; coordinators, investigators and monitors those of
their sites (a monitor reads only); the statistician none (no patient data). Another site's query or
patient answers 404, a step the user's side may not take 403 (or the service's refusal as a message).
"""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from oligami_site import access
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from screening.models import Patient

from . import checks, queries, querystate, records
from .models import DataQuery
from .query_forms import OpenQueryForm, QueryFilterForm, StepForm
from .trail import trail_for

PAGE_SIZE = 50
UNCLOSED = [DataQuery.Status.OPEN, DataQuery.Status.ANSWERED, DataQuery.Status.REOPENED]
WAITING_FOR_SITE = [DataQuery.Status.OPEN, DataQuery.Status.REOPENED]


def _require_reader(user):
    if access.is_statistician(user) and not access.is_data_manager(user):
        raise PermissionDenied
    if not (access.is_data_manager(user) or access.has_any_site_role(user)):
        raise PermissionDenied


def _scoped(user):
    return access.scope(DataQuery.objects.all(), user, Action.VIEW, site_field="patient__site")


def overdue_filter(today) -> Q:
    """Waiting for the site for more than querystate.ANSWER_DAYS days (querystate.is_overdue, in SQL)."""
    return Q(status__in=WAITING_FOR_SITE, waiting_since__lt=today - timedelta(days=querystate.ANSWER_DAYS))


def site_counts(queryset, today):
    """Per-site counts of not-closed queries: one aggregate query."""
    return list(queryset.values("patient__site__code").order_by("patient__site__code").annotate(
        open=Count("pk", filter=Q(status__in=WAITING_FOR_SITE)),
        answered=Count("pk", filter=Q(status=DataQuery.Status.ANSWERED)),
        overdue=Count("pk", filter=overdue_filter(today)),
        closed=Count("pk", filter=Q(status=DataQuery.Status.CLOSED))))


def _row(query, today, side):
    status = querystate.Status(query.status)
    waiting = querystate.WAITING_FOR[status]
    return {
        "query": query,
        "question": checks.describe(query.rule, query.details) if query.rule else query.text,
        "field_label": records.field_label(query.record_type, query.field),
        "age": querystate.age_days(query.waiting_since, today) if querystate.is_open(status) else None,
        "overdue": querystate.is_overdue(status, query.waiting_since, today),
        "my_turn": waiting is not None and waiting == side,
    }


@login_required
def query_list(request):
    _require_reader(request.user)
    today = timezone.localdate()
    scoped = _scoped(request.user)
    sites = access.sites_for(request.user).order_by("code")
    form = QueryFilterForm(request.GET or None, sites=sites)
    queryset = scoped.select_related("patient", "patient__site", "opened_by")
    side = querystate.Side.DATA_CENTRE if access.is_data_manager(request.user) else (
        querystate.Side.SITE if access.site_ids_for(request.user, Action.EDIT) else None)
    if form.is_valid():
        status = form.cleaned_data["status"]
        if status == "unclosed":
            queryset = queryset.filter(status__in=UNCLOSED)
        elif status:
            queryset = queryset.filter(status=status)
        if form.cleaned_data["site"]:
            queryset = queryset.filter(patient__site_id=form.cleaned_data["site"])
        if form.cleaned_data["waiting_for_me"] and side is not None:
            waiting = [s for s, who in querystate.WAITING_FOR.items() if who == side]
            queryset = queryset.filter(status__in=waiting)
    page = Paginator(queryset.order_by("-opened_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "oversight/queries/list.html", {
        "form": form, "page": page, "rows": [_row(q, today, side) for q in page.object_list],
        "counts": site_counts(scoped, today), "answer_days": querystate.ANSWER_DAYS,
        "query": _without_page(request),
        "is_data_manager": access.is_data_manager(request.user)})


@login_required
def query_open(request, pk):
    if not access.is_data_manager(request.user):
        raise PermissionDenied
    patient = access.get_scoped_or_404(Patient.objects.select_related("site"), request.user, pk=pk)
    form = OpenQueryForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        target = form.target()
        if form.is_valid():  # target() may add errors
            try:
                query = queries.open_query(user=request.user, patient=patient, text=form.cleaned_data["text"],
                                           **target)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, query.number)
                return redirect("queries:detail", pk=query.pk)
    return render(request, "oversight/queries/open.html", {"patient": patient, "form": form})


def _without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _query(request, pk):
    try:
        return _scoped(request.user).select_related("patient", "patient__site", "opened_by").get(pk=pk)
    except DataQuery.DoesNotExist:
        raise Http404 from None


def _linked_changes(query):
    """Audit-trail entries of the patient whose reason names this query (the site's corrections)."""
    return [entry for entry in trail_for(query.patient).entries if query.number in (entry.reason or "")]


@login_required
def query_detail(request, pk):
    _require_reader(request.user)
    query = _query(request, pk)
    today = timezone.localdate()
    side = queries.side_of(request.user, query.patient)
    steps = [step for step in querystate.allowed_steps(querystate.Status(query.status), side)
             if step != querystate.Step.OPEN]
    return render(request, "oversight/queries/detail.html", {
        "row": _row(query, today, side), "query": query,
        "thread": list(query.messages.select_related("author")),
        "steps": steps, "form": StepForm(), "linked": _linked_changes(query),
        "record_label": (records.BY_KEY[query.record_type].label if query.record_type in records.BY_KEY else ""),
    })


@login_required
@require_POST
def query_step(request, pk, step):
    _require_reader(request.user)
    query = _query(request, pk)
    services = {"answer": queries.answer_query, "close": queries.close_query, "reopen": queries.reopen_query}
    if step not in services:
        raise Http404
    if queries.side_of(request.user, query.patient) is None:
        raise PermissionDenied
    form = StepForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("queries:detail", pk=query.pk)
    try:
        services[step](user=request.user, query=query, text=form.cleaned_data["text"])
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("queries:detail", pk=query.pk)
