"""Automatic checks: rules that look at the data every day and open a data query for what they find.

Each check has a code (the query's `rule`), a title, a question (a translatable text whose values come
from the finding, so the site reads it in its own language) and a `find(today)` that returns findings
with a key; the runner (`run`) opens one query per finding unless one for the same key is still not
closed (queries.open_automatic; a partial unique constraint makes it exact under concurrency). Each
`find` runs a bounded number of queries whatever the number of patients.

Checks whose data lives in apps that have not landed yet (follow-up, safety) are added with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date

from django.db.models import F
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from registration.models import PrimaryRegistration, SecondaryRegistration

from . import queries


@dataclass(frozen=True)
class Finding:
    patient_id: int
    key: str  # what was found, stable from day to day (the duplicate guard)
    record_type: str = ""
    record_id: int | None = None
    field: str = ""
    details: dict = dataclass_field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    code: str
    title: object
    question: object  # translatable, with %(name)s values from Finding.details
    find: Callable[[date], Iterable[Finding]]


def _labs_after_registration(today: date) -> Iterable[Finding]:
    """P-criteria and S-criteria rest on labs drawn before the registration they support (P16/S8 count
    back from the registration day); a panel dated after it cannot have supported the decision."""
    primary = (PrimaryRegistration.objects.filter(screening__labs__date__gt=F("registration_date"))
               .values_list("patient_id", "pk", "registration_date", "screening__labs_id", "screening__labs__date"))
    for patient_id, pk, registered, labs_id, drawn in primary:
        yield Finding(patient_id, f"primary:{pk}:{drawn.isoformat()}", "labpanel", labs_id, "date",
                      {"registration": "primary", "drawn": drawn.isoformat(), "registered": registered.isoformat()})
    secondary = (SecondaryRegistration.objects.filter(evaluation__labs__date__gt=F("registration_date"))
                 .values_list("patient_id", "pk", "registration_date", "evaluation__labs_id",
                              "evaluation__labs__date"))
    for patient_id, pk, registered, labs_id, drawn in secondary:
        yield Finding(patient_id, f"secondary:{pk}:{drawn.isoformat()}", "labpanel", labs_id, "date",
                      {"registration": "secondary", "drawn": drawn.isoformat(), "registered": registered.isoformat()})


CHECKS: list[Check] = [
    Check("labs_after_registration", _("Labs drawn after the registration they support"),
          _("The lab panel is dated %(drawn)s, after the %(registration_label)s on %(registered)s that it "
            "supports. Please check the date drawn (and correct it, naming this query in the reason), or "
            "explain."),
          _labs_after_registration),
]
BY_CODE = {check.code: check for check in CHECKS}
REGISTRATION_LABELS = {"primary": _("primary registration"), "secondary": _("secondary registration")}


def describe(rule: str, details: dict) -> str:
    """An automatic query's question in the reader's language."""
    check = BY_CODE.get(rule)
    if check is None:
        return ""
    values = dict(details)
    if "registration" in values:
        values["registration_label"] = gettext(str(REGISTRATION_LABELS.get(values["registration"], "")))
    try:
        return gettext(str(check.question)) % values
    except (KeyError, ValueError, TypeError):
        return str(check.title)


def run(*, today: date) -> dict[str, dict[str, int]]:
    """Run every check; {code: {"found": n, "created": m}}, m counting only queries actually inserted."""
    counts = {}
    for check in CHECKS:
        found = created = 0
        for finding in check.find(today):
            found += 1
            query = queries.open_automatic(
                rule=check.code, patient_id=finding.patient_id, finding=finding.key,
                text=describe(check.code, finding.details) or str(check.title), details=finding.details,
                record_type=finding.record_type, record_id=finding.record_id, field=finding.field)
            created += query is not None
        counts[check.code] = {"found": found, "created": created}
    return counts
