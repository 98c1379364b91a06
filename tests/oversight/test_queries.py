"""Data queries: services (who may take which step, validation, audit) and the automatic checks."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction

from oversight import checks, queries
from oversight.models import DataQuery, QueryMessage
from oversight.queries import QueryRefused
from registration.models import PrimaryRegistration
from tests.factories import PatientFactory
from tests.registration.factories import make_eligible_screening, make_plans, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(site_a):
    return PatientFactory(site=site_a)


def test_data_manager_opens_site_answers_data_manager_closes(patient, data_manager, coordinator_a):
    query = queries.open_query(user=data_manager, patient=patient, text="Birth date 1968? Please check.",
                               record_type="patient", record_id=patient.pk, field="birth_date")
    assert query.status == DataQuery.Status.OPEN
    assert query.field == "birth_date" and query.record_type == "patient"
    queries.answer_query(user=coordinator_a, query=query, text="Checked: correct.")
    query.refresh_from_db()
    assert query.status == DataQuery.Status.ANSWERED and query.answered_at
    queries.reopen_query(user=data_manager, query=query, text="The source says 1986.")
    query.refresh_from_db()
    assert query.status == DataQuery.Status.REOPENED
    queries.answer_query(user=coordinator_a, query=query, text=f"Corrected ({query.number}).")
    queries.close_query(user=data_manager, query=query, text="Thank you.")
    query.refresh_from_db()
    assert query.status == DataQuery.Status.CLOSED and query.closed_at
    steps = list(query.messages.values_list("step", "author__username"))
    assert [s for s, _u in steps] == ["open", "answer", "reopen", "answer", "close"]
    # Audit: user and reason on every history row of the query.
    history = list(query.history.order_by("history_id").values_list("history_user__username",
                                                                     "history_change_reason"))
    assert history[0] == (data_manager.username, "Query opened")
    assert history[1] == (coordinator_a.username, "Query answered")
    assert all(user and reason for user, reason in history)


@pytest.mark.parametrize("who", ["coordinator_a", "monitor_a", "statistician", "coordinator_b"])
def test_only_a_data_manager_opens(request, patient, who):
    user = request.getfixturevalue(who)
    with pytest.raises(QueryRefused):
        queries.open_query(user=user, patient=patient, text="?")
    assert not DataQuery.objects.exists()


@pytest.mark.parametrize("who", ["monitor_a", "coordinator_b", "data_manager", "statistician"])
def test_only_the_patients_site_answers(request, patient, data_manager, who):
    query = queries.open_query(user=data_manager, patient=patient, text="?")
    with pytest.raises(QueryRefused):
        queries.answer_query(user=request.getfixturevalue(who), query=query, text="answer")
    query.refresh_from_db()
    assert query.status == DataQuery.Status.OPEN
    assert query.messages.count() == 1


def test_site_cannot_close_and_a_double_answer_is_refused(patient, data_manager, coordinator_a):
    query = queries.open_query(user=data_manager, patient=patient, text="?")
    with pytest.raises(QueryRefused):
        queries.close_query(user=coordinator_a, query=query, text="done")
    queries.answer_query(user=coordinator_a, query=query, text="first")
    with pytest.raises(QueryRefused) as refused:
        queries.answer_query(user=coordinator_a, query=query, text="second")
    assert refused.value.code == "wrong_status"
    assert query.messages.count() == 2


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"text": "  "}, "text_required"),
    ({"text": "x" * 2001}, "text_too_long"),
    ({"text": "?", "record_type": "nonsense", "record_id": 1}, "bad_record"),
    ({"text": "?", "record_type": "screening", "record_id": "abc"}, "bad_record"),
    ({"text": "?", "record_type": "patient", "field": "no_such_field"}, "bad_field"),
    ({"text": "?", "field": "verdict"}, "bad_field"),
])
def test_bad_input_is_refused_and_nothing_is_saved(patient, data_manager, kwargs, code):
    with pytest.raises(QueryRefused) as refused:
        queries.open_query(user=data_manager, patient=patient, **kwargs)
    assert refused.value.code == code
    assert not DataQuery.objects.exists() and not QueryMessage.objects.exists()


def test_a_record_of_another_patient_is_refused(site_a, data_manager):
    screening = make_eligible_screening(site=site_a)
    other = PatientFactory(site=site_a)
    with pytest.raises(QueryRefused):
        queries.open_query(user=data_manager, patient=other, text="?", record_type="screening",
                           record_id=screening.pk, field="ecog")
    query = queries.open_query(user=data_manager, patient=screening.patient, text="ECOG 1?",
                               record_type="screening", record_id=screening.pk, field="ecog")
    assert query.record_id == screening.pk


def test_one_unclosed_automatic_query_per_finding(patient):
    first = queries.open_automatic(rule="labs_after_registration", patient_id=patient.pk, finding="k", text="t")
    assert first is not None
    assert queries.open_automatic(rule="labs_after_registration", patient_id=patient.pk, finding="k",
                                  text="t") is None
    # The database refuses it too (what decides when two runs race past the check).
    with pytest.raises(IntegrityError), transaction.atomic():
        DataQuery.objects.create(patient=patient, rule="labs_after_registration", finding="k", text="t",
                                 waiting_since=dt.date(2026, 1, 1))
    # Once closed (resolved or accepted by the data centre), the same finding is not raised again day after
    # day; changed data is another finding (its key carries what was found).
    DataQuery.objects.filter(pk=first.pk).update(status="closed")
    assert queries.open_automatic(rule="labs_after_registration", patient_id=patient.pk, finding="k",
                                  text="t") is None
    assert queries.open_automatic(rule="labs_after_registration", patient_id=patient.pk, finding="k2",
                                  text="t") is not None


@time_machine.travel(dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.UTC))
def test_labs_after_registration_check_finds_opens_once_and_counts_honestly(site_a, coordinator_a):
    make_plans()
    screening = make_eligible_screening(site=site_a)
    registration = register(screening, coordinator_a)
    clean = register(make_eligible_screening(site=site_a), coordinator_a)
    # A panel dated after the registration it supports (the site typed the wrong day).
    labs = screening.labs
    labs.date = registration.registration_date + dt.timedelta(days=2)
    labs.save()
    counts = checks.run(today=dt.date(2026, 4, 1))
    assert counts["labs_after_registration"] == {"found": 1, "created": 1}
    query = DataQuery.objects.get()
    assert query.patient_id == registration.patient_id != clean.patient_id
    assert (query.record_type, query.record_id, query.field) == ("labpanel", labs.pk, "date")
    assert query.opened_by is None and query.history.get().history_change_reason.startswith("Automatic check")
    # The daily re-run finds it again but opens nothing.
    assert checks.run(today=dt.date(2026, 4, 2))["labs_after_registration"] == {"found": 1, "created": 0}
    assert DataQuery.objects.count() == 1
    assert PrimaryRegistration.objects.count() == 2


def test_an_automatic_question_is_shown_in_the_readers_language():
    from django.utils import translation

    details = {"registration": "primary", "drawn": "2026-03-04", "registered": "2026-03-02"}
    with translation.override("en"):
        english = checks.describe("labs_after_registration", details)
    with translation.override("ja"):
        japanese = checks.describe("labs_after_registration", details)
    assert "2026-03-04" in english and "primary registration" in english
    assert "2026-03-04" in japanese and "一次登録" in japanese
