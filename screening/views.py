"""Screening pages: patients, the screening form, the checklist, re-screening and the screening log.

Thin views: access through oligami_site.access only (VIEW to read, EDIT to write; another site's
object is a 404, a read-only user's write a 403), writes through screening.services, verdicts from the
stored snapshot (screening.verdicts).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, OuterRef, Q, Subquery
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from oligami_site import access, csvfiles, site_views, sites
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from oligami_site.site_status import SiteAction

from . import deadlines, services, stages, verdicts
from . import eligibility as rules
from .exceptions import ReasonRequired, StaleScreening
from .forms import (
    SCREENING_FIELDS,
    LabPanelForm,
    PatientCorrectionForm,
    PatientForm,
    RescreenForm,
    ScreeningForm,
    lesion_formset,
)
from .models import Patient, Screening

PAGE_SIZE = 50
LOG_PAGE_SIZE = 100


def _require_viewing_sites(user):
    """Pages that list patients: nothing to show to a user without a viewing site (e.g. statisticians)."""
    ids = access.site_ids_for(user, Action.VIEW)
    if ids is not None and not ids:
        raise PermissionDenied


def _require_edit(user, site):
    # The object is of the user's sites (it was found through VIEW scoping); writing is another matter.
    if not access.can(user, Action.EDIT, site):
        raise PermissionDenied


def _patient(request, pk) -> Patient:
    return access.get_scoped_or_404(Patient.objects.select_related("site"), request.user, Action.VIEW, pk=pk)


def _screening(request, pk) -> Screening:
    return access.get_scoped_or_404(Screening.objects.select_related("patient__site", "labs"), request.user,
                                    Action.VIEW, site_field="patient__site", pk=pk)


def _is_open(patient: Patient) -> bool:
    """Screening facts may change: the stage machine allows it and her site screens (site_status)."""
    return stages.allowed(patient.stage, stages.Step.EDIT_SCREENING) and patient.site.allows(SiteAction.SCREENING)


def _site_refusal(request, patient: Patient):
    """A redirect to the patient with the refusal naming the site's status, when her site does not screen."""
    try:
        sites.require(patient.site, SiteAction.SCREENING)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("screening:patient_detail", pk=patient.pk)
    return None


class SiteFilterForm(forms.Form):
    """Filters of the lists; unknown values are ignored (never a 500)."""

    site = forms.TypedChoiceField(label=_("Site"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.sites = list(access.sites_for(user, Action.VIEW))
        self.fields["site"].choices = [("", _("All my sites"))] + [(s.pk, f"{s.code} · {s.name}")
                                                                   for s in self.sites]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-sm"

    def value(self, name):
        if not self.is_bound:
            return None
        self.is_valid()  # fills cleaned_data with the valid fields: they apply even when another is not
        return self.cleaned_data.get(name)

    def site_order(self, site_code: str, *then: str) -> list[str]:
        """The lists' order: by site code, then `then`. When the list shows one site (the user's only site, or
        the one chosen here) the code is the same on every row and is left out: the same order, which the
        (site, sequence) index gives without sorting every row of a busy site (docs/performance.md)."""
        one_site = bool(self.value("site")) or len(self.sites) == 1
        return list(then) if one_site else [site_code, *then]


SEARCH_MAX_LENGTH = 40


class PatientFilterForm(SiteFilterForm):
    q = forms.CharField(label=_("Search"), required=False, max_length=SEARCH_MAX_LENGTH, strip=True,
                        help_text=_("Screening number, registration number or initials"))
    stage = forms.ChoiceField(label=_("Stage"), required=False,
                              choices=[("", _("All stages")), *Patient.Stage.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"class": "form-control form-control-sm", "type": "search",
                                              "autocomplete": "off"})


def search(patients, text: str):
    """Patients whose screening number, registration number or initials contain the text (any case).

    The registration number is reached through the reverse relation by name (registration sits above
    screening: no import); "S0012", "0012", "OLG-0005" or initials "KT" all find their patient.
    """
    return patients.filter(Q(screening_number__icontains=text) | Q(primary_registration__number__icontains=text)
                           | Q(initials__iexact=text))


class LogFilterForm(SiteFilterForm):
    outcome = forms.ChoiceField(label=_("Outcome"), required=False,
                                choices=[("", _("All outcomes")), *Screening.Outcome.choices])


OUTCOME_LABELS = dict(Screening.Outcome.choices)


# --------------------------------------------------------------------------------------------------
# Patients
# --------------------------------------------------------------------------------------------------


@login_required
@require_safe
def patient_list(request):
    _require_viewing_sites(request.user)
    filters = PatientFilterForm(request.GET or None, user=request.user)
    latest = Screening.objects.filter(patient=OuterRef("pk")).order_by("-number")
    patients = access.scope(Patient.objects.select_related("site"), request.user, Action.VIEW).annotate(
        latest_outcome=Subquery(latest.values("outcome")[:1]),
        latest_date=Subquery(latest.values("screening_date")[:1]),
        latest_screening_id=Subquery(latest.values("pk")[:1]),
    ).order_by(*filters.site_order("site__code", "sequence"))
    if filters.value("site"):
        patients = patients.filter(site_id=filters.value("site"))
    if filters.value("stage"):
        patients = patients.filter(stage=filters.value("stage"))
    text = filters.value("q")
    if filters.is_bound and "q" in filters.errors:
        patients = patients.none()  # a search that cannot be read finds nothing (the error says why)
    elif text:
        patients = search(patients, text)
        if request.GET.get("go") == "1":
            # From the navigation bar's search: one patient found, open her page at once.
            found = list(patients.values_list("pk", flat=True)[:2])
            if len(found) == 1:
                return redirect("screening:patient_detail", pk=found[0])
    # The registration number and the arm (when randomized) by the reverse relations' names, in the same
    # query (open-label after allocation: the site sees its patients' arms; statisticians see no list).
    patients = patients.annotate(registration_number=F("primary_registration__number"),
                                 arm=F("allocation__arm"))
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    # The next deadline of the rows shown (never the whole site's): the apps above answer through
    # screening.deadlines (a constant number of queries each, none when no row concerns them).
    today = timezone.localdate()
    upcoming = deadlines.nearest({p.pk: p.stage for p in page}, today, timezone.now())
    for patient in page:
        patient.latest_outcome_label = OUTCOME_LABELS.get(patient.latest_outcome, "")
        patient.next_deadline = upcoming.get(patient.pk)
        patient.days_left = patient.next_deadline.days_left(today) if patient.next_deadline else None
    return render(request, "screening/patient_list.html", {
        "page": page, "filters": filters, "several_sites": len(filters.sites) > 1,
        "can_create": access.sites_for(request.user, Action.EDIT).exists(),
        "query": _query_without_page(request),
    })


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def patient_create(request):
    edit_sites = list(access.sites_for(request.user, Action.EDIT))
    if not edit_sites:
        raise PermissionDenied
    # Screening only at an open site (site_status): when none of the user's sites is, the page and its POST
    # refuse, naming each site's status, before any form is bound or anything written.
    if not any(site.allows(SiteAction.SCREENING) for site in edit_sites):
        return render(request, "screening/patient_form.html", {"refusals": [
            sites.refusal_message(site, SiteAction.SCREENING) for site in edit_sites]}, status=403)
    # The enrolment cap (issue 17), beside the status: a site whose count has reached its cap takes no new
    # patient; when no open site of the user's is below its cap, the page and its POST refuse, naming the cap,
    # and offer the request to the data centre. The service checks it again under the site row's lock.
    caps = site_views.enrolment_context(request.user, edit_sites)
    capped = {row["site"].pk: row["message"] for row in caps if row["reached"]}
    if not any(site.allows(SiteAction.SCREENING) and site.pk not in capped for site in edit_sites):
        return render(request, "screening/patient_form.html", {"caps": caps, "cap_refused": True}, status=403)
    form = PatientForm(request.POST or None, user=request.user, capped=capped)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.create_patient(
                site=form.cleaned_data["site"], sex=form.cleaned_data["sex"],
                birth_date=form.cleaned_data["birth_date"], initials=form.cleaned_data["initials"],
                user=request.user)
        except DomainError as exc:  # ScreeningError, or the site's status (SiteStatusRefused)
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("Patient %(number)s created.") % {"number": patient.screening_number})
            return redirect("screening:patient_detail", pk=patient.pk)
    return render(request, "screening/patient_form.html", {"form": form, "caps": caps})


@login_required
@require_safe
def patient_detail(request, pk):
    patient = _patient(request, pk)
    screenings = list(patient.screenings.select_related("labs").prefetch_related("lesions").order_by("number"))
    latest = screenings[-1] if screenings else None
    can_edit = access.can(request.user, Action.EDIT, patient.site) and _is_open(patient)
    # The allocated arm by the reverse relation's name (screening does not import randomization): one
    # query, only for a randomized patient (issue 15: the arm must not disappear after randomization).
    arm = (Patient.objects.filter(pk=patient.pk).values_list("allocation__arm", flat=True).first()
           if patient.stage == Patient.Stage.RANDOMIZED else None)
    return render(request, "screening/patient_detail.html", {
        "patient": patient, "screenings": screenings, "latest": latest, "can_edit": can_edit, "arm": arm,
        "can_rescreen": can_edit and latest is not None and latest.outcome != Screening.Outcome.DRAFT,
        "rescreen_form": RescreenForm(),
        "can_correct_identity": services.may_correct_identity(request.user, patient),
        "correction_by_data_centre": access.can(request.user, Action.EDIT, patient.site),
    })


@login_required
def patient_correct(request, pk):
    """Correct sex or date of birth with a reason (issue 15): the site before primary registration, a data
    manager at any stage; others of the patient's site 403 (a monitor; site staff once she is registered get
    the page with the refusal, so they know whom to ask)."""
    patient = _patient(request, pk)
    if not (access.is_data_manager(request.user) or access.can(request.user, Action.EDIT, patient.site)):
        raise PermissionDenied
    allowed = services.may_correct_identity(request.user, patient)
    form = PatientCorrectionForm(request.POST or None,
                                 initial={"sex": patient.sex, "birth_date": patient.birth_date})
    if request.method == "POST" and form.is_valid():
        try:
            result = services.correct_patient_identity(
                patient=patient, user=request.user, sex=form.cleaned_data["sex"],
                birth_date=form.cleaned_data["birth_date"], reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("Sex and date of birth corrected."))
            for change in result.changes:
                text = gettext("%(id)s is now %(status)s: %(reason)s") % {
                    "id": change.id, "status": gettext(STATUS_NAMES[change.after]), "reason": change.reason}
                if not result.reevaluated and change.after != rules.MET:
                    text += " " + gettext("The registration rests on the verdict as signed: raise a protocol "
                                          "deviation.")
                (messages.warning if change.after != rules.MET else messages.info)(request, text)
            return redirect("screening:patient_detail", pk=patient.pk)
    return render(request, "screening/patient_correct.html", {
        "patient": patient, "form": form, "allowed": allowed,
        "registered": not stages.allowed(patient.stage, stages.Step.EDIT_SCREENING),
        "age_min": rules.AGE_MIN, "age_max": rules.AGE_MAX,
        "data_manager": access.is_data_manager(request.user)})


STATUS_NAMES = {rules.MET: _("met"), rules.NOT_MET: _("not met"), rules.MISSING: _("missing")}


@login_required
@require_POST
def rescreen(request, pk):
    patient = _patient(request, pk)
    _require_edit(request.user, patient.site)
    form = RescreenForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("screening:patient_detail", pk=patient.pk)
    try:
        screening = services.start_rescreening(patient=patient, user=request.user, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("screening:patient_detail", pk=patient.pk)
    messages.success(request, gettext("Screening %(number)s started: the history facts were copied; record the "
                                      "current facts.") % {"number": screening.number})
    return redirect("screening:screening_edit", pk=screening.pk)


# --------------------------------------------------------------------------------------------------
# The screening form
# --------------------------------------------------------------------------------------------------


@login_required
def screening_create(request, pk):
    patient = _patient(request, pk)
    _require_edit(request.user, patient.site)
    latest = patient.screenings.order_by("-number").first()
    if latest is not None:
        messages.info(request, gettext("%(patient)s has been screened: edit the latest screening or re-screen.")
                      % {"patient": patient.screening_number})
        return redirect("screening:patient_detail", pk=patient.pk)
    if (refused := _site_refusal(request, patient)) is not None:
        return refused
    if not _is_open(patient):
        raise PermissionDenied
    return _screening_form(request, patient, None)


@login_required
def screening_edit(request, pk):
    screening = _screening(request, pk)
    patient = screening.patient
    _require_edit(request.user, patient.site)
    editable = stages.allowed(patient.stage, stages.Step.EDIT_SCREENING)
    if editable and (refused := _site_refusal(request, patient)) is not None:
        return refused
    latest_number = patient.screenings.order_by("-number").values_list("number", flat=True).first()
    if not _is_open(patient) or screening.number != latest_number:
        messages.info(request, gettext("This screening can no longer change (the patient is registered, or it was "
                                       "superseded by a re-screening)."))
        return redirect("screening:checklist", pk=screening.pk)
    return _screening_form(request, patient, screening)


def _screening_form(request, patient: Patient, screening: Screening | None):
    editing = screening is not None
    lesions = list(screening.lesions.all()) if editing else []
    instance = screening if editing else Screening(patient=patient)
    labs_instance = screening.labs if editing and screening.labs_id else None
    data = request.POST if request.method == "POST" else None
    form = ScreeningForm(data, instance=instance, patient=patient, editing=editing)
    formset = lesion_formset(data=data, lesions=lesions)
    labs_form = LabPanelForm(data, instance=labs_instance)
    status = 200
    # The version the form was loaded at (issue 13): a save from an older one is refused with what differs.
    version = _posted_version(request) if data is not None and editing else (screening.version if editing else None)
    conflict = None
    if data is not None:
        # Every part is validated (not short-circuited), so all errors show at once.
        valid = [form.is_valid(), formset.is_valid(), labs_form.is_valid()]
        if all(valid):
            try:
                saved = services.save_screening(
                    patient=patient, screening=screening, user=request.user,
                    data={name: form.cleaned_data[name] for name in SCREENING_FIELDS},
                    lesions=formset.lesions(), labs=labs_form.lab_data(),
                    reason=form.cleaned_data.get("reason"), expected_version=version)
            except ReasonRequired as exc:
                form.add_error("reason" if "reason" in form.fields else None, exc.message)
            except StaleScreening as exc:
                form.add_error(None, exc.message)
                conflict = exc.changes
                version = exc.current_version  # saving again now overwrites what is shown, knowingly
                status = 409
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                return _after_save(request, saved)
        if conflict is None:
            messages.error(request, gettext("Nothing was saved: correct the entries marked below."))
    return render(request, "screening/screening_form.html", {
        "patient": patient, "screening": screening, "form": form, "lesion_formset": formset,
        "labs_form": labs_form, "editing": editing, "version": version, "conflict": conflict,
    }, status=status)


def _posted_version(request) -> int | None:
    """The form's version field (the page always sends it). Not a number: -1, which no screening has
    (refused as stale, with the differences shown, rather than saved over whatever is there now). Absent:
    None, no check (a client that posts without the page, as the tests of other rules do)."""
    value = request.POST.get("version")
    if value is None:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else -1


def _after_save(request, screening: Screening):
    outcome = screening.get_outcome_display()
    if "save_draft" in request.POST:
        missing = ", ".join((screening.verdict or {}).get("missing", []))
        text = gettext("Saved (%(outcome)s).") % {"outcome": outcome}
        if missing:
            text += " " + gettext("Still missing: %(ids)s.") % {"ids": missing}
        messages.success(request, text)
        return redirect("screening:screening_edit", pk=screening.pk)
    messages.success(request, gettext("Saved (%(outcome)s).") % {"outcome": outcome})
    return redirect("screening:checklist", pk=screening.pk)


# --------------------------------------------------------------------------------------------------
# Checklist
# --------------------------------------------------------------------------------------------------


@login_required
@require_safe
def checklist(request, pk):
    screening = _screening(request, pk)
    patient = screening.patient
    snapshot = screening.verdict
    if snapshot is None:  # never stored (data from before the services): show the engine's answer, unsaved
        snapshot = verdicts.snapshot(rules.evaluate(screening.to_primary_facts()))
    rows = verdicts.rows(snapshot)
    latest_number = patient.screenings.order_by("-number").values_list("number", flat=True).first()
    is_latest = screening.number == latest_number
    eligible = snapshot.get("eligible") is True
    return render(request, "screening/checklist.html", {
        "patient": patient, "screening": screening, "snapshot": snapshot,
        "primary_rows": [r for r in rows if not r.is_exclusion],
        "exclusion_rows": [r for r in rows if r.is_exclusion],
        "eligible": eligible, "show_banner": eligible and is_latest, "is_latest": is_latest,
        "latest_number": latest_number,
        "subtype_label": gettext(rules.SUBTYPE_LABELS.get(snapshot.get("subtype"), rules.SUBTYPE_LABELS[None])),
        "can_edit": is_latest and _is_open(patient) and access.can(request.user, Action.EDIT, patient.site),
        # The next step of an eligible checklist (issue 15): primary registration, for those who sign.
        "can_register_primary": (eligible and is_latest and patient.stage == Patient.Stage.ELIGIBLE
                                 and access.can(request.user, Action.SIGN, patient.site)),
        "blocking": verdicts.blocking_rows(snapshot),
    })


# --------------------------------------------------------------------------------------------------
# Screening log (GCP): every screening of the user's sites, with outcome and the failed criteria
# --------------------------------------------------------------------------------------------------


def _log_queryset(request):
    _require_viewing_sites(request.user)
    filters = LogFilterForm(request.GET or None, user=request.user)
    screenings = access.scope(Screening.objects.select_related("patient__site"), request.user, Action.VIEW,
                              site_field="patient__site").defer(*_UNUSED_IN_LOG)
    if filters.value("site"):
        screenings = screenings.filter(patient__site_id=filters.value("site"))
    if filters.value("outcome"):
        screenings = screenings.filter(outcome=filters.value("outcome"))
    return filters, screenings.order_by(*filters.site_order("patient__site__code", "patient__sequence", "number"))


# The log reads the verdict snapshot only; the facts themselves stay in the database.
_UNUSED_IN_LOG = [f for f in services.FACT_FIELDS if f != "screening_date"]


@login_required
@require_safe
def screening_log(request):
    filters, screenings = _log_queryset(request)
    page = Paginator(screenings.defer("verdict"), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    # Only the blocking criteria of the page's screenings leave the database, not each row's whole snapshot
    # (verdicts.BlockingCriteria), in a second query: in the page's query PostgreSQL would select them for
    # every screening of the sites before sorting and keeping 100.
    blocking = dict(Screening.objects.filter(pk__in=[s.pk for s in page]).order_by()
                    .annotate(blocking=verdicts.BlockingCriteria("verdict")).values_list("pk", "blocking"))
    for screening in page:
        screening.blocking = verdicts.blocking_rows({"criteria": blocking.get(screening.pk) or []})
    return render(request, "screening/log.html", {
        "page": page, "filters": filters, "several_sites": len(filters.sites) > 1,
        "query": _query_without_page(request),
    })


@login_required
@require_safe
def screening_log_csv(request):
    _filters, screenings = _log_queryset(request)
    header = [gettext("site"), gettext("screening number"), gettext("screening no."), gettext("screening date"),
              gettext("outcome"), gettext("subtype"), gettext("failed criteria"), gettext("exclusions that apply"),
              gettext("missing"), gettext("reasons"), gettext("engine version"), gettext("evaluated at")]

    language = translation.get_language()
    # The Excel variant is for reading: the subtype's label in the reader's language (issue 20); the plain CSV
    # keeps the code (luminal, her2, tnbc), as the exports do (docs/data-management.md, "Codes and labels").
    excel = csvfiles.wants_excel(request)

    def rows():
        # Streamed after the view returns: the reasons are rendered in the requester's language explicitly.
        with translation.override(language):
            yield from _csv_rows(screenings, subtype_labels=excel)

    stamp = timezone.localdate().isoformat()
    return csvfiles.response(csvfiles.lines(header, rows()), filename=f"screening-log-{stamp}.csv",
                             excel=csvfiles.wants_excel(request))


def _subtype_label(code):
    return gettext(rules.SUBTYPE_LABELS[code]) if code in rules.SUBTYPE_LABELS and code else ""


def _csv_rows(screenings, *, subtype_labels=False):
    for s in screenings.iterator(chunk_size=500):
        snap = s.verdict or {}
        blocking = verdicts.blocking_rows(snap)
        evaluated = timezone.localtime(s.evaluated_at).isoformat(timespec="seconds") if s.evaluated_at else ""
        subtype = _subtype_label(s.subtype) if subtype_labels else s.subtype or ""
        yield (
            s.patient.site.code, s.patient.screening_number, s.number, s.screening_date.isoformat(),
            s.get_outcome_display(), subtype, " ".join(snap.get("failed", [])),
            " ".join(snap.get("excluded_by", [])), " ".join(snap.get("missing", [])),
            " | ".join(f"{r.id}: {r.reason}" for r in blocking), s.engine_version, evaluated)
