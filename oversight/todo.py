"""The data manager's home: a trial-wide to-do (issue 20) instead of a role line and a site list.

Each section is a count and the first few rows, in a bounded number of queries whatever the size of the
trial (the windows section reads the worklist's one values() query over the patients between screening and
randomization, the re-consent section the patients still asked for consent, both kept per data version and
day like the reports' numbers; the others are one or two small queries each). Sections of apps that land later come in
through settings.OLIGAMI_HOME_SECTIONS (callables (user, today) -> Section | None), like the digest's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from followup import reconsent
from followup import selectors as followup_selectors
from oligami_site import access, dataversion, lockout
from oligami_site.models import EnrolmentRequest, Signature, Site
from oligami_site.models import Status as SiteStatus
from registration import selectors as registration_selectors
from registration.windows import Status
from screening.models import Patient, Screening

# Display thresholds of the to-do (not protocol rules): a draft screening untouched this long is worth a
# look; signatures of the last days are listed for a second pair of eyes.
STALE_DRAFT_DAYS = 14
RECENT_SIGNATURE_DAYS = 7
SHOWN = 10  # rows per section; the count says how many there are
WINDOW_STATUSES = (Status.WINDOW_MISSED, Status.PROGRESSION, Status.WINDOW_CLOSING)


@dataclass
class Row:
    text: str
    url: str = ""
    detail: str = ""
    urgent: bool = False


@dataclass
class Section:
    key: str
    title: str
    count: int
    rows: list[Row] = field(default_factory=list)
    more_url: str = ""
    more_label: str = ""
    empty: str = ""  # shown when the count is 0 (the good news)


def _patient_url(pk: int) -> str:
    return reverse("registration:patient", args=[pk])


def _window_rows(user, today: date) -> tuple[int, list[registration_selectors.WorklistRow]]:
    """(how many, the first SHOWN) worklist rows of a window status, nearest first. Every patient between
    screening and randomization is classified (seconds at 100,000 patients): reused while no audited write
    has committed and the day is the same (oligami_site.dataversion; statuses move with the date only)."""
    def compute():
        rows = [r for r in registration_selectors.worklist_rows(user, today) if r.status in WINDOW_STATUSES]
        rows.sort(key=lambda r: (WINDOW_STATUSES.index(r.status), r.deadline.date if r.deadline else date.max))
        return len(rows), rows[:SHOWN]

    # The worklist's scope: the sites whose patients the user may view.
    return dataversion.cached("todo-windows", dataversion.scope_key(access.site_ids_for(user, access.Action.VIEW)),
                              today, compute)


def windows(user, today: date) -> Section:
    """Missed and closing secondary-registration windows and progressions, trial-wide, nearest first."""
    count, rows = _window_rows(user, today)
    shown = []
    for row in rows:
        deadline = row.deadline.date.isoformat() if row.deadline else ""
        shown.append(Row(f"{row.patient.site_code} {row.patient.screening_number}", _patient_url(row.patient.pk),
                         f"{gettext(row.status.label)} {deadline}".strip(),
                         urgent=row.status in (Status.WINDOW_MISSED, Status.PROGRESSION)))
    return Section("windows", gettext("Secondary registration windows: missed, progression, closing"), count,
                   shown, empty=gettext("No window missed or closing."))


def stale_drafts(today: date) -> Section:
    """Draft screenings (facts missing) dated more than STALE_DRAFT_DAYS ago, oldest first."""
    queryset = Screening.objects.filter(outcome=Screening.Outcome.DRAFT, patient__stage=Patient.Stage.SCREENING,
                                        screening_date__lt=today - timedelta(days=STALE_DRAFT_DAYS))
    count = queryset.count()
    shown = [Row(f"{code} {number}", reverse("screening:checklist", args=[pk]),
                 gettext("screening date %(date)s") % {"date": day.isoformat()})
             for pk, code, number, day in queryset.order_by("screening_date", "pk").values_list(
                 "pk", "patient__site__code", "patient__screening_number", "screening_date")[:SHOWN]]
    return Section("drafts", gettext("Draft screenings older than %(days)s days") % {"days": STALE_DRAFT_DAYS},
                   count, shown, empty=gettext("No old drafts."))


def recent_signatures(now) -> Section:
    since = now - timedelta(days=RECENT_SIGNATURE_DAYS)
    queryset = Signature.objects.filter(signed_at__gte=since)
    count = queryset.count()
    shown = [Row(f"{s.printed_name}: {s.get_kind_display()}", "",
                 f"{timezone.localtime(s.signed_at):%Y-%m-%d %H:%M} · {s.subject}")
             for s in queryset.order_by("-signed_at")[:SHOWN]]
    return Section("signatures", gettext("Signatures of the last %(days)s days") % {"days": RECENT_SIGNATURE_DAYS},
                   count, shown, empty=gettext("No signatures in these days."))


def locked_accounts() -> Section:
    locked = lockout.locked_usernames()
    shown = [Row(row["username"], "", timezone.localtime(row["last_attempt"]).strftime("%Y-%m-%d %H:%M")
                 if row.get("last_attempt") else "", urgent=True) for row in locked[:SHOWN]]
    return Section("locked", gettext("Locked accounts"), len(locked), shown, reverse("locked_accounts"),
                   gettext("Unlock accounts"), empty=gettext("No account is locked."))


def survey_completeness() -> Section | None:
    """The open follow-up survey's completeness, per site (none open: no section)."""
    survey = followup_selectors.open_survey()
    if survey is None:
        return None
    sites = followup_selectors.survey_completeness_of_sites(survey, None, timezone.localdate())
    total = sum(s.total for s in sites)
    complete = sum(s.complete for s in sites)
    shown = [Row(s.site_code, "", f"{s.complete} / {s.total} ({s.percent}%)", urgent=s.percent < 100)
             for s in sites if s.complete < s.total][:SHOWN]
    percent = round(100 * complete / total) if total else 100
    return Section("survey", gettext("Follow-up survey, cut-off %(date)s: %(complete)s of %(total)s (%(percent)s%%)")
                   % {"date": survey.cutoff_date.isoformat(), "complete": complete, "total": total,
                      "percent": percent},
                   total - complete, shown, reverse("followup:survey", kwargs={"survey_id": survey.pk}),
                   gettext("Open the survey"), empty=gettext("Every site has answered."))


def pending_sites() -> Section:
    queryset = Site.objects.filter(status=SiteStatus.PENDING)
    shown = [Row(f"{site.code} {site.name}", reverse("site_detail", args=[site.pk]), "")
             for site in queryset.order_by("code")[:SHOWN]]
    return Section("sites", gettext("Sites waiting for approval"), queryset.count(), shown, reverse("sites"),
                   gettext("All sites"),
                   empty=gettext("No site is waiting for approval."))


def enrolment_requests() -> Section:
    """Sites at their enrolment cap asking for more patients (issue 17), oldest first; decided on the site page."""
    queryset = EnrolmentRequest.objects.filter(status=EnrolmentRequest.Status.PENDING)
    # The link goes straight to the decision form (first in the data centre's column of the site page).
    shown = [Row(f"{r.site.code} {r.site.name}", reverse("site_detail", args=[r.site_id]) + "#enrolment-decision",
                 gettext("cap %(cap)s, %(screened)s screened · sent %(date)s by %(user)s") % {
                     "cap": r.cap, "screened": r.screened,
                     "date": timezone.localtime(r.requested_at).date().isoformat(),
                     "user": r.requested_by.printed_name}, urgent=True)
             for r in queryset.select_related("site", "requested_by").order_by("requested_at", "pk")[:SHOWN]]
    return Section("enrolment", gettext("Requests to screen beyond an enrolment cap"), queryset.count(), shown,
                   reverse("sites"), gettext("All sites"), empty=gettext("No site is waiting for more patients."))


@dataclass(frozen=True)
class ReconsentRow:
    """A shown row of the re-consent section: data only, translated at render."""

    patient_id: int
    screening_number: str
    site_code: str
    version: str | None  # of her latest consent


def _reconsent_rows(today: date) -> tuple[int, list[ReconsentRow]]:
    """(how many, the first SHOWN) patients who must re-consent, trial-wide. Every patient still asked for
    consent is read (most of the trial): reused while no audited write has committed and the day is the same
    (oligami_site.dataversion; a version takes effect on its date)."""
    def compute():
        rows = reconsent.awaiting(Patient.objects.all(), today)
        return len(rows), [ReconsentRow(row.patient.pk, row.patient.screening_number, row.patient.site.code,
                                        row.version.version if row.version else None) for row in rows[:SHOWN]]

    return dataversion.cached("todo-reconsent", dataversion.scope_key(None), today, compute)


def reconsents(today: date) -> Section:
    """Patients who must re-consent on the consent document version in force (issue 17, followup.reconsent)."""
    count, rows = _reconsent_rows(today)
    shown = [Row(f"{row.screening_number} ({row.site_code})", reverse("screening:reconsent", args=[row.patient_id]),
                 gettext("on version %(version)s") % {"version": row.version} if row.version else "")
             for row in rows]
    return Section("reconsent", gettext("Re-consent needed"), count, shown,
                   reverse("screening:consent_documents"), gettext("Consent document versions"),
                   empty=gettext("No patient needs to re-consent."))


def sections(user, today: date | None = None) -> list[Section]:
    today = today or timezone.localdate()
    found = [windows(user, today), stale_drafts(today), recent_signatures(timezone.now()), locked_accounts(),
             survey_completeness(), pending_sites(), enrolment_requests(), reconsents(today)]
    for path in getattr(settings, "OLIGAMI_HOME_SECTIONS", ()):
        found.append(import_string(path)(user, today))
    return [s for s in found if s is not None]
