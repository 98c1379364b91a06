"""The data centre's oversight pages, composed on top of the trial apps: a patient's audit trail, the reports
(CONSORT flow, accrual, the patients not randomized and why) and the exports.

Who sees what (through oligami_site.access only):
- audit trail: whoever may view the patient (her site's staff, monitors of her site, data managers);
  anyone else 404, as for every patient page;
- reports: site staff and monitors their sites' numbers; data managers and statisticians every site.
  The list of non-randomized patients is patient-level: not for statisticians (404);
- exports: data managers only (403 for everyone else; site staff have their screening log CSV).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from followup import selectors as followup_selectors
from oligami_site import access, csvfiles, dataversion
from oligami_site.access import Action
from screening.models import Patient

from . import audit_search, export_jobs, exports, reports
from .forms import AuditSearchForm
from .models import ExportJob
from .trail import TYPE_ORDER, trail_for

NOT_RANDOMIZED_PAGE_SIZE = 100


# --- audit trail ----------------------------------------------------------------------------------


@login_required
@require_safe
def patient_trail(request, pk):
    patient = access.get_scoped_or_404(Patient.objects.select_related("site"), request.user, Action.VIEW, pk=pk)
    record_type = request.GET.get("record") or None
    if record_type not in TYPE_ORDER:
        record_type = None
    trail = trail_for(patient, record_type=record_type)
    return render(request, "oversight/trail.html", {
        "patient": patient, "trail": trail, "record_type": record_type or "",
    })


@login_required
@require_safe
def trial_audit_search(request):
    """Data managers: every history row of the trial, by user, dates, kind of record and patient (issue 20)."""
    if not access.is_data_manager(request.user):
        raise PermissionDenied
    form = AuditSearchForm(request.GET or None, record_choices=audit_search.record_types())
    hits, cut, searched = [], False, False
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        patient_ids = None
        if data["patient"]:
            patient_ids = audit_search.patient_ids_for(data["patient"])
        hits, cut = audit_search.search(user_text=data["user"], date_from=data["date_from"],
                                        date_to=data["date_to"], record_type=data["record"],
                                        patient_ids=patient_ids)
        searched = True
    return render(request, "oversight/audit_search.html", {
        "form": form, "hits": hits, "cut": cut, "searched": searched, "limit": audit_search.LIMIT,
        "trail_keys": set(TYPE_ORDER),
    })


# --- reports --------------------------------------------------------------------------------------


@login_required
@require_safe
def report_index(request):
    site_ids = reports.report_site_ids(request.user)
    today = timezone.localdate()
    consort, accrual_counts = reports.report_numbers(site_ids, today)
    accrual = SimpleLazyObject(
        lambda: reports.accrual_from_counts(accrual_counts, reports.sites_for_report(site_ids), today))

    def body():
        # At 50 sites the tables and charts are ~260 kB of HTML, most of the page's time: rendered once per
        # data version, day, scope and language (the body uses nothing of the request or the user).
        return render_to_string("oversight/reports_body.html", {
            "today": today,
            "consort": consort,
            # By arm for the trial-wide readers only (data managers: totals by arm; the statistician); site staff
            # and monitors see no arm counts (issue 13). The cache key's scope follows the same line.
            "diagram": reports.diagram(consort, after=followup_selectors.after_randomization_of_sites(site_ids, today),
                                       by_arm=site_ids is None),
            "terminal": consort.terminal(),
            "breakdowns": [(box, box.label, consort.breakdown(box)) for box in (
                reports.Box.SCREEN_FAILED, reports.Box.OFF_STUDY, reports.Box.WINDOW_MISSED,
                reports.Box.BEFORE_SECONDARY, *([reports.Box.RANDOMIZED] if site_ids is None else []))],
            "accrual": accrual,
            "charts": reports.accrual_charts(accrual),
        })

    html = dataversion.cached(f"reports-body-{get_language()}", dataversion.scope_key(site_ids), today, body)
    return render(request, "oversight/reports.html", {
        "trial_wide": site_ids is None,
        "today": today,
        "consort": consort,
        "accrual": accrual,  # for tests and templates that read it; built only when read
        "body": html,  # a SafeString from render_to_string (autoescaped); the cache keeps its class
        "patient_level": _patient_sites(request.user) != set(),
        # Outside the cached body: a status change shows at once (one query, rows = sites in scope).
        "sites": reports.sites_for_report(site_ids),
    })


def _patient_sites(user):
    """Sites whose patients the user may list (None: all); an empty set for statisticians."""
    return access.site_ids_for(user, Action.VIEW)


@login_required
@require_safe
def not_randomized(request):
    """Every screened patient not randomized, in her terminal box with the reason (patient level)."""
    site_ids = _patient_sites(request.user)
    if site_ids is not None and not site_ids:
        raise Http404
    box = request.GET.get("box") or ""
    boxes = [b for b in reports.Box if b in reports.NOT_RANDOMIZED]
    if box not in {b.value for b in boxes}:
        box = ""
    today = timezone.localdate()
    # Every patient's box from the flat classification (cached), then the page's rows with what they show, in
    # one more query: the same rules decide both (reports.place).
    entries = reports.not_randomized_boxes(site_ids, today)
    if box:
        entries = [entry for entry in entries if entry[1] == box]
    page = Paginator(entries, NOT_RANDOMIZED_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = reports.listed_flows([patient_id for patient_id, _box, _reason in page.object_list], today)
    return render(request, "oversight/not_randomized.html", {
        "page": page, "boxes": boxes, "box": box, "today": today, "total": len(entries),
    })


# --- exports --------------------------------------------------------------------------------------


def _require_data_manager(user):
    if not access.is_data_manager(user):
        raise PermissionDenied


def _csv_response(request, lines, name: str) -> StreamingHttpResponse:
    stamp = timezone.localdate().isoformat()
    return csvfiles.response(lines, filename=f"oligami-{name}-{stamp}.csv", excel=csvfiles.wants_excel(request))


def _export(request, header, rows, name: str) -> StreamingHttpResponse:
    """An export, its Excel variant with the labels of its coded columns (exports.CODE_LABELS, issue 20)."""
    rows = exports.for_excel(header, rows, csvfiles.wants_excel(request))
    return _csv_response(request, exports.csv_lines(header, rows), name)


@login_required
@require_safe
def export_index(request):
    _require_data_manager(request.user)
    jobs = ExportJob.objects.filter(requested_by=request.user)[:10]
    return render(request, "oversight/exports.html", {"tables": exports.TABLES.values(), "jobs": jobs,
                                                      "kinds": export_jobs.kinds()})


@login_required
@require_POST
def export_job_create(request):
    """Queue an export (issue 21): the worker writes the file; the job page shows its progress."""
    _require_data_manager(request.user)
    try:
        job = export_jobs.request_export(user=request.user, kind=request.POST.get("kind", ""))
    except KeyError:
        messages.error(request, _("Choose one of the exports listed on this page."))
        return redirect("oversight:exports")
    return redirect("oversight:export_job", job=job.pk)


def _own_job(request, job: int) -> ExportJob:
    """A job of the requester (another user's job: 404, as if it did not exist)."""
    _require_data_manager(request.user)
    return get_object_or_404(ExportJob, pk=job, requested_by=request.user)


@login_required
@require_safe
def export_job(request, job):
    job = _own_job(request, job)
    working = job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
    return render(request, "oversight/export_job.html", {
        "job": job, "title": export_jobs.kinds().get(job.kind, job.kind), "working": working,
        "expired": job.status == ExportJob.Status.EXPIRED or (
            job.expires_at is not None and job.expires_at <= timezone.now()),
    })


@login_required
@require_safe
def export_job_download(request, job):
    job = _own_job(request, job)
    handle = export_jobs.open_for(job, request.user)
    if handle is None:
        raise Http404
    stamp = timezone.localtime(job.finished_at).date().isoformat()
    return FileResponse(handle, as_attachment=True, filename=f"oligami-{job.kind}-{stamp}.csv",
                        content_type="text/csv; charset=utf-8")


@login_required
@require_safe
def export_table(request, table):
    _require_data_manager(request.user)
    spec = exports.TABLES.get(table)
    if spec is None:
        raise Http404
    return _export(request, spec.header(), spec.rows(), spec.key)


@login_required
@require_safe
def export_analysis(request):
    _require_data_manager(request.user)
    return _export(request, exports.analysis_header(), exports.analysis_rows(), "analysis")


@login_required
@require_safe
def export_analysis_with_arm(request):
    """The statistician's analysis data set: the same rows with the allocated arm (issue 16; blinding)."""
    if not access.is_statistician(request.user):
        raise PermissionDenied
    return _export(request, exports.analysis_header(with_arm=True), exports.analysis_rows(with_arm=True),
                   "analysis-with-arm")


@login_required
@require_safe
def data_dictionary(request):
    _require_data_manager(request.user)
    return render(request, "oversight/data_dictionary.html", {"rows": exports.dictionary_rows()})


@login_required
@require_safe
def data_dictionary_csv(request):
    _require_data_manager(request.user)
    lines = exports.csv_lines(exports.DICTIONARY_HEADER, exports.dictionary_rows())
    return _csv_response(request, lines, "analysis-dictionary")
