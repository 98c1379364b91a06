"""Reportability case files (SAFETY.md, "The check_reportability command"): JSON in, one JSON line out.

Pure (standard library only). A malformed file raises ``CaseFormatError`` naming the field: not JSON,
a value of the wrong type, an unknown kind or causality, a date not written ``YYYY-MM-DD``, an awareness
without its UTC offset, a grade outside 1-4 for an adverse event, or a fact the decision needs that is
missing. A key is required only where the decision needs it, but any value present must be valid (for a
death only ``onset_date`` and ``causality`` are read, so only they are checked).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .reportability import (
    FIRST_REPORT_HOURS,
    GRADES,
    SECOND_REPORT_DAYS,
    Causality,
    Decision,
    Event,
    Kind,
    MissingFact,
    Treatment,
    assess,
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MISSING = object()

# Where each fact the rules may ask for sits in the file, for the error message.
_PATHS = {
    "protocol_treatment": "protocol_treatment",
    "last_day": "protocol_treatment.last_day",
    "causality": "event.causality",
    "grade": "event.grade",
    "expected": "event.expected",
    "hospitalization_24h": "event.hospitalization_24h",
    "awareness": "awareness",
}


class CaseFormatError(ValueError):
    pass


def _get(obj: dict, key: str):
    value = obj.get(key, _MISSING)
    return None if value is _MISSING else value


def _object(value, path: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CaseFormatError(f"{path} must be an object")
    return value


def _date(value, path: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise CaseFormatError(f"{path} must be a date written YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CaseFormatError(f"{path} is not a calendar date: {value!r}") from None


def _required_date(value, path: str) -> date:
    parsed = _date(value, path)
    if parsed is None:
        raise CaseFormatError(f"{path} is required")
    return parsed


def _bool(value, path: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise CaseFormatError(f"{path} must be true or false, got {value!r}")
    return value


def _awareness(value) -> datetime | None:
    if value is None:
        return None
    # A date-time with its offset: the date, a "T", the time; fromisoformat alone would also take a date.
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", value):
        raise CaseFormatError(f"awareness must be an ISO 8601 date-time with its UTC offset, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CaseFormatError(f"awareness is not a valid date-time: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise CaseFormatError(f"awareness must carry its UTC offset (e.g. +09:00), got {value!r}")
    return parsed


def _causality(value) -> Causality | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in set(Causality):
        allowed = ", ".join(c.value for c in Causality)
        raise CaseFormatError(f"event.causality must be one of {allowed}, got {value!r}")
    return Causality(value)


def _grade(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CaseFormatError(f"event.grade must be an integer 1-4, got {value!r}")
    if value not in GRADES:
        hint = " (grade 5 is a death: use kind \"death\")" if value == 5 else ""
        raise CaseFormatError(f"event.grade must be 1-4 for an adverse event, got {value}{hint}")
    return value


def parse_case(data: Any) -> tuple[date, Treatment | None, Event, datetime | None]:
    """Strictly parse a decoded case into the rules' facts."""
    if not isinstance(data, dict):
        raise CaseFormatError("the case must be a JSON object")
    primary = _required_date(_get(data, "primary_registration_date"), "primary_registration_date")
    raw_treatment = _object(_get(data, "protocol_treatment"), "protocol_treatment")
    treatment = None
    if raw_treatment is not None:
        start = _date(_get(raw_treatment, "start_date"), "protocol_treatment.start_date")
        last = _date(_get(raw_treatment, "last_day"), "protocol_treatment.last_day")
        ongoing = _bool(_get(raw_treatment, "ongoing"), "protocol_treatment.ongoing")
        if start is not None and last is not None and last < start:
            raise CaseFormatError("protocol_treatment.last_day is before protocol_treatment.start_date")
        if start is not None and start < primary:
            raise CaseFormatError("protocol_treatment.start_date is before primary_registration_date")
        treatment = Treatment(start_date=start, last_day=last, ongoing=bool(ongoing))
    raw_event = _object(_get(data, "event"), "event")
    if raw_event is None:
        raise CaseFormatError("event is required")
    kind = _get(raw_event, "kind")
    if kind not in set(Kind):
        raise CaseFormatError(f"event.kind must be \"death\" or \"adverse_event\", got {kind!r}")
    onset = _required_date(_get(raw_event, "onset_date"), "event.onset_date")
    causality = _causality(_get(raw_event, "causality"))
    if kind == Kind.DEATH:
        event = Event(kind=Kind.DEATH, onset_date=onset, causality=causality)
    else:
        event = Event(kind=Kind.ADVERSE_EVENT, onset_date=onset, grade=_grade(_get(raw_event, "grade")),
                      expected=_bool(_get(raw_event, "expected"), "event.expected"),
                      hospitalization_24h=_bool(_get(raw_event, "hospitalization_24h"), "event.hospitalization_24h"),
                      causality=causality)
    return primary, treatment, event, _awareness(_get(data, "awareness"))


def judge(data: Any, *, first_report_hours: int = FIRST_REPORT_HOURS,
          second_report_days: int = SECOND_REPORT_DAYS) -> Decision:
    primary, treatment, event, awareness = parse_case(data)
    try:
        return assess(primary_registration_date=primary, treatment=treatment, event=event, awareness=awareness,
                      first_report_hours=first_report_hours, second_report_days=second_report_days)
    except MissingFact as exc:
        path = _PATHS.get(exc.field, exc.field)
        raise CaseFormatError(str(exc).replace(exc.field, path, 1)) from None


def decision_to_json_dict(decision: Decision, case: str) -> dict:
    def when(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {"case": case, "reportable": decision.reportable, "rule": str(decision.rule),
            "first_report_due": when(decision.first_report_due),
            "second_report_due": when(decision.second_report_due)}


def check_file(path: str, **lengths) -> dict:
    """One output line for one file: the decision, or ``{"case", "error"}`` when it is malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {"case": path, "error": f"cannot read the file: {exc}"}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return {"case": path, "error": f"invalid JSON: {exc}"}
    try:
        return decision_to_json_dict(judge(data, **lengths), path)
    except (CaseFormatError, RecursionError) as exc:
        return {"case": path, "error": str(exc)}
