"""Who must re-consent (issue 17), for the worklist and the reminder digest.

A patient must re-consent when the version of her latest consent (her screening's, or her latest
re-consent's) has been superseded (screening.eligibility.consent.reconsent_due), and she is still in the
trial (docs/sites-and-consent.md):
- primary registered or randomized (the stages where screening.stages allows Step.RECORD_RECONSENT:
  not before registration, where the screening's consent is simply corrected; not off study);
- at a site whose status allows follow-up (open, closed to accrual; a closed site is read-only);
- not withdrawn from study visits or from any further data use (followup.Withdrawal, FOLLOWUP.md): she
  is no longer seen at the site, so nobody can ask her. A patient who only stopped protocol treatment is
  still followed at visits and is asked;
- not dead, and not confirmed lost to follow-up.
She stays on the list until the re-consent is recorded (screening.consents.record_reconsent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from oligami_site import access
from oligami_site import sites as site_services
from oligami_site.access import Action
from oligami_site.site_status import SiteAction
from registration.models import Audience
from screening import consents, stages
from screening import eligibility as rules
from screening.models import ConsentDocument, Patient

from .models import Death, LostToFollowUp, Withdrawal

SHOWN = 20  # rows on the worklist and lines in the digest; the rest is counted
NOT_ASKED = (Withdrawal.Kind.VISITS, Withdrawal.Kind.ALL_DATA)
STAGES = [stage.value for stage in stages.Stage if stages.allowed(stage, stages.Step.RECORD_RECONSENT)]


@dataclass
class Row:
    patient: Patient
    version: ConsentDocument | None  # of her latest consent
    consented_on: date | None
    can_edit: bool = False


def candidates(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """The patients of `patients` who are still asked for consent (stage, site status, withdrawal)."""
    # NOT EXISTS (anti-joins) rather than LEFT JOINs filtered on IS NULL, which PostgreSQL estimated at one row
    # and answered with nested loops (100 ms at 10,000 patients instead of 10).
    return (patients.filter(stage__in=STAGES,
                            site__status__in=site_services.statuses_allowing(SiteAction.FOLLOW_UP))
            .exclude(Exists(Withdrawal.objects.filter(patient=OuterRef("pk"), kind__in=NOT_ASKED)))
            .exclude(Exists(Death.objects.filter(patient=OuterRef("pk"))))
            .exclude(Exists(LostToFollowUp.objects.filter(patient=OuterRef("pk"))))
            .select_related("site").order_by("site__code", "sequence"))


def awaiting(patients: QuerySet[Patient], today: date, documents: list[ConsentDocument] | None = None) -> list[Row]:
    """The patients of `patients` who must re-consent today, by site and number (one query while no version
    is superseded, four after)."""
    return [Row(patient, version, on) for patient, version, on in
            consents.awaiting_reconsent(candidates(patients), today, documents)]


def _in_force(documents: list[ConsentDocument], today: date) -> ConsentDocument | None:
    facts = {document.to_facts(): document for document in documents}
    found = rules.version_in_force(facts, today)
    return facts[found] if found is not None else None


def worklist_section(request) -> dict:
    """The worklist's "re-consent needed" list at the user's sites (oversight/dashboards.py)."""
    today = timezone.localdate()
    documents = consents.versions()
    # counted and chosen in the database: a busy site has thousands of candidates (docs/performance.md)
    total, found = consents.awaiting_reconsent_first(candidates(access.scope(Patient.objects.all(), request.user)),
                                                     today, SHOWN, documents)
    rows = [Row(patient, version, on) for patient, version, on in found]
    edit_sites = access.site_ids_for(request.user, Action.EDIT)
    for row in rows:
        row.can_edit = edit_sites is None or row.patient.site_id in edit_sites
    return {"template": "followup/_reconsent.html", "rows": rows, "total": total,
            "in_force": _in_force(documents, today)}


def _line(row: Row) -> str:
    if row.version is None:
        return gettext("%(patient)s · no consent version on file") % {"patient": row.patient.screening_number}
    return gettext("%(patient)s · consented on version %(version)s (%(date)s)") % {
        "patient": row.patient.screening_number, "version": row.version.version,
        "date": row.consented_on.isoformat() if row.consented_on else "–"}


def digest_section(*, audience: str, site, today: date) -> dict | None:
    """The re-consents due, in the daily reminder digest (settings.OLIGAMI_DIGEST_SECTIONS): the site's
    patients for its staff, every site's for the data managers."""
    documents = consents.versions()
    if audience == Audience.SITE_STAFF and site is not None:
        rows = awaiting(Patient.objects.filter(site=site), today, documents)
    elif audience == Audience.DATA_MANAGERS:
        rows = awaiting(Patient.objects.all(), today, documents)
    else:
        return None
    if not rows:
        return None
    in_force = _in_force(documents, today)
    title = (gettext("Re-consent needed on version %(version)s") % {"version": in_force.version} if in_force
             else gettext("Re-consent needed"))
    return {"title": title, "lines": [_line(row) for row in rows[:SHOWN]], "more": len(rows) > SHOWN,
            "url": settings.SITE_URL.rstrip("/") + reverse("home") + "#reconsent"}
