"""Screening test helpers: service inputs from the worked case files, and form POST data from them."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from screening import eligibility as rules
from screening import services
from tests.factories import initial_consent_version

CASES = Path(__file__).resolve().parent / "cases"
JUDGED_ON = dt.date(2026, 3, 2)  # registration_date of the primary worked cases


def _date(value):
    return dt.date.fromisoformat(value) if value else None


def _dec(value):
    return None if value is None else Decimal(str(value))


def inputs_from_case(case: dict) -> tuple[dict, list[dict], dict | None, dt.date]:
    """(data, lesions, labs, birth date) for save_screening, from a primary case file's facts."""
    pres = case.get("presentation") or {}
    staging = case.get("staging") or {}
    data = {
        "screening_date": _date(case["registration_date"]),
        "invasive_carcinoma": case.get("invasive_carcinoma"),
        "metastasis_biopsied": case.get("metastasis_biopsied"),
        "er": case.get("er"), "pgr": case.get("pgr"), "her2": case.get("her2"),
        "presentation_history": pres.get("history"), "breast_tumour": pres.get("breast_tumour"),
        "bilateral": pres.get("bilateral"), "side": pres.get("side"),
        "invasive_proven_by_metastasis_biopsy": pres.get("invasive_proven_by_metastasis_biopsy"),
        "diagnosed_as_recurrence": pres.get("diagnosed_as_recurrence"),
        "ct_date": _date(staging.get("ct_date")), "pet_date": _date(staging.get("pet_date")),
        "brain_mri_date": _date(staging.get("brain_mri_date")),
        "other_distant_metastasis": case.get("other_distant_metastasis"),
        "ecog": case.get("ecog"),
        "prior_metastasis_treatment": case.get("prior_metastasis_treatment"),
        "radical_primary_surgery_since_metastasis_diagnosis":
            case.get("radical_primary_surgery_since_metastasis_diagnosis"),
        # The form asks for three parts (date or not given) and derives the latest date; the surgery
        # carries the case's end date and the other two are recorded as not given (P14: a blank would
        # be "not recorded"). A case without an end date leaves all three blank.
        "initial_surgery_date": _date(case.get("initial_treatment_end_date")),
        "perioperative_chemotherapy_end_date": None, "targeted_therapy_end_date": None,
        "initial_surgery_not_given": False,
        "perioperative_chemotherapy_not_given": case.get("initial_treatment_end_date") is not None,
        "targeted_therapy_not_given": case.get("initial_treatment_end_date") is not None,
        "recurrence_date": _date(case.get("recurrence_date")),
        "other_cancer_therapy_within_5_years": case.get("other_cancer_therapy_within_5_years"),
        "lvef_percent": _dec(case.get("lvef_percent")),
        "consent_date": _date(case.get("consent_date")),
        # P18 (issue 17): the case files carry no version; the application needs one in force.
        "consent_version": initial_consent_version() if case.get("consent_date") else None,
        **{f"e{i}": (case.get("exclusions") or {}).get(f"E{i}") for i in range(1, 14)},
    }
    lesions = []
    for item in case.get("lesions") or []:
        lesion = {"organ": item["organ"], "diameter_mm": _dec(item.get("diameter_mm")),
                  "mdt_feasible": item.get("mdt_feasible"), "symptomatic": item.get("symptomatic")}
        bone = item.get("bone")
        if bone is not None:
            lesion.update({k: bone.get(k) for k in services.BONE_FIELDS})
            lesion["bilsky_grade"] = bone.get("bilsky_grade") or rules.BILSKY_NOT_SPINAL
        lesions.append(lesion)
    labs = case.get("labs")
    if labs is not None:
        labs = {"date": _date(labs.get("date")), **{k: _dec(labs.get(k)) for k in services.LAB_FIELDS[1:]}}
    return data, lesions, labs, _date(case["birth_date"])


def load(name: str) -> dict:
    return json.loads((CASES / name).read_text())


def eligible_inputs():
    """(data, lesions, labs) of the eligible luminal worked case, judged 2026-03-02."""
    data, lesions, labs, _birth = inputs_from_case(load("p_base_luminal.json"))
    return data, lesions, labs


def post_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value)


def post_data(data: dict, lesions: list[dict], labs: dict | None, *, rows: int = 4, reason: str | None = None,
              button: str = "save", initial_forms: int = 0) -> dict:
    """The POST of the screening form for these inputs (lesion `id` goes to the hidden `lesion_id`)."""
    post = {name: post_value(value) for name, value in data.items()}
    total = max(rows, len(lesions))
    post.update({"lesions-TOTAL_FORMS": str(total), "lesions-INITIAL_FORMS": str(initial_forms),
                 "lesions-MIN_NUM_FORMS": "0", "lesions-MAX_NUM_FORMS": "1000"})
    for i, lesion in enumerate(lesions):
        for name, value in lesion.items():
            post[f"lesions-{i}-{'lesion_id' if name == 'id' else name}"] = post_value(value)
    for name, value in (labs or {}).items():
        post[f"labs-{name}"] = post_value(value)
    if reason is not None:
        post["reason"] = reason
    post[button] = "1"
    return post
