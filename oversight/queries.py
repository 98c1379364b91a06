"""Every write of data queries: keyword-only functions, one transaction each (DESIGN.md, services).

The table of who may move a query from which state is oversight/querystate.py; this module applies it
and records the step as a message with its author, and the user and a reason on both history rows.
A correction of the queried value is not made here: the site corrects it through the record's own
service and names the query (Q-00012) in the reason for change, which links the two on the audit trail.

Locking: answer, close and re-open lock the query row first, so a double submit or two users acting at
once see the first one's result and are refused with a clear message, never a second step.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oligami_site import access, auditing
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from screening.models import Patient

from . import querystate, records
from .models import DataQuery, QueryMessage

TEXT_MAX_LENGTH = 2000
REASONS = {  # reasons on the history rows (shown translated on the audit trail)
    querystate.Step.OPEN: "Query opened",
    querystate.Step.ANSWER: "Query answered",
    querystate.Step.CLOSE: "Query closed",
    querystate.Step.REOPEN: "Query re-opened",
}


class QueryRefused(DomainError):
    pass


def side_of(user, patient: Patient) -> querystate.Side | None:
    """The side a user is on for this patient's queries: data centre, the patient's site, or none."""
    if access.is_data_manager(user):
        return querystate.Side.DATA_CENTRE
    if access.can(user, Action.EDIT, patient.site_id):
        return querystate.Side.SITE
    return None


def _text(text) -> str:
    text = (text or "").strip()
    if not text:
        raise QueryRefused(_("Write the text."), code="text_required")
    if len(text) > TEXT_MAX_LENGTH:
        raise QueryRefused(_("The text is too long (at most %(max)s characters).") % {"max": TEXT_MAX_LENGTH},
                           code="text_too_long")
    return text


def _check(step, status, side) -> querystate.Status:
    decision = querystate.decide(step, status, side)
    if decision.allowed:
        return decision.new_status
    if decision.refusal == "wrong_side":
        raise QueryRefused(_("Your role may not do this with a data query."), code="wrong_side")
    current = dict(DataQuery.Status.choices).get(status, status)
    raise QueryRefused(_("This query is %(status)s: nothing was changed (reload the page to see why).")
                       % {"status": current}, code="wrong_status")


def _audit(obj, user, reason: str) -> None:
    auditing.mark(obj, user=user, reason=reason)


def _target(patient: Patient, record_type: str, record_id, field: str) -> tuple[str, int | None, str]:
    record_type = (record_type or "").strip()
    field = (field or "").strip()
    if not record_type:
        if field and field not in {name for name, _l in records.queryable_fields(records.BY_KEY["patient"])}:
            raise QueryRefused(_("The field is not one of the patient's."), code="bad_field")
        return ("patient", patient.pk, field) if field else ("", None, "")
    kind = records.BY_KEY.get(record_type)
    if kind is None:
        raise QueryRefused(_("Unknown kind of record."), code="bad_record")
    if kind.key == "patient":
        record_id = patient.pk
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        raise QueryRefused(_("Choose the record."), code="bad_record") from None
    if not records.belongs_to(kind.key, record_id, patient.pk):
        raise QueryRefused(_("The record is not one of this patient's."), code="bad_record")
    if field and field not in {name for name, _l in records.queryable_fields(kind)}:
        raise QueryRefused(_("The field is not one of the record's."), code="bad_field")
    return kind.key, record_id, field


@transaction.atomic
def open_query(*, user, patient: Patient, text: str, record_type: str = "", record_id=None,
               field: str = "") -> DataQuery:
    """A data manager questions a patient's record (or one field of it)."""
    _check(querystate.Step.OPEN, None, side_of(user, patient))
    text = _text(text)
    record_type, record_id, field = _target(patient, record_type, record_id, field)
    now = timezone.now()
    query = DataQuery(patient=patient, record_type=record_type, record_id=record_id, field=field, text=text,
                      status=DataQuery.Status.OPEN, opened_by=user, opened_at=now,
                      waiting_since=timezone.localdate(now))
    _audit(query, user, REASONS[querystate.Step.OPEN])
    query.save()
    message = QueryMessage(query=query, step=querystate.Step.OPEN, text=text, author=user, at=now)
    _audit(message, user, REASONS[querystate.Step.OPEN])
    message.save()
    return query


def _step(step: querystate.Step, *, user, query, text: str) -> DataQuery:
    pk = query.pk if isinstance(query, DataQuery) else query
    with transaction.atomic():
        query = DataQuery.objects.select_for_update(of=("self",)).select_related("patient").get(pk=pk)
        new_status = _check(step, querystate.Status(query.status), side_of(user, query.patient))
        text = _text(text)
        now = timezone.now()
        query.status = new_status
        if step == querystate.Step.ANSWER:
            query.answered_at = now
        elif step == querystate.Step.CLOSE:
            query.closed_at = now
        elif step == querystate.Step.REOPEN:
            query.closed_at = None
            query.waiting_since = timezone.localdate(now)
        _audit(query, user, REASONS[step])
        query.save()
        message = QueryMessage(query=query, step=step, text=text, author=user, at=now)
        _audit(message, user, REASONS[step])
        message.save()
    return query


def answer_query(*, user, query, text: str) -> DataQuery:
    """The site answers (after correcting the value through its own page, naming the query in the reason)."""
    return _step(querystate.Step.ANSWER, user=user, query=query, text=text)


def close_query(*, user, query, text: str) -> DataQuery:
    return _step(querystate.Step.CLOSE, user=user, query=query, text=text)


def reopen_query(*, user, query, text: str) -> DataQuery:
    return _step(querystate.Step.REOPEN, user=user, query=query, text=text)


def open_automatic(*, rule: str, patient_id: int, finding: str, text: str, details: dict | None = None,
                   record_type: str = "", record_id: int | None = None, field: str = "") -> DataQuery | None:
    """An automatic check's query (oversight/checks.py), unless one for the same finding exists.

    Returns the new query, or None when one already exists (the daily re-run finds the same thing again).
    The partial unique constraint decides under concurrency: a second insert fails inside its own
    savepoint and counts as "already open", so the runner's count of created queries is exact.
    """
    # Any query for the same finding, closed ones included: closing means the data centre resolved or
    # accepted it, and a finding's key carries what was found, so changed data is a new finding.
    if DataQuery.objects.filter(rule=rule, patient_id=patient_id, finding=finding).exists():
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            query = DataQuery(patient_id=patient_id, record_type=record_type, record_id=record_id, field=field,
                              text=text, rule=rule, finding=finding, details=details or {},
                              status=DataQuery.Status.OPEN,
                              opened_by=None, opened_at=now, waiting_since=timezone.localdate(now))
            _audit(query, None, f"Automatic check {rule}")
            query.save()
            message = QueryMessage(query=query, step=querystate.Step.OPEN, text=text, author=None, at=now)
            _audit(message, None, f"Automatic check {rule}")
            message.save()
    except IntegrityError:
        return None
    return query
