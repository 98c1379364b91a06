"""Services of the informed-consent document versions and of re-consent (issue 17).

The data centre adds versions (each new one supersedes the latest on its effective date) and may rename
one; the sites record a patient's re-consent on a newer version. Keyword-only functions, one transaction
each, the user and the reason in the audit history (oligami_site.auditing). The rule of which version is
in force, and who must re-consent, is screening.eligibility.consent (pure).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import BigIntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from oligami_site import access, auditing, sites
from oligami_site.access import Action
from oligami_site.site_status import SiteAction

from . import eligibility as rules
from . import stages
from .exceptions import ScreeningError
from .models import ConsentDocument, Patient, Reconsent, Screening
from .services import require_step

VERSION_MAX_LENGTH = 20
EARLIEST_DATE = dt.date(2000, 1, 1)  # the trial's documents cannot predate this; earlier is a typing error


class ConsentError(ScreeningError):
    """A consent document or re-consent write was refused (the message says why)."""


def _require_data_manager(user) -> None:
    if not (user.is_authenticated and user.is_active and (user.is_superuser or access.is_data_manager(user))):
        raise ConsentError(_("Only the data centre manages the consent document versions."), code="forbidden")


def _clean_version(version) -> str:
    version = (version or "").strip()
    if not version:
        raise ConsentError(_("Give the version (e.g. 2.0)."), code="required")
    if len(version) > VERSION_MAX_LENGTH:
        raise ConsentError(_("The version is too long (at most %(max)s characters).") % {"max": VERSION_MAX_LENGTH},
                           code="invalid")
    return version


def _check_date(value, label) -> None:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ConsentError(_("%(field)s: a date is required.") % {"field": label}, code="required")
    if value < EARLIEST_DATE:
        raise ConsentError(_("%(field)s: a date before 2000 is not plausible.") % {"field": label}, code="invalid")


def _reason(reason) -> str:
    reason = auditing.clean_reason(reason, error=ConsentError)
    if not reason:
        raise ConsentError(_("Give a reason (it is kept in the audit trail)."), code="reason_required")
    return reason


def versions() -> list[ConsentDocument]:
    return list(ConsentDocument.objects.order_by("effective_date"))


def version_on(day: dt.date) -> ConsentDocument | None:
    """The version in force on `day` (screening.eligibility.consent.in_force), or None."""
    document = ConsentDocument.objects.filter(effective_date__lte=day).order_by("-effective_date").first()
    return document if document is not None and rules.in_force(document.to_facts(), day) else None


@transaction.atomic
def add_version(*, version: str, effective_date: dt.date, user, reason: str) -> ConsentDocument:
    """A new consent document version, in force from `effective_date`; the latest version is superseded then.

    Refused: a version name already used; an effective date not after the latest version's; and an
    effective date that would put a recorded consent (or re-consent) on a version no longer in force on its
    date, which would silently turn a P18 verdict (put the new version's date after those consents).
    A future effective date is allowed: the version is announced and takes effect that day.
    """
    _require_data_manager(user)
    version = _clean_version(version)
    _check_date(effective_date, _("effective date"))
    reason = _reason(reason)
    # One writer of the version list at a time: the latest row is locked before it is superseded.
    latest = ConsentDocument.objects.select_for_update().order_by("-effective_date").first()
    if ConsentDocument.objects.filter(version=version).exists():
        raise ConsentError(_("Version %(version)s already exists.") % {"version": version}, code="duplicate")
    if latest is not None:
        if effective_date <= latest.effective_date:
            raise ConsentError(_("The effective date must be after %(date)s, when version %(version)s took effect.")
                               % {"date": latest.effective_date.isoformat(), "version": latest.version},
                               code="order")
        later = (Screening.objects.filter(consent_version=latest, consent_date__gte=effective_date).count()
                 + Reconsent.objects.filter(document=latest, date__gte=effective_date).count())
        if later:
            raise ConsentError(
                _("%(count)s consents on version %(version)s are dated on or after %(date)s: that version would no "
                  "longer be in force on their dates. Choose a later effective date.")
                % {"count": later, "version": latest.version, "date": effective_date.isoformat()},
                code="consents_after")
        latest.superseded_date = effective_date
        auditing.save(latest, user=user, reason=reason, update_fields=["superseded_date"])
    document = ConsentDocument(version=version, effective_date=effective_date)
    auditing.save(document, user=user, reason=reason)
    return document


@transaction.atomic
def rename_version(*, document: ConsentDocument, version: str, user, reason: str) -> ConsentDocument:
    """Correct a version's name (e.g. the "initial" version the migration created), with a reason."""
    _require_data_manager(user)
    version = _clean_version(version)
    reason = _reason(reason)
    document = ConsentDocument.objects.select_for_update().get(pk=document.pk)
    if document.version == version:
        return document
    if ConsentDocument.objects.filter(version=version).exclude(pk=document.pk).exists():
        raise ConsentError(_("Version %(version)s already exists.") % {"version": version}, code="duplicate")
    document.version = version
    auditing.save(document, user=user, reason=reason, update_fields=["version"])
    return document


# --- a patient's consent ------------------------------------------------------------------------------


def current_consent(patient: Patient) -> tuple[ConsentDocument | None, dt.date | None]:
    """The version and date of the patient's latest consent: her latest re-consent, else her latest screening's."""
    reconsent = patient.reconsents.select_related("document").order_by("-date", "-id").first()
    if reconsent is not None:
        return reconsent.document, reconsent.date
    screening = patient.screenings.select_related("consent_version").order_by("-number").first()
    if screening is None:
        return None, None
    return screening.consent_version, screening.consent_date


@transaction.atomic
def record_reconsent(*, patient: Patient, document: ConsentDocument, date: dt.date, user,
                     reason: str | None = None) -> Reconsent:
    """The patient consented again, on `document`, on `date` (issue 17).

    Refused: a user without entry rights at the patient's site; a site whose status stops follow-up
    (pending, closed); a patient not primary registered or randomized (screening.stages); a date in the
    future or before her latest consent; a version not in force on that date (P18's rule) or not newer
    than the version she is on.
    """
    if not access.can(user, Action.EDIT, patient.site_id):
        raise ConsentError(_("You may not enter data at this site."), code="forbidden")
    reason = auditing.clean_reason(reason, error=ConsentError) or "Re-consent recorded"
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    sites.require(patient.site, SiteAction.FOLLOW_UP)
    require_step(patient, stages.Step.RECORD_RECONSENT, out_of_order=ConsentError)
    _check_date(date, _("re-consent date"))
    if date > timezone.localdate():
        raise ConsentError(_("%(field)s: a date in the future is not allowed.") % {"field": _("re-consent date")},
                           code="future_date")
    try:
        document = ConsentDocument.objects.get(pk=getattr(document, "pk", document))
    except (ConsentDocument.DoesNotExist, ValueError, TypeError):
        raise ConsentError(_("Choose a consent document version."), code="invalid") from None
    if not rules.in_force(document.to_facts(), date):
        raise ConsentError(_("Version %(version)s was not in force on %(date)s.")
                           % {"version": document.version, "date": date.isoformat()}, code="not_in_force")
    current, since = current_consent(patient)
    if since is not None and date < since:
        raise ConsentError(_("The re-consent cannot precede the patient's latest consent (%(date)s).")
                           % {"date": since.isoformat()}, code="order")
    if current is not None and document.effective_date <= current.effective_date:
        raise ConsentError(_("%(patient)s already consented on version %(version)s: a re-consent is on a newer "
                             "version.") % {"patient": patient.screening_number, "version": current.version},
                           code="not_newer")
    reconsent = Reconsent(patient=patient, document=document, date=date)
    auditing.save(reconsent, user=user, reason=reason)
    return reconsent


def latest_consents(patients, documents: dict[int, ConsentDocument] | None = None
                    ) -> dict[int, tuple[ConsentDocument | None, dt.date | None]]:
    """{patient id: (version, date) of her latest consent} of the patients of a queryset: her latest
    re-consent's, else her latest screening's. Two queries (three without `documents`, the versions by id),
    each choosing its rows by a subquery of `patients` (no list of ids)."""
    if documents is None:
        documents = {d.pk: d for d in ConsentDocument.objects.all()}
    chosen = patients.order_by().values("pk")
    result: dict[int, tuple[ConsentDocument | None, dt.date | None]] = {}
    for patient_id, version_id, date in (Screening.objects.filter(patient__in=chosen)
                                         .order_by("patient_id", "number")
                                         .values_list("patient_id", "consent_version_id", "consent_date")):
        result[patient_id] = (documents.get(version_id), date)  # the latest screening comes last
    for patient_id, document_id, date in (Reconsent.objects.filter(patient__in=chosen)
                                          .order_by("patient_id", "date", "id")
                                          .values_list("patient_id", "document_id", "date")):
        result[patient_id] = (documents[document_id], date)  # the latest re-consent wins over the screening
    return result


def awaiting_reconsent_first(patients, today: dt.date, limit: int, documents: list[ConsentDocument] | None = None
                             ) -> tuple[int, list[tuple[Patient, ConsentDocument | None, dt.date | None]]]:
    """How many of `patients` must re-consent today, and the first `limit` of them in the queryset's order with
    their latest consent: the rows of `awaiting_reconsent`, for a page that shows a few of a busy site's
    thousands of candidates (docs/performance.md, issue 21). The rule (rules.reconsent_due, which depends on
    the version only) is applied to each version once; one query reads every candidate's id with the version
    of her latest consent (latest re-consent, else latest screening, as `latest_consents`: two correlated
    subqueries), and only the shown patients are loaded, with their consents. Five queries (one while nothing
    is superseded). The same subqueries as a filter in the database were tried and dropped, and so was first
    keeping the candidates with a re-consent on a due version or none (EXISTS): PostgreSQL misjudged the
    candidates' count (1 for 2,000), joined the follow-up tables by nested loops over whole tables and took
    seconds, or compiled the query (JIT) for longer than it ran."""
    documents = versions() if documents is None else documents
    if not any(d.superseded_date is not None and d.superseded_date <= today for d in documents):
        return 0, []
    by_id = {d.pk: d for d in documents}
    due_versions = {d.pk for d in documents if rules.reconsent_due(d.to_facts(), today)}
    none_due = rules.reconsent_due(None, today)
    none = 0  # no version on file (no key is 0)
    latest_reconsent = Reconsent.objects.filter(patient=OuterRef("pk")).order_by("-date", "-id")
    latest_screening = Screening.objects.filter(patient=OuterRef("pk")).order_by("-number")
    due = [pk for pk, version in patients.annotate(latest_version=Coalesce(
        Subquery(latest_reconsent.values("document_id")[:1]),
        Subquery(latest_screening.values("consent_version_id")[:1]), Value(none), output_field=BigIntegerField()),
    ).values_list("pk", "latest_version") if ((version in due_versions) if version != none else none_due)]
    shown = patients.in_bulk(due[:limit])
    latest = latest_consents(patients.filter(pk__in=due[:limit]), by_id)
    return len(due), [(shown[pk], *latest.get(pk, (None, None))) for pk in due[:limit] if pk in shown]


def awaiting_reconsent(patients, today: dt.date, documents: list[ConsentDocument] | None = None
                       ) -> list[tuple[Patient, ConsentDocument | None, dt.date | None]]:
    """(patient, version, date of her latest consent) of each of `patients` (a queryset) whose re-consent is
    due today (screening.eligibility.consent.reconsent_due), in the queryset's order. The caller chooses the
    patients (stages, sites, withdrawals: followup.reconsent). Until a version has been superseded nobody is
    asked: one query (the versions), whatever the number of patients; else three more, and a fourth when
    someone must re-consent.

    The rule depends on the version and the day only, so it is asked once per version; only the patients who
    must re-consent are loaded as model instances (loading every candidate, and listing their ids in the
    queries of their consents, cost about a second at 10,000 patients)."""
    documents = versions() if documents is None else documents
    if not any(d.superseded_date is not None and d.superseded_date <= today for d in documents):
        return []
    by_id = {d.pk: d for d in documents}
    asked = {pk: rules.reconsent_due(d.to_facts(), today) for pk, d in by_id.items()}
    asked[None] = rules.reconsent_due(None, today)  # no version on file
    latest = latest_consents(patients, by_id)
    wanted = {pk for pk in patients.order_by().values_list("pk", flat=True)
              if asked[getattr(latest.get(pk, (None, None))[0], "pk", None)]}
    if not wanted:
        return []
    # Bounded by the patients who must re-consent (the caller counts them all and shows a few).
    return [(patient, *latest.get(patient.pk, (None, None))) for patient in patients.filter(pk__in=wanted)]
