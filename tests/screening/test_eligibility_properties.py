"""Properties of the eligibility engine and the case parser, checked with hypothesis.

- the verdict is consistent: eligible exactly when nothing failed, is missing or excludes;
- the engine never raises on well-typed facts, None anywhere included;
- a worse laboratory value never makes a patient eligible, nor a failed lab line pass;
- an absent fact never makes a criterion not met ("Missing facts" in ELIGIBILITY.md);
- the case parser raises nothing but CaseFormatError, whatever JSON it is given.
"""

import json
from dataclasses import fields, replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening import eligibility as el
from screening.cases import CaseFormatError, loads_case, parse_case
from screening.eligibility import (
    MET,
    MISSING,
    NOT_MET,
    BoneFindings,
    Labs,
    Lesion,
    Presentation,
    PrimaryFacts,
    ResponseEvaluation,
    SecondaryFacts,
    Staging,
    add_months,
    age_on,
    evaluate,
)

SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

REG = date(2026, 3, 2)


def maybe(strategy):
    return st.none() | strategy


# Dates mostly within a few months of each other, so windows and day counts are often near their limits;
# sometimes anywhere in the calendar, its edges included.
near_date = st.dates(min_value=date(2025, 12, 1), max_value=date(2026, 6, 30))
any_date = st.one_of(
    near_date,
    near_date,
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    st.sampled_from([date.min, date.max, date(2024, 2, 29), date(2025, 2, 28)]),
)
birth_date = st.dates(min_value=date(1940, 1, 1), max_value=date(2012, 12, 31)) | any_date
# Numbers odd enough for "never raises" but not well-typed facts.
ODD_NUMBERS = [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity"), -1, 10**9]


def num(low, high, *, boundaries=(), odd=False):
    """A well-typed number in [low, high] as the forms or the parser give it: Decimal, int or float;
    the protocol's boundaries often."""
    strategy = st.one_of(
        st.decimals(min_value=low, max_value=high, places=2),
        st.integers(min_value=int(low), max_value=int(high)),
        st.floats(min_value=float(low), max_value=float(high)),
        st.sampled_from([Decimal(b) for b in boundaries] or [Decimal(low)]),
    )
    return maybe(strategy | st.sampled_from(ODD_NUMBERS) if odd else strategy)


enum = lambda values: maybe(st.sampled_from(values))  # noqa: E731
flag = maybe(st.booleans())


def labs_strategy(odd=False):
    return st.builds(
        Labs,
        date=maybe(any_date),
        anc=num(0, 4000, boundaries=["1500", "1499"], odd=odd),
        hemoglobin=num(5, 15, boundaries=["9.0", "8.9"], odd=odd),
        platelets=num(50000, 300000, boundaries=["100000", "99999"], odd=odd),
        bilirubin=num(0, 3, boundaries=["1.5", "1.51"], odd=odd),
        ast=num(0, 200, boundaries=["100", "100.1"], odd=odd),
        alt=num(0, 200, boundaries=["100", "100.1"], odd=odd),
        creatinine=num(0, 3, boundaries=["1.5", "1.51", "2.3", "2.31"], odd=odd),
    )


bones = st.builds(
    BoneFindings,
    three_consecutive_vertebrae=flag,
    bilsky_grade=enum(el.BILSKY_GRADES + (el.BILSKY_NOT_SPINAL,)),
    femoral_head_neck_trochanter=flag,
    cortical_defect_over_one_third=flag,
    uncontrolled_pain=flag,
)


def lesions_strategy(odd=False):
    lesion = st.builds(
        Lesion,
        organ=enum(el.ORGANS),
        diameter_mm=num(0, 40, boundaries=["20", "20.1", "30", "30.1"], odd=odd),
        mdt_feasible=flag,
        symptomatic=flag,
        bone=maybe(bones),
    )
    return maybe(st.lists(lesion, max_size=5).map(tuple))


presentations = st.builds(
    Presentation,
    history=enum(el.HISTORIES),
    breast_tumour=enum(el.TUMOURS),
    bilateral=flag,
    side=enum(el.SIDES),
    invasive_proven_by_metastasis_biopsy=flag,
    diagnosed_as_recurrence=flag,
)
exclusions = maybe(st.dictionaries(st.sampled_from(el.EXCLUSION_IDS), flag))


def primary_fields(odd=False) -> dict:
    return {
        "registration_date": maybe(any_date),
        "birth_date": maybe(birth_date),
        "sex": enum(el.SEXES),
        "invasive_carcinoma": flag,
        "metastasis_biopsied": flag,
        "er": enum(el.RECEPTOR_STATUSES),
        "pgr": enum(el.RECEPTOR_STATUSES),
        "her2": enum(el.RECEPTOR_STATUSES),
        "presentation": maybe(presentations),
        "staging": maybe(st.builds(Staging, maybe(any_date), maybe(any_date), maybe(any_date))),
        "lesions": lesions_strategy(odd),
        "other_distant_metastasis": flag,
        "ecog": maybe(st.integers(0, 4)),
        "prior_metastasis_treatment": flag,
        "radical_primary_surgery_since_metastasis_diagnosis": flag,
        "initial_treatment_end_date": maybe(any_date),
        "recurrence_date": maybe(any_date),
        "other_cancer_therapy_within_5_years": flag,
        "labs": maybe(labs_strategy(odd)),
        "lvef_percent": num(30, 80, boundaries=["50", "50.1"], odd=odd),
        "consent_date": maybe(any_date),
        "exclusions": exclusions,
    }


def primary_facts(odd=False):
    return st.builds(PrimaryFacts, **primary_fields(odd))


def secondary_fields(odd=False) -> dict:
    return {
        "registration_date": maybe(any_date),
        "primary_registration_date": maybe(any_date),
        "subtype": enum(el.SUBTYPES),
        "planned_courses_completed": flag,
        "response_evaluation": maybe(st.builds(ResponseEvaluation, maybe(any_date), flag, flag)),
        "remaining_lesions": maybe(st.integers(0, 5)),
        "mdt_since_primary": flag,
        "ecog": maybe(st.integers(0, 4)),
        "labs": maybe(labs_strategy(odd)),
    }


def secondary_facts(odd=False):
    return st.builds(SecondaryFacts, **secondary_fields(odd))


def statuses(verdict) -> dict[str, str]:
    return {c.id: c.status for c in verdict.criteria}


def assert_consistent(verdict):
    expected_ids = (el.PRIMARY_IDS + el.EXCLUSION_IDS) if verdict.stage == "primary" else el.SECONDARY_IDS
    assert [c.id for c in verdict.criteria] == list(expected_ids)
    assert {c.status for c in verdict.criteria} <= {MET, NOT_MET, MISSING}
    out = verdict.to_dict(case="x")
    json.dumps(out)
    assert out["eligible"] is all(c["status"] == MET for c in out["criteria"])
    assert out["eligible"] is not bool(out["failed"] or out["missing"] or out["excluded_by"])
    assert out["failed"] == [c["id"] for c in out["criteria"] if c["status"] == NOT_MET and c["id"][0] != "E"]
    assert out["excluded_by"] == [
        c["id"] for c in out["criteria"] if c["status"] == NOT_MET and c["id"][0] == "E"
    ]
    assert out["missing"] == [c["id"] for c in out["criteria"] if c["status"] == MISSING]
    if verdict.stage == "secondary":
        assert out["excluded_by"] == []
    assert out["subtype"] in (None, *el.SUBTYPES)
    for c in verdict.criteria:
        assert isinstance(c.reason, str) and c.reason
        for d in c.details:
            assert isinstance(d.reason, str)


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


@SETTINGS
@given(primary_facts(odd=True) | secondary_facts(odd=True))
def test_never_raises_and_verdict_is_consistent(facts):
    assert_consistent(evaluate(facts))


def eligible_primary(**changes):
    base = PrimaryFacts(
        registration_date=REG,
        birth_date=date(1968, 7, 15),
        sex="female",
        invasive_carcinoma=True,
        metastasis_biopsied=False,
        er="positive",
        pgr="positive",
        her2="negative",
        presentation=Presentation("none", "invasive", False, None, False, False),
        staging=Staging(date(2026, 2, 18), date(2026, 2, 20), date(2026, 2, 19)),
        lesions=(
            Lesion("bone", Decimal(18), True, False, BoneFindings(False, "0", False, False, False)),
            Lesion("lung", Decimal(12), True, False, None),
        ),
        other_distant_metastasis=False,
        ecog=0,
        prior_metastasis_treatment=False,
        radical_primary_surgery_since_metastasis_diagnosis=False,
        other_cancer_therapy_within_5_years=False,
        labs=Labs(
            date(2026, 2, 24),
            Decimal(3200),
            Decimal("12.1"),
            Decimal(230000),
            Decimal("0.6"),
            Decimal(22),
            Decimal(18),
            Decimal("0.7"),
        ),
        lvef_percent=Decimal(64),
        consent_date=date(2026, 2, 20),
        exclusions=dict.fromkeys(el.EXCLUSION_IDS, False),
    )
    return replace(base, **changes)


def eligible_secondary(**changes):
    base = SecondaryFacts(
        registration_date=date(2026, 6, 1),
        primary_registration_date=REG,
        subtype="luminal",
        planned_courses_completed=True,
        response_evaluation=ResponseEvaluation(date(2026, 5, 25), False, False),
        remaining_lesions=2,
        mdt_since_primary=False,
        ecog=1,
        labs=Labs(
            date(2026, 5, 28),
            Decimal(3200),
            Decimal("12.1"),
            Decimal(230000),
            Decimal("0.6"),
            Decimal(22),
            Decimal(18),
            Decimal("0.7"),
        ),
    )
    return replace(base, **changes)


def near(base, field_strategies):
    """The eligible base with some facts replaced by arbitrary ones (each kept 3 times in 4), so that
    verdicts near eligibility, where one fact decides, are common."""
    return st.builds(
        type(base),
        **{
            name: st.one_of(*[st.just(getattr(base, name))] * 3, strategy)
            for name, strategy in field_strategies.items()
        },
    )


any_facts = st.one_of(
    primary_facts(),
    secondary_facts(),
    near(eligible_primary(), primary_fields()),
    near(eligible_secondary(), secondary_fields()),
)


def test_the_bases_are_eligible():
    assert evaluate(eligible_primary()).eligible and evaluate(eligible_secondary()).eligible


# Lab values near their limits, so a worsening often crosses one.
near_limit_labs = st.builds(
    Labs,
    date=st.sampled_from([date(2026, 2, 24), date(2026, 2, 16), date(2026, 2, 15), None]),
    anc=maybe(st.decimals(1400, 1600, places=1)),
    hemoglobin=maybe(st.decimals(8, 10, places=2)),
    platelets=maybe(st.integers(95000, 105000)),
    bilirubin=maybe(st.decimals(1, 2, places=2)),
    ast=maybe(st.decimals(90, 110, places=1)),
    alt=maybe(st.decimals(90, 110, places=1)),
    creatinine=maybe(st.decimals(1, 3, places=2)),
)
# Direction in which each value gets worse.
WORSE = {"anc": -1, "hemoglobin": -1, "platelets": -1, "bilirubin": 1, "ast": 1, "alt": 1, "creatinine": 1}


@SETTINGS
@given(
    labs=near_limit_labs,
    receptors=st.tuples(*[enum(el.RECEPTOR_STATUSES)] * 3),
    subtype=enum(el.SUBTYPES),
    stage=st.sampled_from(["primary", "secondary"]),
    deltas=st.fixed_dictionaries({k: st.decimals(0, 50, places=2) for k in WORSE}),
)
def test_a_worse_lab_value_never_helps(labs, receptors, subtype, stage, deltas):
    if stage == "primary":
        er, pgr, her2 = receptors
        # Registration 2026-03-02: the lab dates above are 6, 14 and 15 days before it.
        facts = eligible_primary(er=er, pgr=pgr, her2=her2, labs=labs)
        cid = "P16"
    else:
        facts = eligible_secondary(
            subtype=subtype, labs=replace(labs, date=labs.date and labs.date + timedelta(91))
        )
        cid = "S8"
    worse_values = {}
    for name, direction in WORSE.items():
        value = getattr(labs, name)
        if value is not None:
            worse_values[name] = Decimal(value) + direction * deltas[name]
    worse = replace(facts, labs=replace(facts.labs, **worse_values))

    before, after = evaluate(facts), evaluate(worse)
    if not before.eligible:
        assert not after.eligible
    if before.criterion(cid).status == NOT_MET:
        assert after.criterion(cid).status == NOT_MET
    lines_before = {d.id: d.status for d in before.criterion(cid).details}
    lines_after = {d.id: d.status for d in after.criterion(cid).details}
    for line, status in lines_before.items():
        if status == NOT_MET:
            assert lines_after[line] == NOT_MET, line
    # Nothing else moves.
    assert {k: v for k, v in statuses(before).items() if k != cid} == {
        k: v for k, v in statuses(after).items() if k != cid
    }


def _null_paths(facts):
    """Every place in the facts where a recorded value can be made absent: (description, function)."""
    paths = []
    for f in fields(facts):
        value = getattr(facts, f.name)
        if value is None:
            continue
        paths.append((f.name, lambda x, n=f.name: replace(x, **{n: None})))
        if isinstance(value, Presentation | Staging | Labs | ResponseEvaluation):
            for g in fields(value):
                if getattr(value, g.name) is not None:
                    paths.append(
                        (
                            f"{f.name}.{g.name}",
                            lambda x, n=f.name, m=g.name: replace(
                                x, **{n: replace(getattr(x, n), **{m: None})}
                            ),
                        )
                    )
        elif f.name == "exclusions":
            for key in value:
                paths.append(
                    (f"exclusions.{key}", lambda x, k=key: replace(x, exclusions={**x.exclusions, k: None}))
                )
        elif f.name == "lesions":
            for i, lesion in enumerate(value):

                def set_lesion(x, i, new):
                    items = list(x.lesions)
                    items[i] = new
                    return replace(x, lesions=tuple(items))

                for g in fields(lesion):
                    if getattr(lesion, g.name) is not None:
                        paths.append(
                            (
                                f"lesions[{i}].{g.name}",
                                lambda x, i=i, m=g.name, s=set_lesion: s(
                                    x, i, replace(x.lesions[i], **{m: None})
                                ),
                            )
                        )
                if lesion.bone is not None:
                    for g in fields(lesion.bone):
                        if getattr(lesion.bone, g.name) is not None:
                            paths.append(
                                (
                                    f"lesions[{i}].bone.{g.name}",
                                    lambda x, i=i, m=g.name, s=set_lesion: s(
                                        x,
                                        i,
                                        replace(x.lesions[i], bone=replace(x.lesions[i].bone, **{m: None})),
                                    ),
                                )
                            )
    return paths


@SETTINGS
@given(facts=any_facts)
def test_an_absent_fact_never_makes_a_criterion_not_met(facts):
    before = statuses(evaluate(facts))
    for name, make_absent in _null_paths(facts):  # every recorded fact in turn
        after = statuses(evaluate(make_absent(facts)))
        for cid, status in after.items():
            if status == NOT_MET:
                assert before[cid] == NOT_MET, (name, cid)


@SETTINGS
@given(facts=st.sampled_from([eligible_primary(), eligible_secondary()]), data=st.data())
def test_from_eligible_an_absent_fact_gives_only_met_or_missing(facts, data):
    name, make_absent = data.draw(st.sampled_from(_null_paths(facts)), label="nulled")
    verdict = evaluate(make_absent(facts))
    assert verdict.failed == [] and verdict.excluded_by == [], name


@SETTINGS
@given(birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2050, 12, 31)), years=st.integers(0, 100))
def test_age_completes_on_the_birthday(birth, years):
    birthday = add_months(birth, 12 * years)
    if (birth.month, birth.day) == (2, 29) and birthday.day == 28:
        # 29 February birthday in a common year: completed on 1 March.
        assert age_on(birth, birthday) == years - 1
        assert age_on(birth, birthday + timedelta(days=1)) == years
    else:
        assert age_on(birth, birthday) == years
        if years:
            assert age_on(birth, birthday - timedelta(days=1)) == years - 1


@SETTINGS
@given(
    start=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)), months=st.integers(-240, 240)
)
def test_add_months_keeps_the_day_or_clamps_to_month_end(start, months):
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day == start.day or (result.day < start.day and (result + timedelta(days=1)).day == 1)


# --------------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["primary", "secondary", "2026-03-02", "2026-02-30", "positive", "bone", "1b", "luminal"]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _parse_or_format_error(data):
    try:
        facts = parse_case(data)
    except CaseFormatError as exc:
        assert str(exc)
        return
    assert_consistent(evaluate(facts))


@SETTINGS
@given(json_values)
def test_parser_raises_only_case_format_error_on_any_json(data):
    _parse_or_format_error(data)


FIELD_NAMES = sorted(
    {
        f.name
        for cls in (
            PrimaryFacts,
            SecondaryFacts,
            Labs,
            Lesion,
            BoneFindings,
            Presentation,
            Staging,
            ResponseEvaluation,
        )
        for f in fields(cls)
    }
    | set(el.EXCLUSION_IDS)
)


@SETTINGS
@given(
    stage=st.sampled_from(["primary", "secondary"]),
    data=st.data(),
)
def test_parser_on_a_valid_case_with_one_value_replaced(stage, data):
    """One value anywhere in a valid case replaced (or a key added) with any JSON: parses, or raises
    CaseFormatError."""
    text = (
        '{"stage":"primary","registration_date":"2026-03-02","er":"positive","labs":{"date":"2026-02-24",'
        '"anc":3200},"lesions":[{"organ":"bone","diameter_mm":18,"bone":{"bilsky_grade":null}}],'
        '"presentation":{"history":"none"},"staging":{"ct_date":"2026-02-18"},"exclusions":{"E1":false}}'
        if stage == "primary"
        else '{"stage":"secondary","registration_date":"2026-06-01","subtype":"luminal",'
        '"remaining_lesions":2,"response_evaluation":{"date":"2026-05-25","progression":false},"labs":{"creatinine":0.7}}'
    )
    case = json.loads(text)
    # Walk down to a random container, then set a random key (known or not) to a random value.
    node = case
    while True:
        children = [
            v for v in (node.values() if isinstance(node, dict) else node) if isinstance(v, dict | list)
        ]
        if not children or data.draw(st.booleans(), label="stop"):
            break
        node = data.draw(st.sampled_from(children), label="descend")
    value = data.draw(json_values, label="value")
    if isinstance(node, dict):
        key = data.draw(
            st.sampled_from(FIELD_NAMES + ["stage", "expect", "typo"]) | st.text(max_size=5), label="key"
        )
        node[key] = value
    elif node:
        node[data.draw(st.integers(0, len(node) - 1), label="index")] = value
    _parse_or_format_error(case)


@SETTINGS
@given(st.text(max_size=60) | json_values.map(json.dumps))
def test_loads_case_raises_only_case_format_error(text):
    try:
        facts = loads_case(text)
    except CaseFormatError:
        return
    assert_consistent(evaluate(facts))
