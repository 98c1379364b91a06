"""Screening services: numbering, saving with the engine's verdict, reasons, history, re-screening."""

import copy
import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from screening import services
from screening.exceptions import ReasonRequired, ScreeningError, ScreeningLocked
from screening.models import LabPanel, Lesion, Patient, Screening
from tests.conftest import need, uses_postgresql
from tests.screening.factories import CASES, JUDGED_ON, eligible_inputs, inputs_from_case, load

pytestmark = pytest.mark.django_db
BIRTH = dt.date(1968, 7, 15)


def new_patient(site, user, **kwargs):
    kwargs.setdefault("sex", "female")
    kwargs.setdefault("birth_date", BIRTH)
    return services.create_patient(site=site, user=user, **kwargs)


def screened(site, user, *, change=None, **kwargs):
    data, lesions, labs = eligible_inputs()
    if change:
        change(data, lesions, labs)
    patient = new_patient(site, user)
    return services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=user, **kwargs)


def counts():
    return {m.__name__: (m.objects.count(), m.history.count()) for m in (Patient, Screening, Lesion, LabPanel)}


# ---- numbering -------------------------------------------------------------------------------------


def test_screening_numbers_are_per_site_and_gapless(site_a, site_b, coordinator_a, coordinator_b):
    a = [new_patient(site_a, coordinator_a).screening_number for _ in range(3)]
    b = [new_patient(site_b, coordinator_b).screening_number for _ in range(2)]
    assert a == ["SITEA-S0001", "SITEA-S0002", "SITEA-S0003"]
    assert b == ["SITEB-S0001", "SITEB-S0002"]


def test_a_refused_creation_consumes_no_number(site_a, coordinator_a):
    new_patient(site_a, coordinator_a)
    future = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ScreeningError):
        new_patient(site_a, coordinator_a, birth_date=future)
    with pytest.raises(ScreeningError):
        new_patient(site_a, coordinator_a, sex="unknown")
    assert new_patient(site_a, coordinator_a).screening_number == "SITEA-S0002"


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_get_distinct_gapless_numbers(site_a, coordinator_a):
    # select_for_update on the Site row is what serialises these on PostgreSQL (SQLite: IMMEDIATE mode).
    need(uses_postgresql(), "PostgreSQL")
    errors = []

    def create():
        try:
            new_patient(site_a, coordinator_a)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(Patient.objects.values_list("sequence", flat=True)) == list(range(1, 9))


def test_only_editors_of_the_site_create_patients(site_a, monitor_a, coordinator_b, data_manager):
    for user in (monitor_a, coordinator_b, data_manager):
        with pytest.raises(ScreeningError) as exc:
            new_patient(site_a, user)
        assert exc.value.code == "forbidden"
    assert Patient.objects.count() == 0


def test_initials_are_checked(site_a, coordinator_a):
    assert new_patient(site_a, coordinator_a, initials="t.y.").initials == "T.Y."
    for bad in ("TANAKA", "12", "x" * 10000):
        with pytest.raises(ScreeningError):
            new_patient(site_a, coordinator_a, initials=bad)


# ---- saving and evaluating ---------------------------------------------------------------------------


def test_eligible_screening_stores_the_verdict_snapshot_and_moves_the_stage(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    assert screening.outcome == Screening.Outcome.ELIGIBLE
    assert screening.subtype == "luminal"
    assert screening.engine_version.startswith("oligami-eligibility")
    assert screening.evaluated_at is not None
    snap = screening.verdict
    assert snap["eligible"] is True and snap["failed"] == snap["missing"] == snap["excluded_by"] == []
    assert [c["id"] for c in snap["criteria"]] == [f"P{i}" for i in range(1, 19)] + [f"E{i}" for i in range(1, 14)]
    assert snap["engine_version"] == screening.engine_version
    assert snap["criteria"][15]["template"] and snap["criteria"][15]["params"]
    screening.patient.refresh_from_db()
    assert screening.patient.stage == Patient.Stage.ELIGIBLE
    assert screening.lesions.count() == 2 and screening.labs.anc == Decimal("3200")


def test_missing_facts_make_a_draft(site_a, coordinator_a):
    data, lesions, _labs = eligible_inputs()
    data["e13"] = None
    patient = new_patient(site_a, coordinator_a)
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=None, user=coordinator_a)
    assert screening.outcome == Screening.Outcome.DRAFT
    assert screening.verdict["missing"] == ["P16", "E13"]
    assert screening.labs is None
    patient.refresh_from_db()
    assert patient.stage == Patient.Stage.SCREENING


def test_a_fourth_lesion_is_recorded_and_fails_p5(site_a, coordinator_a):
    def four(data, lesions, labs):
        lesions += [{"organ": "liver", "diameter_mm": Decimal("25"), "mdt_feasible": True, "symptomatic": False},
                    {"organ": "lung", "diameter_mm": Decimal("5"), "mdt_feasible": True, "symptomatic": False}]

    screening = screened(site_a, coordinator_a, change=four)
    assert screening.lesions.count() == 4
    assert screening.outcome == Screening.Outcome.NOT_ELIGIBLE
    assert screening.verdict["failed"] == ["P5"]
    screening.patient.refresh_from_db()
    assert screening.patient.stage == Patient.Stage.SCREEN_FAILED


@pytest.mark.parametrize("name", sorted(p.name for p in CASES.glob("p_*.json")))
def test_the_database_path_gives_the_worked_case_verdicts(name, site_a, coordinator_a):
    """One engine: the facts saved through the service give the verdict check_eligibility gives."""
    case = load(name)
    data, lesions, labs, birth = inputs_from_case(case)
    patient = new_patient(site_a, coordinator_a, birth_date=birth)
    screening = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    blocking = [c["id"] for c in screening.verdict["criteria"] if c["status"] != "met"]
    assert screening.verdict["eligible"] is case["expect"]["eligible"]
    assert blocking == case["expect"]["not_eligible_because"]


def test_history_rows_carry_user_and_reason(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    patient = screening.patient
    assert patient.history.earliest().history_user == coordinator_a
    assert patient.history.earliest().history_change_reason == "Patient created"
    for model in (Screening, Lesion, LabPanel):
        rows = model.history.all()
        assert rows and all(r.history_user == coordinator_a for r in rows)
        assert all(r.history_change_reason == "Screening entered" for r in rows)

    data, lesions, labs = eligible_inputs()
    labs["anc"] = Decimal("1200")
    services.save_screening(patient=patient, screening=screening, data=data, lesions=_with_ids(screening, lesions),
                            labs=labs, user=coordinator_a, reason="ANC re-read from the lab report")
    latest_panel = LabPanel.history.latest()
    assert (latest_panel.history_user, latest_panel.history_change_reason) == (
        coordinator_a, "ANC re-read from the lab report")
    latest = Screening.history.latest()
    assert latest.history_change_reason == "ANC re-read from the lab report" and latest.outcome == "not_eligible"
    stage_row = Patient.history.latest()
    assert stage_row.stage == Patient.Stage.SCREEN_FAILED
    assert stage_row.history_change_reason == "ANC re-read from the lab report"
    # Unchanged lesions get no history row.
    assert Lesion.history.count() == 2


def _with_ids(screening, lesions):
    return [{"id": stored.pk, **given} for stored, given in zip(screening.lesions.all(), lesions, strict=True)]


# ---- reasons ---------------------------------------------------------------------------------------


def test_a_change_to_an_evaluated_screening_needs_a_reason(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    data["ecog"] = 2
    before = counts()
    for reason in (None, "", "   "):
        with pytest.raises(ReasonRequired):
            services.save_screening(patient=screening.patient, screening=screening, data=data,
                                    lesions=_with_ids(screening, lesions), labs=labs, user=coordinator_a,
                                    reason=reason)
    assert counts() == before
    screening.refresh_from_db()
    assert screening.ecog == 0 and screening.outcome == Screening.Outcome.ELIGIBLE

    saved = services.save_screening(patient=screening.patient, screening=screening, data=data,
                                    lesions=_with_ids(screening, lesions), labs=labs, user=coordinator_a,
                                    reason="ECOG re-assessed")
    assert saved.outcome == Screening.Outcome.NOT_ELIGIBLE and saved.verdict["failed"] == ["P10"]


def test_a_reason_longer_than_the_audit_column_is_refused(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    data["ecog"] = 1
    with pytest.raises(ScreeningError, match="too long"):
        services.save_screening(patient=screening.patient, screening=screening, data=data,
                                lesions=_with_ids(screening, lesions), labs=labs, user=coordinator_a,
                                reason="x" * 10000)


def test_completing_a_draft_needs_no_reason_but_changing_a_recorded_value_does(site_a, coordinator_a):
    data, lesions, labs = eligible_inputs()
    patient = new_patient(site_a, coordinator_a)
    draft = services.save_screening(patient=patient, data=data, lesions=lesions, labs=None, user=coordinator_a)
    assert draft.outcome == Screening.Outcome.DRAFT
    # Adding the missing labs: no reason needed.
    done = services.save_screening(patient=patient, screening=draft, data=data, lesions=_with_ids(draft, lesions),
                                   labs=labs, user=coordinator_a)
    assert done.outcome == Screening.Outcome.ELIGIBLE
    assert Screening.history.latest().history_change_reason == "Missing screening facts added"

    patient2 = new_patient(site_a, coordinator_a)
    draft2 = services.save_screening(patient=patient2, data=data, lesions=lesions, labs=None, user=coordinator_a)
    changed = {**data, "lvef_percent": Decimal("55")}
    with pytest.raises(ReasonRequired):
        services.save_screening(patient=patient2, screening=draft2, data=changed,
                                lesions=_with_ids(draft2, lesions), labs=None, user=coordinator_a)


def test_recording_a_part_not_given_in_a_draft_needs_no_reason(site_a, coordinator_a):
    """P14: an unticked "not given" is not recorded, like a blank date: ticking it fills a missing fact."""
    data, lesions, labs = eligible_inputs()
    data.update(presentation_history="invasive", breast_tumour="none", initial_surgery_date=dt.date(2023, 1, 10),
                recurrence_date=dt.date(2025, 1, 10))
    patient = new_patient(site_a, coordinator_a)
    draft = services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    assert draft.outcome == Screening.Outcome.DRAFT and draft.verdict["missing"] == ["P14"]
    data.update(perioperative_chemotherapy_not_given=True, targeted_therapy_not_given=True)
    done = services.save_screening(patient=patient, screening=draft, data=data, lesions=_with_ids(draft, lesions),
                                   labs=labs, user=coordinator_a)
    assert done.outcome == Screening.Outcome.ELIGIBLE


def test_saving_unchanged_facts_writes_nothing(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    before = counts()
    again = services.save_screening(patient=screening.patient, screening=screening, data=data,
                                    lesions=_with_ids(screening, lesions), labs=labs, user=coordinator_a)
    assert counts() == before
    assert again.evaluated_at == screening.evaluated_at


def test_lesions_are_updated_in_place_and_removed_with_history(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    bone, lung = screening.lesions.all()
    data, lesions, labs = eligible_inputs()
    kept = {"id": lung.pk, **lesions[1], "diameter_mm": Decimal("14")}
    services.save_screening(patient=screening.patient, screening=screening, data=data, lesions=[kept], labs=labs,
                            user=coordinator_a, reason="bone lesion was a haemangioma")
    assert list(screening.lesions.values_list("pk", "position", "diameter_mm")) == [(lung.pk, 1, Decimal("14.0"))]
    deleted = Lesion.history.filter(id=bone.pk, history_type="-").get()
    assert deleted.history_change_reason == "bone lesion was a haemangioma"


def test_clearing_the_labs_removes_the_panel_and_makes_p16_missing(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    data, lesions, _labs = eligible_inputs()
    saved = services.save_screening(patient=screening.patient, screening=screening, data=data,
                                    lesions=_with_ids(screening, lesions), labs=dict.fromkeys(services.LAB_FIELDS),
                                    user=coordinator_a, reason="labs entered for the wrong patient")
    assert saved.labs is None and LabPanel.objects.count() == 0
    assert saved.verdict["missing"] == ["P16"] and saved.outcome == Screening.Outcome.DRAFT


# ---- refusals leave nothing half-saved ----------------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    (lambda d, les, lab: d.update(consent_date=timezone.localdate() + dt.timedelta(days=1)), "future"),
    (lambda d, les, lab: d.update(screening_date=None), "required"),
    (lambda d, les, lab: lab.update(date=timezone.localdate() + dt.timedelta(days=3)), "future"),
    (lambda d, les, lab: les[1].update(diameter_mm=Decimal("-5")), "plausible"),
    (lambda d, les, lab: les[1].update(diameter_mm=Decimal("0")), "plausible"),
    (lambda d, les, lab: lab.update(anc=Decimal("-1")), "plausible"),
    (lambda d, les, lab: d.update(lvef_percent=Decimal("150")), "plausible"),
    (lambda d, les, lab: les[1].update(bilsky_grade="1c"), "bone lesions only"),
    (lambda d, les, lab: les[1].update(organ="spleen"), "valid choice"),
    (lambda d, les, lab: d.update(er="x" * 10000), "ER"),
    (lambda d, les, lab: d.update(ecog=7), "valid choice"),
    # P14: a part is a date or "not given", never both
    (lambda d, les, lab: d.update(initial_surgery_date=dt.date(2020, 1, 1), initial_surgery_not_given=True),
     "not both"),
])
def test_invalid_facts_are_refused_and_nothing_is_saved(site_a, coordinator_a, change, message):
    patient = new_patient(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    change(data, lesions, labs)
    before = counts()
    with pytest.raises(ScreeningError, match=message):
        services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)
    assert counts() == before


def test_a_lesion_of_another_screening_is_refused(site_a, coordinator_a):
    first = screened(site_a, coordinator_a)
    second = screened(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    foreign = [{"id": first.lesions.first().pk, **lesions[0]}, lesions[1]]
    before = counts()
    with pytest.raises(ScreeningError, match="does not belong"):
        services.save_screening(patient=second.patient, screening=second, data=data, lesions=foreign, labs=labs,
                                user=coordinator_a, reason="x")
    assert counts() == before


def test_a_screening_of_another_patient_is_refused(site_a, coordinator_a):
    first = screened(site_a, coordinator_a)
    other = new_patient(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    with pytest.raises(ScreeningError):
        services.save_screening(patient=other, screening=first, data=data, lesions=lesions, labs=labs,
                                user=coordinator_a, reason="x")


def test_a_second_first_screening_is_refused(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    with pytest.raises(ScreeningError, match="already been screened"):
        services.save_screening(patient=screening.patient, data=data, lesions=lesions, labs=labs, user=coordinator_a)


def test_read_only_users_and_other_sites_cannot_write(site_a, coordinator_a, monitor_a, coordinator_b,
                                                     data_manager):
    screening = screened(site_a, coordinator_a)
    data, lesions, labs = eligible_inputs()
    for user in (monitor_a, coordinator_b, data_manager):
        with pytest.raises(ScreeningError) as exc:
            services.save_screening(patient=screening.patient, screening=screening, data={**data, "ecog": 1},
                                    lesions=_with_ids(screening, lesions), labs=labs, user=user, reason="x")
        assert exc.value.code == "forbidden"
        with pytest.raises(ScreeningError):
            services.start_rescreening(patient=screening.patient, user=user)


def test_a_registered_patient_can_no_longer_change(site_a, coordinator_a):
    screening = screened(site_a, coordinator_a)
    Patient.objects.filter(pk=screening.patient.pk).update(stage=Patient.Stage.REGISTERED)  # set-up only
    data, lesions, labs = eligible_inputs()
    with pytest.raises(ScreeningLocked):
        services.save_screening(patient=screening.patient, screening=screening, data={**data, "ecog": 1},
                                lesions=_with_ids(screening, lesions), labs=labs, user=coordinator_a, reason="x")
    with pytest.raises(ScreeningLocked):
        services.start_rescreening(patient=screening.patient, user=coordinator_a)


# ---- re-screening ------------------------------------------------------------------------------------


def _low_hb(data, lesions, labs):
    labs["hemoglobin"] = Decimal("8.4")


def test_rescreening_starts_screening_two_and_keeps_the_first_as_it_was(site_a, coordinator_a):
    first = screened(site_a, coordinator_a, change=_low_hb)
    assert first.outcome == Screening.Outcome.NOT_ELIGIBLE
    first_verdict = copy.deepcopy(first.verdict)
    first_history = first.history.count()

    second = services.start_rescreening(patient=first.patient, user=coordinator_a, reason="transfused",
                                        screening_date=JUDGED_ON + dt.timedelta(days=20))
    assert second.number == 2 and second.outcome == Screening.Outcome.DRAFT
    # History facts copied; the facts about now start empty.
    for name in services.RESCREEN_COPIED_FIELDS:
        assert getattr(second, name) == getattr(first, name), name
    assert second.labs is None and second.lesions.count() == 0 and second.ecog is None and second.e1 is None
    assert second.history.get().history_change_reason == "transfused"
    first.patient.refresh_from_db()
    assert first.patient.stage == Patient.Stage.SCREENING

    # Completing screening 2 makes the patient eligible; screening 1 is unchanged.
    data, lesions, labs = eligible_inputs()
    date2 = JUDGED_ON + dt.timedelta(days=20)
    data.update(screening_date=date2)
    labs.update(date=date2 - dt.timedelta(days=2))
    done = services.save_screening(patient=first.patient, screening=second, data=data, lesions=lesions, labs=labs,
                                   user=coordinator_a)
    assert done.outcome == Screening.Outcome.ELIGIBLE
    first.refresh_from_db()
    assert first.verdict == first_verdict and first.outcome == Screening.Outcome.NOT_ELIGIBLE
    assert first.history.count() == first_history
    first.patient.refresh_from_db()
    assert first.patient.stage == Patient.Stage.ELIGIBLE

    # The superseded screening is kept as it was.
    with pytest.raises(ScreeningLocked):
        services.save_screening(patient=first.patient, screening=first, data={**data, "ecog": 1}, lesions=[],
                                labs=None, user=coordinator_a, reason="x")


def test_rescreening_a_draft_or_an_unscreened_patient_is_refused(site_a, coordinator_a):
    patient = new_patient(site_a, coordinator_a)
    with pytest.raises(ScreeningError, match="not been screened"):
        services.start_rescreening(patient=patient, user=coordinator_a)
    data, lesions, _labs = eligible_inputs()
    services.save_screening(patient=patient, data=data, lesions=lesions, labs=None, user=coordinator_a)
    with pytest.raises(ScreeningError, match="draft"):
        services.start_rescreening(patient=patient, user=coordinator_a)
    assert patient.screenings.count() == 1
