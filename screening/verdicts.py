"""The stored verdict snapshot of a screening, and its rendering in the reader's language.

A screening keeps the engine's verdict as it was when the facts were saved (``Screening.verdict``), so
that an old screening shows what was decided then, even after the engine or the facts change. The
snapshot is the engine's ``Verdict.to_dict()`` (the verdict object of protocol/CASES.md) plus what is
needed to show each reason in any language later: the reason's template, its parameters as JSON values,
and which parameters are words to translate (``Label``). English ``reason`` stays beside them so the
snapshot reads on its own (CSV exports, the admin, a future engine).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Func, JSONField
from django.utils import timezone
from django.utils.translation import gettext

from . import eligibility as rules


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):  # dt.datetime too; the engine only passes dates
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # "%s" of a Decimal and of its str() read the same in the reason
    if value is None or isinstance(value, bool | int | float | str):
        return str(value) if isinstance(value, rules.Label) else value
    return str(value)


def _criterion(result: rules.CriterionResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "status": result.status,
        "reason": result.reason,
        "template": result.reason_template,
        "params": {k: _json_value(v) for k, v in result.params.items()},
        "labels": sorted(k for k, v in result.params.items() if isinstance(v, rules.Label)),
        "details": [_criterion(d) for d in result.details],
    }


def snapshot(verdict: rules.Verdict, evaluated_at: dt.datetime | None = None) -> dict[str, Any]:
    """The JSON stored in ``Screening.verdict``: ``to_dict()`` with templates for later translation."""
    data = verdict.to_dict()
    data["criteria"] = [_criterion(c) for c in verdict.criteria]
    data["engine_version"] = verdict.engine_version
    data["evaluated_at"] = (evaluated_at or timezone.now()).isoformat()
    return data


def render_reason(item: dict[str, Any], translate=gettext) -> str:
    """One stored reason in the active language (English text as stored if the template is absent)."""
    template = item.get("template")
    if not template:
        return item.get("reason", "")
    labels = set(item.get("labels", ()))
    params = {k: translate(v) if k in labels and isinstance(v, str) else v for k, v in item.get("params", {}).items()}
    try:
        return translate(template) % params
    except (KeyError, TypeError, ValueError):
        # A translation that lost a placeholder must not hide the verdict: fall back to the English text.
        return item.get("reason", "")


@dataclass
class CriterionRow:
    """One line of the checklist (or of the screening log's failure list)."""

    id: str
    title: str
    status: str
    reason: str
    is_exclusion: bool
    details: list[CriterionRow] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return self.status == rules.MET

    @property
    def not_met(self) -> bool:
        return self.status == rules.NOT_MET

    @property
    def missing(self) -> bool:
        return self.status == rules.MISSING


def _title(criterion_id: str) -> str:
    info = rules.CRITERIA.get(criterion_id.split(".")[0])
    return info.text(gettext) if info else criterion_id


def rows(verdict: dict[str, Any] | None, *, with_details: bool = True) -> list[CriterionRow]:
    """Every criterion of a stored snapshot, in the engine's order, rendered in the active language."""
    result = []
    for item in (verdict or {}).get("criteria", []):
        cid = item["id"]
        details = []
        if with_details and len(item.get("details") or ()) > 1:
            details = [
                CriterionRow(d["id"], _title(d["id"]), d["status"], render_reason(d), cid.startswith("E"))
                for d in item["details"]
            ]
        result.append(
            CriterionRow(cid, _title(cid), item["status"], render_reason(item), cid.startswith("E"), details)
        )
    return result


def blocking_rows(verdict: dict[str, Any] | None) -> list[CriterionRow]:
    """The criteria that stand in the way: failed, excluding, then missing (for the screening log)."""
    # Only the blocking criteria are rendered (title and reason in the reader's language): rendering all
    # ~40 of every screening and keeping the few that block dominated the screening log (docs/performance.md).
    items = (verdict or {}).get("criteria", [])
    blocking = ([i for i in items if i["status"] == rules.NOT_MET]
                + [i for i in items if i["status"] == rules.MISSING])
    return rows({"criteria": blocking}, with_details=False)


class BlockingCriteria(Func):
    """The criteria of a stored verdict snapshot that are not met or missing, selected in the database.

    The screening log shows only these (one to three of ~40). Selecting them in SQL sends a few hundred
    bytes a row instead of the ~14 kB snapshot, which Python then had to decode: at 100 rows a page the
    decoding was the largest part of the page (docs/performance.md). Same items, in the engine's order, as
    `blocking_rows` picks from the whole snapshot (tests/screening/test_blocking_rows.py).
    """

    arity = 1
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template=(
            "jsonb_path_query_array(%(expressions)s, '$.criteria[*] ? (@.status != \"met\")')"), **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # json_each keeps the array order (its key); json() keeps each item an object, not a string.
        return self.as_sql(compiler, connection, template=(
            "(SELECT json_group_array(json(item.value)) FROM (SELECT value FROM json_each(%(expressions)s, "
            "'$.criteria') WHERE json_extract(value, '$.status') != 'met' ORDER BY key) AS item)"), **extra)
