"""The trial-wide audit search (issue 20): every history row of the trial's records and of the accounts, by
user, date range, kind of record and patient, newest first.

One query per kind of record (the history tables of oversight.trail's record types, plus accounts,
memberships, sites, consent document versions and enrolment requests), each cut to LIMIT rows before they
are merged, so the page's work is bounded by what it shows, not by the size of the trial. Field values are
not shown here (the patient's audit trail shows them, with the rules of who may see what): each row links to
that trail, filtered on its record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oligami_site import reasons
from oligami_site.models import EnrolmentRequest, Membership, Site, User
from registration.models import PrimaryRegistration
from screening.models import ConsentDocument, Patient

from . import trail

LIMIT = 200  # rows shown; a narrower search finds the rest

# key -> path from the history row to the patient's id ("" when the record has no patient)
PATIENT_PATHS = {
    "patient": "id",
    "lesion": "screening__patient_id",
    "signature": "",
}
ACCOUNT_TYPES = [
    ("user", User, _("Account")),
    ("membership", Membership, _("Membership")),
    ("site", Site, _("Site")),
    # Trial-wide records of issue 17: the consent document versions and the sites' enrolment requests.
    ("consentdocument", ConsentDocument, _("Consent document version")),
    ("enrolmentrequest", EnrolmentRequest, _("Enrolment request")),
]


def record_types() -> list[tuple[str, str]]:
    return [(key, str(label)) for key, _m, label in (*trail.RECORD_TYPES, *ACCOUNT_TYPES)]


@dataclass
class Hit:
    when: dt.datetime
    kind: str
    record_type: str
    record_label: str
    record_id: int
    user: object  # the user's id while searching, then "printed name (username)"
    reason: str
    patient_id: int | None = None
    patient_number: str = ""


def _patient_path(key: str) -> str:
    if key in PATIENT_PATHS:
        return PATIENT_PATHS[key]
    if key in {k for k, _m, _l in ACCOUNT_TYPES}:
        return ""
    return "patient_id"


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def patient_ids_for(text: str) -> set[int]:
    """Patients whose screening number or primary registration number is `text` (exact, any case)."""
    text = text.strip()
    if not text:
        return set()
    ids = set(Patient.objects.filter(screening_number__iexact=text).values_list("pk", flat=True))
    ids |= set(PrimaryRegistration.objects.filter(number__iexact=text).values_list("patient_id", flat=True))
    return ids


def search(*, user_text: str = "", date_from: dt.date | None = None, date_to: dt.date | None = None,
           record_type: str = "", patient_ids: set[int] | None = None) -> tuple[list[Hit], bool]:
    """(hits newest first, cut) where `cut` says more rows matched than LIMIT."""
    models = [(key, model, label) for key, model, label in (*trail.RECORD_TYPES, *ACCOUNT_TYPES)
              if not record_type or key == record_type]
    user_filter = Q()
    if user_text.strip():
        text = user_text.strip()
        user_filter = (Q(history_user__username__iexact=text) | Q(history_user__first_name__icontains=text)
                       | Q(history_user__last_name__icontains=text))
    hits: list[Hit] = []
    cut = False
    for key, model, label in models:
        path = _patient_path(key)
        if patient_ids is not None and not path:
            continue  # no patient on this kind of record
        rows = model.history.filter(user_filter)
        if date_from:
            rows = rows.filter(history_date__gte=_day_start(date_from))
        if date_to:
            rows = rows.filter(history_date__lt=_day_start(date_to + dt.timedelta(days=1)))
        if patient_ids is not None:
            rows = rows.filter(**{f"{path}__in": patient_ids})
        values = ["history_date", "history_type", "id", "history_change_reason", "history_user_id", "history_id"]
        if path:
            values.append(path)
        found = list(rows.order_by("-history_date", "-history_id").values(*values)[:LIMIT + 1])
        cut = cut or len(found) > LIMIT
        for row in found[:LIMIT]:
            hits.append(Hit(row["history_date"], row["history_type"], key, str(label), row["id"],
                            row["history_user_id"], reasons.display(row["history_change_reason"]),
                            row.get(path) if path else None))
    hits.sort(key=lambda h: h.when, reverse=True)
    cut = cut or len(hits) > LIMIT
    hits = hits[:LIMIT]
    users = {u.pk: f"{u.printed_name} ({u.username})"
             for u in User.objects.filter(pk__in={h.user for h in hits if h.user})} if hits else {}
    for hit in hits:
        hit.user = users.get(hit.user, gettext("system")) if hit.user else gettext("system")
    numbers = dict(Patient.objects.filter(pk__in={h.patient_id for h in hits if h.patient_id})
                   .values_list("pk", "screening_number")) if any(h.patient_id for h in hits) else {}
    for hit in hits:
        hit.patient_number = numbers.get(hit.patient_id, "")
    return hits, cut
