"""`manage.py check_eligibility CASE.json ...` (protocol/CASES.md): one JSON verdict per line, exit 0
when every case was evaluated, non-zero with a clear message on stderr for a malformed file."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from screening import eligibility as rules

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "cases"
CASE_FILES = sorted(CASES.glob("*.json"))
BASE = json.loads((CASES / "p_base_luminal.json").read_text())


def run(*paths):
    out, err = io.StringIO(), io.StringIO()
    call_command("check_eligibility", *map(str, paths), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_every_worked_case_gives_its_expected_verdict():
    out, err = run(*CASE_FILES)
    lines = out.splitlines()
    assert len(lines) == len(CASE_FILES) >= 8 and err == ""
    for path, line in zip(CASE_FILES, lines, strict=True):
        verdict = json.loads(line)
        expect = json.loads(path.read_text())["expect"]
        assert verdict["case"] == path.name
        assert list(verdict)[:8] == ["case", "stage", "eligible", "subtype", "failed", "missing", "excluded_by",
                                     "criteria"]
        assert verdict["eligible"] is expect["eligible"]
        blocking = [c["id"] for c in verdict["criteria"] if c["status"] != "met"]
        assert blocking == expect["not_eligible_because"], path.name
        assert verdict["eligible"] == (not (verdict["failed"] or verdict["missing"] or verdict["excluded_by"]))
        if "subtype" in expect:
            assert verdict["subtype"] == expect["subtype"]
        ids = [c["id"] for c in verdict["criteria"]]
        if verdict["stage"] == "primary":
            assert ids == [*rules.PRIMARY_IDS, *rules.EXCLUSION_IDS]
        else:
            assert ids == list(rules.SECONDARY_IDS) and verdict["excluded_by"] == []
        assert all(c["status"] in ("met", "not_met", "missing") and c["reason"] for c in verdict["criteria"])


def test_a_missing_fact_is_not_a_malformed_file(tmp_path):
    case = {k: v for k, v in BASE.items() if k not in ("labs", "expect")}
    path = tmp_path / "no_labs.json"
    path.write_text(json.dumps(case))
    verdict = json.loads(run(path)[0])
    assert verdict["missing"] == ["P16"] and verdict["eligible"] is False


def _malformed(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


MALFORMED = {
    "bad_json.json": ("{not json", "invalid JSON"),
    "unknown_stage.json": (json.dumps({**BASE, "stage": "tertiary"}), "stage"),
    "wrong_type.json": (json.dumps({**BASE, "ecog": "zero"}), "ecog"),
    "wrong_type_nested.json": (json.dumps({**BASE, "lesions": [{**BASE["lesions"][0], "diameter_mm": "18"}]}),
                               "lesions[0].diameter_mm"),
    "unknown_enum.json": (json.dumps({**BASE, "her2": "equivocal"}), "her2"),
    "not_an_object.json": ("[1, 2]", "case"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_are_reported_and_fail_the_command(tmp_path, name):
    text, field = MALFORMED[name]
    path = _malformed(tmp_path, name, text)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 of 2 case files malformed"):
        call_command("check_eligibility", str(path), str(CASES / "p_base_luminal.json"), stdout=out, stderr=err)
    assert name in err.getvalue() and field in err.getvalue()
    # The good file is still evaluated.
    assert json.loads(out.getvalue())["case"] == "p_base_luminal.json"


def test_a_missing_file_fails_the_command(tmp_path):
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_eligibility", str(tmp_path / "nope.json"), stdout=io.StringIO(), stderr=err)
    assert "nope.json" in err.getvalue() and "cannot read" in err.getvalue()


def test_exit_status_as_a_real_process(tmp_path):
    manage = [sys.executable, str(ROOT / "manage.py"), "check_eligibility"]
    ok = subprocess.run([*manage, *map(str, CASE_FILES)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == len(CASE_FILES)
    bad = _malformed(tmp_path, "bad.json", json.dumps({**BASE, "sex": "unknown"}))
    failed = subprocess.run([*manage, str(bad)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert failed.returncode != 0
    assert "bad.json" in failed.stderr and "sex" in failed.stderr and failed.stdout == ""


@pytest.mark.parametrize("name, text", [
    ("huge_int.json", '{"stage": "primary", "ecog": ' + "1" * 5000 + "}"),
    ("deep.json", "[" * 100_000 + "]" * 100_000),
])
def test_decoder_limits_are_a_malformed_file_not_a_traceback(tmp_path, name, text):
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_eligibility", str(_malformed(tmp_path, name, text)), stdout=io.StringIO(), stderr=err)
    assert name in err.getvalue() and "invalid JSON" in err.getvalue()
