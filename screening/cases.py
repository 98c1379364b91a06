"""Case files (protocol/CASES.md): plain JSON facts of one patient at one registration step.

Strict parsing into the engine's fact dataclasses, without Django. A malformed file (bad JSON, unknown
stage, a field of the wrong type, an unknown enum value or key, a bad date) raises ``CaseFormatError``
naming the field. An absent fact (key missing or null) is not an error: it becomes ``None`` and the
engine reports the criteria that need it as ``missing``. The ``expect`` key of the worked examples is
ignored; any other unknown key is rejected, so a misspelt field name is reported rather than silently
turned into an absent fact.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from .eligibility import (
    BILSKY_GRADES,
    BILSKY_NOT_SPINAL,
    EXCLUSION_IDS,
    HISTORIES,
    ORGANS,
    PRIMARY,
    RECEPTOR_STATUSES,
    RESPONSES,
    SECONDARY,
    SEXES,
    SIDES,
    SUBTYPES,
    TUMOURS,
    BoneFindings,
    Labs,
    Lesion,
    Presentation,
    PrimaryFacts,
    ResponseEvaluation,
    SecondaryFacts,
    Staging,
    Verdict,
    evaluate,
)

__all__ = [
    "CaseFormatError",
    "check_case",
    "load_case",
    "loads_case",
    "parse_case",
    "verdict_to_json_dict",
]

IGNORED_KEYS = frozenset({"expect"})  # the worked examples' expected verdict
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CaseFormatError(ValueError):
    """The case file is malformed; the message names the field (e.g. ``lesions[0].diameter_mm``)."""


def _describe(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(path: str, expected: str, value: Any) -> CaseFormatError:
    return CaseFormatError(f"{path}: expected {expected}, got {_describe(value)}")


# Field readers: (object, key, path) -> value or None. An absent key and null both give None.


def _bool(value: Any, path: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):  # 0/1 are not booleans here
        raise _fail(path, "true, false or null", value)
    return value


def _date(value: Any, path: str) -> dt.date | None:
    if value is None:
        return None
    # fromisoformat alone would also take "20260302" or week dates: CASES.md says ISO date, YYYY-MM-DD.
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise _fail(path, "an ISO date YYYY-MM-DD or null", value)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(path, "a valid calendar date", value) from None


def _number(
    low: Decimal | None = Decimal(0), high: Decimal | None = None
) -> Callable[[Any, str], Decimal | None]:
    def read(value: Any, path: str) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):  # true is not a number here
            raise _fail(path, "a number or null", value)
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(path, "a finite number", value)
        # Through str: 1.5 stays exactly 1.5, so boundaries compare exactly.
        number = Decimal(value) if isinstance(value, int) else Decimal(str(value))
        if low is not None and number < low:
            raise _fail(path, f"a number >= {low}", value)
        if high is not None and number > high:
            raise _fail(path, f"a number <= {high}", value)
        return number

    return read


def _integer(low: int, high: int | None = None) -> Callable[[Any, str], int | None]:
    def read(value: Any, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "an integer or null", value)
        if value < low or (high is not None and value > high):
            limits = f"from {low} to {high}" if high is not None else f">= {low}"
            raise _fail(path, f"an integer {limits}", value)
        return value

    return read


def _enum(choices: tuple[str, ...]) -> Callable[[Any, str], str | None]:
    def read(value: Any, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in choices:
            raise _fail(path, "one of " + ", ".join(f'"{c}"' for c in choices) + " or null", value)
        return value

    return read


def _object(value: Any, path: str, fields: Mapping[str, Callable[[Any, str], Any]]) -> dict[str, Any] | None:
    """Read a JSON object whose keys are exactly ``fields`` (each optional); None for null."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _fail(path, "an object or null", value)
    for key in value:
        if not isinstance(key, str):
            raise CaseFormatError(f"{path}: keys must be strings, got {_describe(key)}")
        if key not in fields:
            raise CaseFormatError(f"{_join(path, key)}: unknown field (expected one of: {', '.join(fields)})")
    return {name: read(value.get(name), _join(path, name)) for name, read in fields.items()}


def _join(path: str, key: str) -> str:
    return key if not path else f"{path}.{key}"


def _labs(value: Any, path: str) -> Labs | None:
    number = _number()
    fields = {
        "date": _date,
        "anc": number,
        "hemoglobin": number,
        "platelets": number,
        "bilirubin": number,
        "ast": number,
        "alt": number,
        "creatinine": number,
    }
    data = _object(value, path, fields)
    return None if data is None else Labs(**data)


def _bilsky(value: Any, path: str) -> str | None:
    # CASES.md: null means the lesion does not involve the spine (grading not applicable), which is a
    # fact; only an absent key is an absent fact (handled in _bone).
    if value is None:
        return BILSKY_NOT_SPINAL
    return _enum(BILSKY_GRADES)(value, path)


def _bone(value: Any, path: str) -> BoneFindings | None:
    fields = {
        "three_consecutive_vertebrae": _bool,
        "bilsky_grade": _bilsky,
        "femoral_head_neck_trochanter": _bool,
        "cortical_defect_over_one_third": _bool,
        "uncontrolled_pain": _bool,
    }
    data = _object(value, path, fields)
    if data is None:
        return None
    if "bilsky_grade" not in value:
        data["bilsky_grade"] = None  # absent key: the grade was not recorded
    return BoneFindings(**data)


def _lesion(value: Any, path: str) -> Lesion:
    fields = {
        "organ": _enum(ORGANS),
        "diameter_mm": _number(),
        "mdt_feasible": _bool,
        "symptomatic": _bool,
        "bone": _bone,
    }
    if value is None:
        raise _fail(path, "a lesion object", value)
    return Lesion(**_object(value, path, fields))


def _lesions(value: Any, path: str) -> tuple[Lesion, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _fail(path, "a list of lesion objects or null", value)
    return tuple(_lesion(item, f"{path}[{i}]") for i, item in enumerate(value))


def _presentation(value: Any, path: str) -> Presentation | None:
    fields = {
        "history": _enum(HISTORIES),
        "breast_tumour": _enum(TUMOURS),
        "bilateral": _bool,
        "side": _enum(SIDES),
        "invasive_proven_by_metastasis_biopsy": _bool,
        "diagnosed_as_recurrence": _bool,
    }
    data = _object(value, path, fields)
    return None if data is None else Presentation(**data)


def _staging(value: Any, path: str) -> Staging | None:
    data = _object(value, path, {"ct_date": _date, "pet_date": _date, "brain_mri_date": _date})
    return None if data is None else Staging(**data)


def _exclusions(value: Any, path: str) -> dict[str, bool | None] | None:
    return _object(value, path, dict.fromkeys(EXCLUSION_IDS, _bool))


def _response_evaluation(value: Any, path: str) -> ResponseEvaluation | None:
    data = _object(
        value,
        path,
        {
            "date": _date,
            "progression": _bool,
            "new_distant_metastasis": _bool,
            "overall_response": _enum(RESPONSES),  # optional (CASES.md): absent or null, no effect
        },
    )
    return None if data is None else ResponseEvaluation(**data)


_ECOG = _integer(0, 4)

PRIMARY_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "registration_date": _date,
    "birth_date": _date,
    "sex": _enum(SEXES),
    "invasive_carcinoma": _bool,
    "metastasis_biopsied": _bool,
    "er": _enum(RECEPTOR_STATUSES),
    "pgr": _enum(RECEPTOR_STATUSES),
    "her2": _enum(RECEPTOR_STATUSES),
    "presentation": _presentation,
    "staging": _staging,
    "lesions": _lesions,
    "other_distant_metastasis": _bool,
    "ecog": _ECOG,
    "prior_metastasis_treatment": _bool,
    "radical_primary_surgery_since_metastasis_diagnosis": _bool,
    "initial_treatment_end_date": _date,
    "recurrence_date": _date,
    "other_cancer_therapy_within_5_years": _bool,
    "labs": _labs,
    "lvef_percent": _number(Decimal(0), Decimal(100)),
    "consent_date": _date,
    "exclusions": _exclusions,
}

SECONDARY_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "registration_date": _date,
    "primary_registration_date": _date,
    "subtype": _enum(SUBTYPES),
    "planned_courses_completed": _bool,
    "response_evaluation": _response_evaluation,
    "remaining_lesions": _integer(0),
    "primary_lesion_count": _integer(0),  # optional (CASES.md): absent or null, no check
    "mdt_since_primary": _bool,
    "ecog": _ECOG,
    "labs": _labs,
}


def parse_case(data: Any) -> PrimaryFacts | SecondaryFacts:
    """A case-file object (already decoded from JSON) -> PrimaryFacts or SecondaryFacts."""
    if not isinstance(data, Mapping):
        raise _fail("case", "a JSON object", data)
    stage = data.get("stage")
    if stage == PRIMARY:
        fields, facts_class = PRIMARY_FIELDS, PrimaryFacts
    elif stage == SECONDARY:
        fields, facts_class = SECONDARY_FIELDS, SecondaryFacts
    else:
        raise _fail("stage", f'"{PRIMARY}" or "{SECONDARY}"', stage)
    body = {k: v for k, v in data.items() if k not in IGNORED_KEYS and k != "stage"}
    return facts_class(**_object(body, "", fields))


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CaseFormatError(f"{key}: duplicate key")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise CaseFormatError(f"invalid JSON: {name} is not a number in JSON")


def loads_case(text: str) -> PrimaryFacts | SecondaryFacts:
    """Decode and parse one case file's text."""
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except CaseFormatError:
        raise
    except json.JSONDecodeError as exc:
        raise CaseFormatError(f"invalid JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:
        # The decoder's own limits: an integer of more than 4300 digits, nesting deeper than the stack.
        raise CaseFormatError(f"invalid JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
    return parse_case(data)


def load_case(path: str | Path) -> PrimaryFacts | SecondaryFacts:
    """Read, decode and parse a case file; an unreadable or undecodable file is a CaseFormatError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFormatError(f"{path}: cannot read: {exc}") from None
    return loads_case(text)


def check_case(data: Any) -> Verdict:
    """Parse and evaluate a decoded case file."""
    return evaluate(parse_case(data))


def verdict_to_json_dict(verdict: Verdict, case_name: str) -> dict[str, Any]:
    """The verdict object of CASES.md (case, stage, eligible, subtype, failed, missing, excluded_by,
    criteria)."""
    return verdict.to_dict(case=case_name)
