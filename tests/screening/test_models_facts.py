"""The one translation from the database to the engine: the base factory is the eligible worked case."""

import datetime as dt

import pytest

from screening import eligibility as rules
from tests.factories import ScreeningFactory


@pytest.mark.django_db
def test_factory_screening_is_the_eligible_luminal_worked_case():
    screening = ScreeningFactory()
    verdict = rules.evaluate(screening.to_primary_facts())
    assert verdict.eligible, verdict.to_dict()
    assert verdict.subtype == "luminal"


@pytest.mark.django_db
def test_initial_treatment_end_is_the_latest_date_among_the_parts_given():
    screening = ScreeningFactory(
        presentation_history="invasive", breast_tumour="none", initial_surgery_date=dt.date(2023, 1, 10),
        perioperative_chemotherapy_end_date=dt.date(2023, 6, 30), targeted_therapy_not_given=True,
        recurrence_date=dt.date(2024, 6, 29))
    facts = screening.to_primary_facts()
    assert facts.initial_treatment_end_date == dt.date(2023, 6, 30)
    assert rules.evaluate(facts).criterion("P14").status == rules.NOT_MET  # one day short of 12 months


@pytest.mark.django_db
def test_a_blank_initial_treatment_part_is_not_recorded_never_not_given():
    """Round 2 (ELIGIBILITY.md "Recording the initial treatment (P14)"): this screening passed P14 when
    the blank targeted-therapy date was read as "not given"; now P14 is missing until it is recorded."""
    screening = ScreeningFactory(
        presentation_history="invasive", breast_tumour="none", initial_surgery_date=dt.date(2023, 1, 10),
        perioperative_chemotherapy_end_date=dt.date(2023, 6, 30), recurrence_date=dt.date(2025, 1, 10))
    assert screening.initial_treatment_parts() == [dt.date(2023, 1, 10), dt.date(2023, 6, 30), None]
    assert rules.evaluate(screening.to_primary_facts()).missing == ["P14"]
    screening.targeted_therapy_not_given = True
    assert rules.evaluate(screening.to_primary_facts()).eligible
    screening.targeted_therapy_not_given, screening.targeted_therapy_end_date = False, dt.date(2024, 3, 1)
    assert rules.evaluate(screening.to_primary_facts()).failed == ["P14"]  # 10 months after the end


@pytest.mark.django_db
def test_de_novo_needs_no_initial_treatment_parts():
    screening = ScreeningFactory()  # <1>(ii): de novo, all three parts blank
    assert screening.initial_treatment_parts() == [None, None, None]
    assert rules.evaluate(screening.to_primary_facts()).criterion("P14").status == rules.MET


@pytest.mark.django_db
def test_four_lesions_can_be_recorded_and_fail_p5():
    lesion = {"organ": "lung", "diameter_mm": 10, "mdt_feasible": True, "symptomatic": False}
    screening = ScreeningFactory(lesions=[lesion] * 4)
    verdict = rules.evaluate(screening.to_primary_facts())
    assert verdict.failed == ["P5"]
