"""Case files (protocol/CASES.md): strict parsing, the worked examples, and hand-written cases."""

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from screening import eligibility as el
from screening.cases import (
    CaseFormatError,
    check_case,
    load_case,
    loads_case,
    parse_case,
    verdict_to_json_dict,
)
from screening.eligibility import BoneFindings, Lesion, PrimaryFacts, SecondaryFacts

HERE = Path(__file__).resolve().parent
REPO_CASES = HERE / "cases"
# The protocol's own folder, when the repository sits beside it (the worked cases are copied into the
# repository so that it is self-contained; the originals run too when present).
SHARED_CASES = Path(__file__).resolve().parents[3] / "shared" / "protocol" / "cases"

CASE_FILES = sorted(REPO_CASES.glob("*.json")) + (
    sorted(SHARED_CASES.glob("*.json")) if SHARED_CASES.is_dir() else []
)


def blocking(verdict) -> list[str]:
    """What stands in the way of eligibility, in criterion order: failed, missing and excluding IDs.

    `expect.not_eligible_because` lists every such ID (p_labs_absent lists P16, which is missing, not
    failed), so this is compared with it exactly, order included.
    """
    return [c.id for c in verdict.criteria if c.status != el.MET]


# --------------------------------------------------------------------------------------------------
# The worked examples
# --------------------------------------------------------------------------------------------------


def test_the_worked_cases_are_there():
    assert len(list(REPO_CASES.glob("*.json"))) >= 8


@pytest.mark.parametrize("path", CASE_FILES, ids=[f"{p.parent.parent.name}/{p.name}" for p in CASE_FILES])
def test_worked_case(path):
    data = json.loads(path.read_text())
    expect = data["expect"]
    verdict = check_case(data)
    assert verdict.eligible is expect["eligible"]
    assert blocking(verdict) == expect["not_eligible_because"]
    assert sorted(verdict.failed + verdict.missing + verdict.excluded_by) == sorted(
        expect["not_eligible_because"]
    )
    if "subtype" in expect:
        assert verdict.subtype == expect["subtype"]
    # The same through the file reader and the CASES.md verdict object.
    out = verdict_to_json_dict(evaluate_file(path), path.name)
    assert list(out) == [
        "case",
        "stage",
        "eligible",
        "subtype",
        "failed",
        "missing",
        "excluded_by",
        "criteria",
    ]
    assert out["case"] == path.name and out["eligible"] is expect["eligible"]
    json.dumps(out)  # plain JSON


def evaluate_file(path):
    return el.evaluate(load_case(path))


def test_repository_copies_match_the_protocol():
    if not SHARED_CASES.is_dir():
        pytest.skip("protocol folder not beside the repository")
    for shared in SHARED_CASES.glob("*.json"):
        copy_ = REPO_CASES / shared.name
        assert copy_.exists(), f"copy {shared.name} into tests/screening/cases"
        assert json.loads(copy_.read_text()) == json.loads(shared.read_text())


def test_labs_absent_case_is_missing_not_failed():
    verdict = check_case(json.loads((REPO_CASES / "p_labs_absent.json").read_text()))
    assert verdict.failed == [] and verdict.missing == ["P16"] and not verdict.eligible


# --------------------------------------------------------------------------------------------------
# Hand-written cases: the base eligible patient with one thing changed
# --------------------------------------------------------------------------------------------------

DELETE = object()


def base(stage: str) -> dict:
    name = "p_base_luminal.json" if stage == "primary" else "s_base.json"
    data = json.loads((REPO_CASES / name).read_text())
    del data["expect"]
    return data


def changed(stage: str, changes: dict) -> dict:
    data = copy.deepcopy(base(stage))
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list) and int(last) == len(node):
            node.append(value)  # one more list item
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


BRAIN = {"organ": "brain", "diameter_mm": 20, "mdt_feasible": True, "symptomatic": False, "bone": None}
RECURRENT_3I = {
    "presentation.history": "invasive",
    "presentation.breast_tumour": "none",
    "presentation.bilateral": None,
}

HAND_CASES = [
    # (name, stage, changes, not eligible because)
    ("18th birthday", "primary", {"birth_date": "2008-03-02"}, []),
    ("eve of 18th birthday", "primary", {"birth_date": "2008-03-03"}, ["P9"]),
    ("81st birthday", "primary", {"birth_date": "1945-03-02"}, ["P9"]),
    ("eve of 81st birthday", "primary", {"birth_date": "1945-03-03"}, []),
    (
        "29 Feb birth, 18 on 1 March",
        "primary",
        {
            "birth_date": "2008-02-29",
            "registration_date": "2026-03-01",
            "labs.date": "2026-02-24",
            "consent_date": "2026-02-20",
        },
        [],
    ),
    (
        "29 Feb birth, 17 on 28 Feb",
        "primary",
        {"birth_date": "2008-02-29", "registration_date": "2026-02-28", "staging.pet_date": "2026-02-20"},
        ["P9"],
    ),
    ("male patient", "primary", {"sex": "male"}, []),
    ("sex not recorded", "primary", {"sex": None}, []),
    ("not invasive", "primary", {"invasive_carcinoma": False}, ["P1"]),
    ("ER unknown", "primary", {"er": "unknown"}, ["P2"]),
    ("ER unknown and creatinine 1.6", "primary", {"er": "unknown", "labs.creatinine": 1.6}, ["P2", "P16"]),
    ("HER2 positive, creatinine 1.5", "primary", {"her2": "positive", "labs.creatinine": 1.5}, []),
    ("HER2 positive, creatinine 1.51", "primary", {"her2": "positive", "labs.creatinine": 1.51}, ["P16"]),
    (
        "triple negative, creatinine 1.51",
        "primary",
        {"er": "negative", "pgr": "negative", "labs.creatinine": 1.51},
        ["P16"],
    ),
    ("luminal creatinine 2.3", "primary", {"labs.creatinine": 2.3}, []),
    ("luminal creatinine 2.31", "primary", {"labs.creatinine": 2.31}, ["P16"]),
    ("PgR not recorded, creatinine 2.0", "primary", {"pgr": DELETE, "labs.creatinine": 2.0}, ["P2", "P16"]),
    ("bilateral tumour", "primary", {"presentation.bilateral": True}, ["P3"]),
    (
        "<1>(i) proof without biopsy",
        "primary",
        {
            "presentation.breast_tumour": "noninvasive",
            "presentation.invasive_proven_by_metastasis_biopsy": True,
        },
        ["P3"],
    ),
    (
        "<1>(i) with biopsy",
        "primary",
        {
            "presentation.breast_tumour": "noninvasive",
            "presentation.invasive_proven_by_metastasis_biopsy": True,
            "metastasis_biopsied": True,
        },
        [],
    ),
    (
        "<3>(ii) contralateral",
        "primary",
        {
            "presentation.history": "invasive",
            "presentation.side": "contralateral",
            "presentation.diagnosed_as_recurrence": True,
            "initial_treatment_end_date": "2024-06-30",
            "recurrence_date": "2026-01-15",
        },
        ["P3"],
    ),
    (
        "<3>(i) DFI exactly 12 months",
        "primary",
        {**RECURRENT_3I, "initial_treatment_end_date": "2025-01-15", "recurrence_date": "2026-01-15"},
        [],
    ),
    (
        "<3>(i) DFI a day short",
        "primary",
        {**RECURRENT_3I, "initial_treatment_end_date": "2025-01-15", "recurrence_date": "2026-01-14"},
        ["P14"],
    ),
    (
        "<3>(i) DFI from 29 Feb",
        "primary",
        {**RECURRENT_3I, "initial_treatment_end_date": "2024-02-29", "recurrence_date": "2025-02-28"},
        [],
    ),
    ("<3>(i) without DFI dates", "primary", RECURRENT_3I, ["P14"]),
    (
        "<4>",
        "primary",
        {
            **RECURRENT_3I,
            "presentation.history": "noninvasive_and_contralateral_invasive",
            "initial_treatment_end_date": "2020-01-01",
            "recurrence_date": "2025-12-01",
        },
        [],
    ),
    ("PET after registration", "primary", {"staging.pet_date": "2026-03-03"}, ["P4"]),
    ("PET on the registration day", "primary", {"staging.pet_date": "2026-03-02"}, []),
    ("brain MRI not recorded", "primary", {"staging.brain_mri_date": None}, ["P4"]),
    ("no lesions", "primary", {"lesions": []}, ["P5"]),
    ("lesions not recorded", "primary", {"lesions": None}, ["P5", "P7", "P8"]),
    ("lung lesion 30 mm", "primary", {"lesions.1.diameter_mm": 30}, []),
    ("lung lesion 30.1 mm", "primary", {"lesions.1.diameter_mm": 30.1}, ["P5"]),
    ("brain lesion 20 mm", "primary", {"lesions.1": BRAIN}, []),
    ("brain lesion 20.1 mm", "primary", {"lesions.1": {**BRAIN, "diameter_mm": 20.1}}, ["P5"]),
    ("symptomatic brain lesion", "primary", {"lesions.1": {**BRAIN, "symptomatic": True}}, ["P5"]),
    ("three lesions", "primary", {"lesions.2": BRAIN}, []),
    ("MDT not feasible", "primary", {"lesions.1.mdt_feasible": False}, ["P7"]),
    ("Bilsky 1a", "primary", {"lesions.0.bone.bilsky_grade": "1a"}, []),
    ("Bilsky 1b", "primary", {"lesions.0.bone.bilsky_grade": "1b"}, ["P8"]),
    ("Bilsky null: not spinal", "primary", {"lesions.0.bone.bilsky_grade": None}, []),
    ("Bilsky key absent", "primary", {"lesions.0.bone.bilsky_grade": DELETE}, ["P8"]),
    ("femoral neck", "primary", {"lesions.0.bone.femoral_head_neck_trochanter": True}, ["P8"]),
    ("bone lesion without findings", "primary", {"lesions.0.bone": None}, ["P8"]),
    ("other distant metastasis", "primary", {"other_distant_metastasis": True}, ["P6"]),
    ("ECOG 1", "primary", {"ecog": 1}, []),
    ("ECOG 2", "primary", {"ecog": 2}, ["P10"]),
    ("prior metastasis treatment", "primary", {"prior_metastasis_treatment": True}, ["P12"]),
    ("radical surgery", "primary", {"radical_primary_surgery_since_metastasis_diagnosis": True}, ["P13"]),
    ("other cancer therapy", "primary", {"other_cancer_therapy_within_5_years": True}, ["P15"]),
    ("labs 14 days old", "primary", {"labs.date": "2026-02-16"}, []),
    ("labs 15 days old", "primary", {"labs.date": "2026-02-15"}, ["P16"]),
    ("labs after registration", "primary", {"labs.date": "2026-03-03"}, ["P16"]),
    ("ANC 1500", "primary", {"labs.anc": 1500}, []),
    ("ANC 1499", "primary", {"labs.anc": 1499}, ["P16"]),
    ("haemoglobin 8.9", "primary", {"labs.hemoglobin": 8.9}, ["P16"]),
    ("platelets 100000", "primary", {"labs.platelets": 100000}, []),
    ("platelets not recorded", "primary", {"labs.platelets": None}, ["P16"]),
    ("bilirubin 1.5", "primary", {"labs.bilirubin": 1.5}, []),
    ("bilirubin 1.6", "primary", {"labs.bilirubin": 1.6}, ["P16"]),
    ("AST 101", "primary", {"labs.ast": 101}, ["P16"]),
    ("ALT 100", "primary", {"labs.alt": 100}, []),
    ("LVEF 50", "primary", {"lvef_percent": 50}, ["P17"]),
    ("LVEF 50.1", "primary", {"lvef_percent": 50.1}, []),
    ("consent on registration day", "primary", {"consent_date": "2026-03-02"}, []),
    ("consent after registration", "primary", {"consent_date": "2026-03-03"}, ["P18"]),
    ("E4 applies", "primary", {"exclusions.E4": True}, ["E4"]),
    ("E13 not recorded", "primary", {"exclusions.E13": None}, ["E13"]),
    ("E2 key absent", "primary", {"exclusions.E2": DELETE}, ["E2"]),
    ("exclusions absent", "primary", {"exclusions": DELETE}, list(el.EXCLUSION_IDS)),
    ("ECOG 2 and fever", "primary", {"ecog": 2, "exclusions.E3": True}, ["P10", "E3"]),
    ("planned courses not completed", "secondary", {"planned_courses_completed": False}, ["S1"]),
    ("progression", "secondary", {"response_evaluation.progression": True}, ["S2"]),
    ("new distant metastasis", "secondary", {"response_evaluation.new_distant_metastasis": True}, ["S2"]),
    ("evaluation 28 days before", "secondary", {"response_evaluation.date": "2026-05-04"}, []),
    ("evaluation 29 days before", "secondary", {"response_evaluation.date": "2026-05-03"}, ["S3"]),
    ("day 126", "secondary", {"primary_registration_date": "2026-01-26"}, []),
    ("day 127", "secondary", {"primary_registration_date": "2026-01-25"}, ["S4"]),
    ("day 84", "secondary", {"primary_registration_date": "2026-03-09"}, []),
    ("no remaining lesion", "secondary", {"remaining_lesions": 0}, ["S5"]),
    # Round 2: the overall response and the lesion count at primary registration (CASES.md, optional).
    ("overall response PR", "secondary", {"response_evaluation.overall_response": "PR"}, []),
    ("overall response SD", "secondary", {"response_evaluation.overall_response": "SD"}, []),
    ("overall response null", "secondary", {"response_evaluation.overall_response": None}, []),
    ("overall response PD, box says no", "secondary", {"response_evaluation.overall_response": "PD"}, ["S2"]),
    ("overall response NE", "secondary", {"response_evaluation.overall_response": "NE"}, ["S2"]),
    ("CR with remaining lesions", "secondary", {"response_evaluation.overall_response": "CR"}, ["S5"]),
    ("CR, none remaining", "secondary", {"response_evaluation.overall_response": "CR", "remaining_lesions": 0},
     ["S5"]),
    ("as many lesions as at primary", "secondary", {"primary_lesion_count": 2}, []),
    ("one more lesion than at primary", "secondary", {"primary_lesion_count": 1}, ["S2"]),
    ("primary lesion count null", "secondary", {"primary_lesion_count": None}, []),
    ("MDT since primary", "secondary", {"mdt_since_primary": True}, ["S6"]),
    ("ECOG 2 at secondary", "secondary", {"ecog": 2}, ["S7"]),
    ("HER2 creatinine 1.6 at secondary", "secondary", {"subtype": "her2", "labs.creatinine": 1.6}, ["S8"]),
    ("TN creatinine 1.5 at secondary", "secondary", {"subtype": "tnbc", "labs.creatinine": 1.5}, []),
    ("subtype absent, creatinine 2.0", "secondary", {"subtype": None, "labs.creatinine": 2.0}, ["S8"]),
    ("labs 15 days before secondary", "secondary", {"labs.date": "2026-05-17"}, ["S8"]),
    ("late registration: window and labs", "secondary", {"registration_date": "2026-06-23"}, ["S3", "S8"]),
]


@pytest.mark.parametrize(
    ("stage", "changes", "because"), [c[1:] for c in HAND_CASES], ids=[c[0] for c in HAND_CASES]
)
def test_hand_case(stage, changes, because):
    verdict = check_case(changed(stage, changes))
    assert blocking(verdict) == because, [(c.id, c.reason) for c in verdict.criteria if c.status != el.MET]
    assert verdict.eligible is (because == [])


def test_enough_hand_cases():
    assert len(HAND_CASES) >= 30


# --------------------------------------------------------------------------------------------------
# Parsing: what a well-formed file becomes
# --------------------------------------------------------------------------------------------------


def test_absent_and_null_facts_become_none():
    assert parse_case({"stage": "primary"}) == PrimaryFacts()
    assert parse_case({"stage": "secondary"}) == SecondaryFacts()
    nulls = {key: None for key in base("primary") if key != "stage"}
    assert parse_case({"stage": "primary", **nulls}) == PrimaryFacts()


def test_expect_is_ignored():
    data = base("primary")
    assert parse_case({**data, "expect": {"anything": [1, 2]}}) == parse_case(data)


def test_values_are_parsed_exactly():
    facts = parse_case(base("primary"))
    assert facts.registration_date == date(2026, 3, 2)
    assert facts.labs.bilirubin == Decimal("0.6") and facts.labs.anc == Decimal(3200)
    assert facts.lesions[1] == Lesion(
        organ="lung", diameter_mm=Decimal(12), mdt_feasible=True, symptomatic=False, bone=None
    )
    assert isinstance(facts.lesions, tuple)
    assert facts.exclusions == {f"E{i}": False for i in range(1, 14)}
    assert parse_case({"stage": "primary", "labs": {"creatinine": 1.5}}).labs.creatinine == Decimal("1.5")
    assert parse_case({"stage": "primary", "lvef_percent": 50.1}).lvef_percent == Decimal("50.1")


def test_bilsky_null_is_not_spinal_and_absent_is_absent():
    def grade(bone):
        lesion = {"organ": "bone", "bone": bone}
        return parse_case({"stage": "primary", "lesions": [lesion]}).lesions[0].bone.bilsky_grade

    assert grade({"bilsky_grade": None}) == el.BILSKY_NOT_SPINAL
    assert grade({}) is None
    assert grade({"bilsky_grade": "1c"}) == "1c"
    assert parse_case({"stage": "primary", "lesions": [{"bone": {}}]}).lesions[0].bone == BoneFindings()


def test_partial_exclusions():
    facts = parse_case({"stage": "primary", "exclusions": {"E3": True}})
    assert facts.exclusions["E3"] is True and facts.exclusions["E4"] is None


def test_loads_and_load(tmp_path):
    text = (REPO_CASES / "s_base.json").read_text()
    assert loads_case(text) == parse_case(json.loads(text))
    path = tmp_path / "c.json"
    path.write_text(text)
    assert load_case(path) == loads_case(text)


# --------------------------------------------------------------------------------------------------
# Parsing: malformed files, each named
# --------------------------------------------------------------------------------------------------

MALFORMED = [
    # (name, stage, changes, text expected in the message)
    ("bool for a number", "primary", {"labs.anc": True}, "labs.anc"),
    ("string for a number", "primary", {"labs.anc": "3200"}, "labs.anc"),
    ("negative number", "primary", {"labs.platelets": -1}, "labs.platelets"),
    ("LVEF over 100", "primary", {"lvef_percent": 101}, "lvef_percent"),
    ("bool for LVEF", "primary", {"lvef_percent": False}, "lvef_percent"),
    ("number for a bool", "primary", {"invasive_carcinoma": 1}, "invasive_carcinoma"),
    ("string for a bool", "primary", {"exclusions.E5": "no"}, "exclusions.E5"),
    ("number for a bool in a lesion", "primary", {"lesions.1.mdt_feasible": 0}, "lesions[1].mdt_feasible"),
    ("float ECOG", "primary", {"ecog": 1.0}, "ecog"),
    ("ECOG 5", "primary", {"ecog": 5}, "ecog"),
    ("ECOG -1", "secondary", {"ecog": -1}, "ecog"),
    ("bool ECOG", "primary", {"ecog": True}, "ecog"),
    ("unknown receptor value", "primary", {"er": "pos"}, "er"),
    ("unknown sex", "primary", {"sex": "f"}, "sex"),
    ("unknown history", "primary", {"presentation.history": "unknown"}, "presentation.history"),
    ("unknown side", "primary", {"presentation.side": "left"}, "presentation.side"),
    ("unknown organ", "primary", {"lesions.1.organ": "kidney"}, "lesions[1].organ"),
    (
        "unknown Bilsky grade",
        "primary",
        {"lesions.0.bone.bilsky_grade": "1d"},
        "lesions[0].bone.bilsky_grade",
    ),
    ("numeric Bilsky grade", "primary", {"lesions.0.bone.bilsky_grade": 2}, "lesions[0].bone.bilsky_grade"),
    ("unknown subtype", "secondary", {"subtype": "luminal_a"}, "subtype"),
    ("impossible date", "primary", {"registration_date": "2026-02-30"}, "registration_date"),
    ("slashed date", "primary", {"birth_date": "1968/07/15"}, "birth_date"),
    ("compact date", "primary", {"consent_date": "20260220"}, "consent_date"),
    ("date-time", "primary", {"staging.ct_date": "2026-02-18T10:00"}, "staging.ct_date"),
    ("number for a date", "primary", {"labs.date": 20260224}, "labs.date"),
    (
        "bad date in secondary",
        "secondary",
        {"response_evaluation.date": "May 25"},
        "response_evaluation.date",
    ),
    ("lesions not a list", "primary", {"lesions": {"organ": "lung"}}, "lesions"),
    ("null lesion", "primary", {"lesions.1": None}, "lesions[1]"),
    ("string lesion", "primary", {"lesions.1": "lung"}, "lesions[1]"),
    ("bone not an object", "primary", {"lesions.0.bone": True}, "lesions[0].bone"),
    ("presentation a list", "primary", {"presentation": []}, "presentation"),
    ("labs a string", "secondary", {"labs": "normal"}, "labs"),
    ("exclusions a list", "primary", {"exclusions": [False] * 13}, "exclusions"),
    ("remaining lesions negative", "secondary", {"remaining_lesions": -1}, "remaining_lesions"),
    ("remaining lesions float", "secondary", {"remaining_lesions": 2.5}, "remaining_lesions"),
    ("unknown overall response", "secondary", {"response_evaluation.overall_response": "iCR"},
     "response_evaluation.overall_response"),
    ("overall response lower case", "secondary", {"response_evaluation.overall_response": "cr"},
     "response_evaluation.overall_response"),
    ("primary lesion count negative", "secondary", {"primary_lesion_count": -1}, "primary_lesion_count"),
    ("primary lesion count a string", "secondary", {"primary_lesion_count": "2"}, "primary_lesion_count"),
    ("misspelt top-level key", "primary", {"lvef": 60}, "lvef"),
    ("misspelt nested key", "primary", {"labs.hb": 12}, "labs.hb"),
    ("misspelt lesion key", "primary", {"lesions.1.diameter": 12}, "lesions[1].diameter"),
    ("unknown exclusion", "primary", {"exclusions.E14": False}, "exclusions.E14"),
    ("primary field in a secondary case", "secondary", {"birth_date": "1968-07-15"}, "birth_date"),
    ("secondary field in a primary case", "primary", {"subtype": "luminal"}, "subtype"),
]


@pytest.mark.parametrize(
    ("stage", "changes", "field"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_field_is_named(stage, changes, field):
    with pytest.raises(CaseFormatError) as info:
        parse_case(changed(stage, changes))
    message = str(info.value)
    assert message.startswith(field + ":") or f"{field}:" in message, message


@pytest.mark.parametrize("stage", [None, "tertiary", 1, "", "Primary"])
def test_unknown_or_absent_stage(stage):
    data = base("primary")
    if stage is None:
        del data["stage"]
    else:
        data["stage"] = stage
    with pytest.raises(CaseFormatError, match="^stage:"):
        parse_case(data)


@pytest.mark.parametrize("data", [[], "primary", None, 3])
def test_not_an_object(data):
    with pytest.raises(CaseFormatError, match="object"):
        parse_case(data)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "invalid JSON"),
        ('{"stage": "primary", "lvef_percent": NaN}', "NaN"),
        ('{"stage": "primary", "lvef_percent": Infinity}', "Infinity"),
        ('{"stage": "primary", "ecog": 1, "ecog": 2}', "ecog: duplicate"),
        ('{"stage": "primary", "labs": {"anc": 1e999}}', "labs.anc"),
        ("[]", "object"),
    ],
)
def test_bad_json_text(text, match):
    with pytest.raises(CaseFormatError, match=match):
        loads_case(text)


def test_unreadable_file(tmp_path):
    with pytest.raises(CaseFormatError, match="cannot read"):
        load_case(tmp_path / "absent.json")
    (tmp_path / "latin1.json").write_bytes(b'{"stage": "\xe9"}')
    with pytest.raises(CaseFormatError):
        load_case(tmp_path / "latin1.json")


def test_case_format_error_is_a_value_error():
    assert issubclass(CaseFormatError, ValueError)


def test_decoder_limits_are_case_format_errors():
    from screening.cases import CaseFormatError, loads_case

    with pytest.raises(CaseFormatError, match="invalid JSON"):
        loads_case('{"stage": "primary", "ecog": ' + "9" * 5000 + "}")
    with pytest.raises(CaseFormatError, match="invalid JSON"):
        loads_case("[" * 100000 + "]" * 100000)
