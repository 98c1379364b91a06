"""Laboratory values: P16 and S8, one implementation."""

from __future__ import annotations

import datetime as dt

from .common import (
    ALT_MAX,
    ANC_MIN,
    AST_MAX,
    BILIRUBIN_MAX,
    CREATININE_MAX,
    CREATININE_MAX_LUMINAL,
    HEMOGLOBIN_MIN,
    LAB_WINDOW_DAYS,
    MET,
    MISSING,
    NOT_MET,
    PLATELETS_MIN,
    SUBTYPE_LABELS,
    T_NOT_RECORDED,
    T_REGISTRATION_NOT_RECORDED,
    CriterionResult,
    Label,
    Labs,
    _,
    _combine,
    _days,
    _num,
    _result,
    creatinine_limit,
)

# --------------------------------------------------------------------------------------------------
# Laboratory values (P16 and S8: one implementation)
# --------------------------------------------------------------------------------------------------

# (field, label, unit, kind, limit): kind "min" means value >= limit, "max" value <= limit.
_LAB_LIMITS = (
    ("anc", Label(_("neutrophil count (ANC)")), "/mm3", "min", ANC_MIN),
    ("hemoglobin", Label(_("haemoglobin")), "g/dL", "min", HEMOGLOBIN_MIN),
    ("platelets", Label(_("platelets")), "/mm3", "min", PLATELETS_MIN),
    ("bilirubin", Label(_("total bilirubin")), "mg/dL", "max", BILIRUBIN_MAX),
    ("ast", Label(_("AST")), "U/L", "max", AST_MAX),
    ("alt", Label(_("ALT")), "U/L", "max", ALT_MAX),
)
T_LAB_MIN_MET = _("%(fact)s %(value)s %(unit)s >= %(limit)s %(unit)s")
T_LAB_MIN_NOT = _("%(fact)s %(value)s %(unit)s < %(limit)s %(unit)s")
T_LAB_MAX_MET = _("%(fact)s %(value)s %(unit)s <= %(limit)s %(unit)s")
T_LAB_MAX_NOT = _("%(fact)s %(value)s %(unit)s > %(limit)s %(unit)s")
T_CREAT_MET = _("creatinine %(value)s mg/dL <= %(limit)s mg/dL (%(subtype)s)")
T_CREAT_NOT = _("creatinine %(value)s mg/dL > %(limit)s mg/dL (%(subtype)s)")
T_CREAT_UNDECIDED = _(
    "creatinine %(value)s mg/dL: the limit is %(limit)s mg/dL, or %(luminal_limit)s mg/dL "
    "if luminal, and the subtype cannot be derived from what is recorded"
)


def check_labs(
    labs: Labs | None,
    registration_date: dt.date | None,
    subtype: str | None,
    criterion_id: str,
    *,
    subtype_recorded: bool = True,
) -> CriterionResult:
    """P16 / S8: labs dated 0 to 14 days before registration, and every value within its limit.

    ``subtype`` None with ``subtype_recorded`` True is the null subtype (a receptor unknown): creatinine
    limit 1.5 mg/dL. ``subtype_recorded`` False means the subtype itself is an absent fact, so a
    creatinine between the two limits cannot be judged (missing), while one over 2.3 fails either way.
    """
    cid = criterion_id
    if labs is None:
        return _result(cid, MISSING, T_NOT_RECORDED, {"fact": Label(_("laboratory results"))})
    items: list[CriterionResult] = []

    # The window: "within 14 days prior to registration" = 0 <= registration - date <= 14.
    if labs.date is None:
        items.append(_result(f"{cid}.date", MISSING, T_NOT_RECORDED, {"fact": Label(_("laboratory date"))}))
    elif registration_date is None:
        items.append(_result(f"{cid}.date", MISSING, T_REGISTRATION_NOT_RECORDED))
    else:
        days = _days(registration_date, labs.date)
        params = {
            "date": labs.date,
            "registration": registration_date,
            "days": days,
            "limit": LAB_WINDOW_DAYS,
        }
        if days < 0:  # drawn after registration: not "prior to" it
            items.append(
                _result(
                    f"{cid}.date",
                    NOT_MET,
                    _("laboratory results dated %(date)s, after registration on %(registration)s"),
                    params,
                )
            )
        elif days > LAB_WINDOW_DAYS:
            items.append(
                _result(
                    f"{cid}.date",
                    NOT_MET,
                    _(
                        "laboratory results dated %(date)s, %(days)s days before registration "
                        "(limit %(limit)s days)"
                    ),
                    params,
                )
            )
        else:
            items.append(
                _result(
                    f"{cid}.date",
                    MET,
                    _(
                        "laboratory results dated %(date)s, %(days)s days before registration "
                        "(within %(limit)s days)"
                    ),
                    params,
                )
            )

    for name, label, unit, kind, limit in _LAB_LIMITS:
        value = _num(getattr(labs, name))
        if value is None:
            items.append(_result(f"{cid}.{name}", MISSING, T_NOT_RECORDED, {"fact": label}))
            continue
        params = {"fact": label, "value": value, "unit": unit, "limit": limit}
        if kind == "min":
            ok = value >= limit
            template = T_LAB_MIN_MET if ok else T_LAB_MIN_NOT
        else:
            ok = value <= limit
            template = T_LAB_MAX_MET if ok else T_LAB_MAX_NOT
        items.append(_result(f"{cid}.{name}", MET if ok else NOT_MET, template, params))

    # (vii) creatinine <= 1.5 mg/dL, <= 2.3 mg/dL for luminal.
    creatinine = _num(labs.creatinine)
    if creatinine is None:
        items.append(_result(f"{cid}.creatinine", MISSING, T_NOT_RECORDED, {"fact": Label(_("creatinine"))}))
    elif not subtype_recorded:
        params = {
            "value": creatinine,
            "limit": CREATININE_MAX,
            "luminal_limit": CREATININE_MAX_LUMINAL,
            "subtype": SUBTYPE_LABELS[None],
        }
        if creatinine <= CREATININE_MAX:
            items.append(_result(f"{cid}.creatinine", MET, T_CREAT_MET, params))
        elif creatinine > CREATININE_MAX_LUMINAL:
            items.append(
                _result(
                    f"{cid}.creatinine", NOT_MET, T_CREAT_NOT, {**params, "limit": CREATININE_MAX_LUMINAL}
                )
            )
        else:
            items.append(_result(f"{cid}.creatinine", MISSING, T_CREAT_UNDECIDED, params))
    else:
        limit = creatinine_limit(subtype)
        params = {
            "value": creatinine,
            "limit": limit,
            "subtype": SUBTYPE_LABELS.get(subtype, SUBTYPE_LABELS[None]),
        }
        ok = creatinine <= limit
        items.append(
            _result(f"{cid}.creatinine", MET if ok else NOT_MET, T_CREAT_MET if ok else T_CREAT_NOT, params)
        )

    if any(item.status != MET for item in items):
        return _combine(cid, items, "", {})
    # Met: every value is known, so the summary names each value and its limit.
    values = {name: _num(getattr(labs, name)) for name, *_rest in _LAB_LIMITS}
    creatinine_item = items[-1]
    return _combine(
        cid,
        items,
        _(
            "laboratory results dated %(date)s, %(days)s days before registration (within %(window)s days): "
            "ANC %(anc)s >= %(anc_min)s /mm3, haemoglobin %(hemoglobin)s >= %(hemoglobin_min)s g/dL, "
            "platelets %(platelets)s >= %(platelets_min)s /mm3, bilirubin %(bilirubin)s <= %(bilirubin_max)s "
            "mg/dL, AST %(ast)s <= %(ast_max)s U/L, ALT %(alt)s <= %(alt_max)s U/L, creatinine "
            "%(creatinine)s <= %(creatinine_max)s mg/dL (%(subtype)s)"
        ),
        {
            **values,
            "date": labs.date,
            "days": items[0].params["days"],
            "window": LAB_WINDOW_DAYS,
            "anc_min": ANC_MIN,
            "hemoglobin_min": HEMOGLOBIN_MIN,
            "platelets_min": PLATELETS_MIN,
            "bilirubin_max": BILIRUBIN_MAX,
            "ast_max": AST_MAX,
            "alt_max": ALT_MAX,
            "creatinine": creatinine_item.params["value"],
            "creatinine_max": creatinine_item.params["limit"],
            "subtype": creatinine_item.params["subtype"],
        },
    )


