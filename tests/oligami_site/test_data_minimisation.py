"""Personal data minimisation: no names or hospital IDs stored for patients; screening and registration numbers
only in e-mails, log records and task arguments (never initials or birth dates).

The journey runs through the pages as a coordinator would: a new patient with initials and a birth date,
her screening, a wrong and a right signature password at primary registration, the response evaluation,
secondary registration and randomization (the result e-mail), the daily reminder scan (digests), and a
randomization refused for want of an allocation list (the data managers' alert e-mail).
"""

import datetime as dt
import inspect
import logging
import re

import pytest
import time_machine
from django.apps import apps
from django.core import mail
from django.db import models
from django.urls import reverse

from screening.models import Patient
from tests.factories import PASSWORD, UserFactory
from tests.registration.factories import make_plans, record_courses
from tests.screening.factories import eligible_inputs, post_data

pytestmark = pytest.mark.django_db
TOKYO = dt.timezone(dt.timedelta(hours=9))
PROJECT_APPS = ("oligami_site", "screening", "registration", "randomization", "followup", "safety", "oversight")

INITIALS = "QXZ"
BIRTH = dt.date(1961, 4, 27)
# Every way a birth date could be written in a message.
BIRTH_FORMS = {BIRTH.isoformat(), BIRTH.strftime("%Y/%m/%d"), BIRTH.strftime("%Y%m%d"), "1961年4月27日",
               BIRTH.strftime("%d/%m/%Y"), BIRTH.strftime("%m/%d/%Y"), "April 27, 1961", "Apr. 27, 1961"}

# A patient-related field that names, identifies or reaches a person (the patient, not staff).
PERSONAL = re.compile(r"(^|_)(name|names|kana|kanji|romaji|hospital|mrn|medical_record|record_number|chart|karte|"
                      r"insurance|phone|tel|postcode|postal|zip|home_address|street|email|mail|nationality|"
                      r"my_number|passport)($|_)")
# Fields on patient records that name staff, not the patient (reviewed one by one).
STAFF_FIELDS = {
    "randomization.Allocation.signed_name": "the printed name of the coordinator who signed the randomization",
    "randomization.HistoricalAllocation.signed_name": "its audit copy",
}
# The only fields a Patient has: any new one is a decision about personal data, reviewed here.
PATIENT_FIELDS = {"id", "site", "screening_number", "sequence", "sex", "birth_date", "initials", "stage",
                  "created_at"}


def reaches_patient(model, depth=0) -> bool:
    if model is Patient or (getattr(model, "instance_type", None) is Patient):
        return True
    if depth >= 3:
        return False
    return any(reaches_patient(f.related_model, depth + 1) for f in model._meta.get_fields()
               if isinstance(f, models.ForeignKey | models.OneToOneField) and f.related_model is not None
               and f.concrete and f.related_model._meta.app_label in PROJECT_APPS)


def test_patients_have_no_name_or_hospital_id_fields():
    patient_models = [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS and reaches_patient(m)]
    assert Patient in patient_models and len(patient_models) >= 10  # histories, screenings, registrations...
    offences = [f"{m._meta.label}.{f.name}" for m in patient_models for f in m._meta.concrete_fields
                if PERSONAL.search(f.name) and f"{m._meta.label}.{f.name}" not in STAFF_FIELDS]
    assert not offences, f"personal fields on patient records: {offences}"
    assert {f.name for f in Patient._meta.concrete_fields} == PATIENT_FIELDS
    initials = Patient._meta.get_field("initials")
    assert initials.max_length == 4  # initials at most, never a name


def test_the_pattern_catches_what_it_should():
    for name in ("name", "patient_name", "name_kana", "hospital_id", "mrn", "medical_record_number", "karte_no",
                 "phone", "email", "home_address"):
        assert PERSONAL.search(name), name
    for name in ("screening_number", "site", "ip_address", "organ", "engine_version", "stage", "history_user"):
        assert not PERSONAL.search(name), name
    assert personal([("x", f"Patient {INITIALS}")]) and personal([("x", "born 1961/04/27")])
    assert not personal([("x", "Patient SITEA-S0001 (OLG-0001)")])


# --- the journey ---------------------------------------------------------------------------------------------


def at(day: dt.date, hour=10):
    return time_machine.travel(dt.datetime.combine(day, dt.time(hour, 0), tzinfo=TOKYO), tick=False)


def personal(texts) -> list[str]:
    found = []
    for where, text in texts:
        if re.search(rf"\b{INITIALS}\b", text):
            found.append(f"{where}: initials")
        found += [f"{where}: birth date {form}" for form in BIRTH_FORMS if form in text]
    return found


@pytest.fixture
def journey(client, site_a, coordinator_a, investigator_a, data_manager, caplog,
            django_capture_on_commit_callbacks):
    from randomization.models import Allocation
    from tests.randomization.factories import minimization_config

    caplog.set_level(logging.DEBUG)
    make_plans()
    minimization_config()
    data_manager.email, coordinator_a.preferred_language = "dm@example.org", "ja"
    data_manager.save()
    coordinator_a.save()
    judged = dt.date(2026, 3, 2)
    with django_capture_on_commit_callbacks(execute=True):
        with at(judged):
            client.post(reverse("login"), {"username": "crc_a", "password": "wrong"})  # a failed login, logged
            assert client.login(username="crc_a", password=PASSWORD)
            response = client.post(reverse("screening:patient_create"), {
                "site": site_a.pk, "sex": "female", "birth_date": BIRTH.isoformat(), "initials": INITIALS})
            assert response.status_code == 302, response.content.decode()[:3000]
            patient = Patient.objects.get(initials=INITIALS)
            data, lesions, labs = eligible_inputs()
            response = client.post(reverse("screening:screening_create", args=[patient.pk]),
                                   post_data(data, lesions, labs))
            assert response.status_code == 302
            primary = reverse("registration:primary", args=[patient.pk])
            assert client.post(primary, {"password": "wrong"}).status_code == 200  # a wrong signature, logged
            assert client.post(primary, {"password": PASSWORD}).status_code == 302
        patient.refresh_from_db()
        assert patient.stage == Patient.Stage.REGISTERED
        try:
            from registration import reminders
        except ImportError:  # pragma: no cover - reminders come with the reminders issue
            reminders = None
        if reminders is not None:
            for day in (judged + dt.timedelta(days=70), judged + dt.timedelta(days=80)):
                with at(day, hour=8):
                    reminders.run_daily(today=day)
        evaluation_day = judged + dt.timedelta(days=85)
        with at(evaluation_day):
            record_courses(patient, coordinator_a, 3, evaluation_day)  # S1 reads the recorded courses (issue 16)
            client.force_login(coordinator_a)
            form = {"date": evaluation_day.isoformat(), "overall_response": "PR", "progression": "no",
                    "new_distant_metastasis": "no", "remaining_lesions": "2",
                    "mdt_since_primary": "no", "ecog": "0", "labs-date": evaluation_day.isoformat(),
                    "labs-anc": "3000", "labs-hemoglobin": "12", "labs-platelets": "220000", "labs-bilirubin": "0.6",
                    "labs-ast": "20", "labs-alt": "20", "labs-creatinine": "0.8"}
            response = client.post(reverse("registration:evaluation", args=[patient.pk]), form)
            assert response.status_code == 302, response.content.decode()[:3000]
        with at(evaluation_day + dt.timedelta(days=1)):
            client.force_login(coordinator_a)  # a day later: the session of the day before has ended
            response = client.post(reverse("registration:secondary", args=[patient.pk]), {"password": PASSWORD})
            assert response.status_code == 302 and "randomization" in response["Location"]
        assert Allocation.objects.filter(patient=patient).exists()
    patient.refresh_from_db()
    return patient


def test_a_journey_logs_and_mails_numbers_only(journey, caplog):
    patient = journey
    numbers = {patient.screening_number, patient.primary_registration.number}
    assert mail.outbox, "the journey sends the randomization result at least"
    texts = [(f"mail {i} {m.subject}", "\n".join([m.subject, m.body, *(c for c, _t in m.alternatives)]))
             for i, m in enumerate(mail.outbox)]
    assert not personal(texts), personal(texts)
    assert len(mail.outbox) >= 2  # the reminder digest(s) and the randomization result
    for where, text in texts:  # every mail of the journey is about her, and names her by number
        assert any(number in text for number in numbers), where

    records = [(f"log {r.name}", r.getMessage()) for r in caplog.get_records("setup") + caplog.records]
    assert any("Signature refused" in text for _w, text in records)  # the wrong signature was logged
    assert not personal(records), personal(records)
    assert any(str(patient.pk) in text or patient.screening_number in text for _w, text in records)


def test_the_data_managers_alert_names_the_patient_by_number_only(site_a, coordinator_a, data_manager,
                                                                  django_capture_on_commit_callbacks, caplog):
    from randomization import services
    from randomization.exceptions import RandomizationError
    from tests.randomization.factories import FACTORS, blocks_config, ready_patient

    caplog.set_level(logging.DEBUG)
    data_manager.email = "dm@example.org"
    data_manager.save()
    blocks_config(generate=False)  # no allocation list: the randomization is refused and the data centre alerted
    patient = ready_patient(site_a, initials=INITIALS, birth_date=BIRTH)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RandomizationError) as refused:
        services.randomize(patient=patient, factors=FACTORS, user=coordinator_a)
    # The test's own transaction is open, so randomize leaves the alert for the caller, as the views do.
    services.send_pending_alert(refused.value)
    alerts = [m for m in mail.outbox if "dm@example.org" in m.to]
    assert alerts and all(patient.screening_number in m.body for m in alerts)
    texts = [("alert", "\n".join([m.subject, m.body, *(c for c, _t in m.alternatives)])) for m in alerts]
    texts += [(f"log {r.name}", r.getMessage()) for r in caplog.records]
    assert not personal(texts), personal(texts)


# --- Celery ----------------------------------------------------------------------------------------------------


def project_tasks():
    from oligami_site.celery import app

    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.split(".")[0] in PROJECT_APPS}


def test_task_arguments_are_ids_or_dates_only():
    """A task's message sits in Redis: it carries ids (or ISO dates), never a patient's data."""
    tasks = project_tasks()
    for name, task in tasks.items():
        for parameter in inspect.signature(task.run).parameters.values():
            ok_name = parameter.name in ("day", "date", "today", "now") or re.search(r"(^|_)ids?$", parameter.name)
            assert ok_name, f"{name}({parameter.name}): tasks take ids or ISO dates"
            assert parameter.annotation in (int, str, str | None, int | None, list[int], inspect.Parameter.empty), \
                f"{name}({parameter.name}: {parameter.annotation})"
    from django.conf import settings

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in tasks
        for value in [*entry.get("args", ()), *entry.get("kwargs", {}).values()]:
            assert isinstance(value, int) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)), entry


def test_tasks_sent_during_a_journey_carry_ids_only(journey, monkeypatch):
    """Whatever the journey queued (apply_async is the one door of delay and delay_on_commit) is checked;
    the reminder task is also sent here once, as beat sends it."""
    from celery.app.task import Task

    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda self, args=None, kwargs=None, **options: sent.append(
        (self.name, tuple(args or ()), dict(kwargs or {}))))
    tasks = project_tasks()
    if "registration.tasks.daily_reminders" in tasks:
        tasks["registration.tasks.daily_reminders"].delay("2026-05-27")
    for name, args, kwargs in sent:
        for value in [*args, *kwargs.values()]:
            assert isinstance(value, int) or value is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)), \
                f"{name}: {value!r}"


def test_staff_names_are_staff_data(coordinator_a):
    """Users (staff) have names: the signature prints the signer's name, never the patient's."""
    signer = UserFactory(username="signer", first_name="Hanako", last_name="Yamada")
    assert signer.printed_name == "Hanako Yamada"
