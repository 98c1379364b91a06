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
def test_initial_treatment_end_is_the_latest_of_three_dates():
    screening = ScreeningFactory(
        presentation_history="invasive", breast_tumour="none", initial_surgery_date=dt.date(2023, 1, 10),
        perioperative_chemotherapy_end_date=dt.date(2023, 6, 30), targeted_therapy_end_date=None,
        recurrence_date=dt.date(2024, 6, 29))
    facts = screening.to_primary_facts()
    assert facts.initial_treatment_end_date == dt.date(2023, 6, 30)
    assert rules.evaluate(facts).criterion("P14").status == rules.NOT_MET  # one day short of 12 months


@pytest.mark.django_db
def test_four_lesions_can_be_recorded_and_fail_p5():
    lesion = {"organ": "lung", "diameter_mm": 10, "mdt_feasible": True, "symptomatic": False}
    screening = ScreeningFactory(lesions=[lesion] * 4)
    verdict = rules.evaluate(screening.to_primary_facts())
    assert verdict.failed == ["P5"]
