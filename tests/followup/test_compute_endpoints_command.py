"""`manage.py compute_endpoints FILE...` (protocol/FOLLOWUP.md contract): one JSON line per file, in order;
malformed files reported in their place and a non-zero exit after all files."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

CASES = Path(__file__).resolve().parent / "cases"
CASE_FILES = sorted(CASES.glob("*.json"))


def run(*paths):
    out = io.StringIO()
    call_command("compute_endpoints", *map(str, paths), stdout=out, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_worked_example_reproduced():
    [line] = run(CASES / "example.json")
    assert line == {"case": str(CASES / "example.json"), "os_days": 318, "os_event": True, "pfs_days": 183,
                    "pfs_event": True, "problems": []}
    assert list(line) == ["case", "os_days", "os_event", "pfs_days", "pfs_event", "problems"]


def test_every_case_file_gives_its_expected_line_in_order():
    lines = run(*CASE_FILES)
    assert len(lines) == len(CASE_FILES) >= 5
    for path, line in zip(CASE_FILES, lines, strict=True):
        expect = json.loads(path.read_text())["expect"]
        assert line == {"case": str(path), **expect}, path.name


@pytest.mark.parametrize(("content", "field"), [
    ("not json", "not JSON"),
    ("[]", "case"),
    ('{"assessments": []}', "randomization_date"),
    ('{"randomization_date": null}', "randomization_date"),
    ('{"randomization_date": "2026-02-30"}', "randomization_date"),
    ('{"randomization_date": "1 June 2026"}', "randomization_date"),
    ('{"randomization_date": 20260601}', "randomization_date"),
    ('{"randomization_date": "2026-06-01", "assessments": {}}', "assessments"),
    ('{"randomization_date": "2026-06-01", "assessments": [{"date": "2026-07-01", "progression": "no"}]}',
     "assessments[0].progression"),
    ('{"randomization_date": "2026-06-01", "assessments": [{"progression": true}]}', "assessments[0].date"),
    ('{"randomization_date": "2026-06-01", "withdrawal": {"date": "2026-07-01", "kind": "everything"}}',
     "withdrawal.kind"),
    ('{"randomization_date": "2026-06-01", "withdrawal": {"kind": "visits"}}', "withdrawal.date"),
    ('{"randomization_date": "2026-06-01", "death": {"cause": "other"}}', "death.date"),
    ('{"randomization_date": "2026-06-01", "death": "2026-07-01"}', "death"),
    ('{"randomization_date": "2026-06-01", "last_known_alive": "2026/07/01"}', "last_known_alive"),
])
def test_a_malformed_file_is_reported_in_its_place_and_the_others_still_computed(tmp_path, content, field):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("compute_endpoints", str(CASES / "minimal.json"), str(bad), str(CASES / "example.json"),
                     stdout=out, stderr=io.StringIO())
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["case"] for line in lines] == [str(CASES / "minimal.json"), str(bad), str(CASES / "example.json")]
    assert set(lines[1]) == {"case", "error"} and field in lines[1]["error"]
    assert lines[2]["os_days"] == 318


def test_a_missing_file_is_reported_not_a_traceback(tmp_path):
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("compute_endpoints", str(tmp_path / "nope.json"), stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue())["case"] == str(tmp_path / "nope.json")
