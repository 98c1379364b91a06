"""`manage.py check_reportability FILE...` per the contract in protocol/SAFETY.md."""

import copy
import io
import json

import pytest
from django.core.management import CommandError, call_command

EXAMPLE = {
    "primary_registration_date": "2026-03-02",
    "protocol_treatment": {"start_date": "2026-03-05", "last_day": "2026-08-20", "ongoing": False},
    "event": {"kind": "adverse_event", "onset_date": "2026-09-15", "grade": 4,
              "expected": True, "hospitalization_24h": False, "causality": "unlikely"},
    "awareness": "2026-09-16T09:30:00+09:00",
}


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def run(*paths):
    out = io.StringIO()
    try:
        call_command("check_reportability", *paths, stdout=out)
        failed = None
    except CommandError as exc:
        failed = exc
    return [json.loads(line) for line in out.getvalue().splitlines()], failed


def case(**changes):
    data = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        target = data
        *parents, key = dotted.split("__")
        for parent in parents:
            target = target[parent]
        if value is DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    return data


DELETE = object()


def test_the_example_of_safety_md(tmp_path):
    path = write(tmp_path, "example.json", EXAMPLE)
    lines, failed = run(path)
    assert failed is None
    assert lines == [{"case": path, "reportable": True, "rule": "R2b",
                      "first_report_due": "2026-09-19T09:30:00+09:00",
                      "second_report_due": "2026-10-01T09:30:00+09:00"}]
    assert list(lines[0]) == ["case", "reportable", "rule", "first_report_due", "second_report_due"]


@pytest.mark.parametrize(("changes", "rule", "reportable"), [
    ({"event__onset_date": "2026-03-01"}, "R0", False),  # the day before primary registration
    ({"event__onset_date": "2026-03-02"}, "R2a", False),  # registration day: the trial's, before treatment
    ({"event__onset_date": "2026-03-05"}, "R2b", True),  # start day: under treatment
    ({"event__onset_date": "2026-09-19"}, "R2b", True),  # day 30
    ({"event__onset_date": "2026-09-20"}, "R2c", False),  # day 31, unlikely
    ({"event__onset_date": "2026-09-20", "event__causality": "possible"}, "R2c", True),
    ({"event__onset_date": "2027-09-20", "protocol_treatment__ongoing": True}, "R2b", True),
    ({"protocol_treatment": {"start_date": None, "last_day": None, "ongoing": False}}, "R2a", False),
    ({"event__kind": "death", "event__onset_date": "2026-09-20", "event__causality": "not_related"}, "R1c", False),
    ({"event__kind": "death", "event__onset_date": "2026-09-20", "event__causality": "definite"}, "R1c", True),
    ({"event__kind": "death", "event__onset_date": "2026-09-19", "event__causality": "not_related"}, "R1b", True),
    ({"event__kind": "death", "event__onset_date": "2026-03-04", "event__causality": "not_related"}, "R1a", True),
    ({"event__grade": 3, "event__expected": False, "event__hospitalization_24h": True}, "R3b", True),
    ({"event__grade": 3}, "R4", False),
    ({"event__grade": 2, "event__expected": False, "event__hospitalization_24h": True,
      "event__onset_date": "2026-03-04"}, "R3a", False),
    ({"event__grade": 1, "event__expected": False, "event__hospitalization_24h": True,
      "event__onset_date": "2026-09-20"}, "R3c", False),
    # a death reads only the date and the causality: other keys, even odd ones, are not read
    ({"event__kind": "death", "event__grade": 9, "event__expected": "yes"}, "R1b", True),
])
def test_rules_through_the_command(tmp_path, changes, rule, reportable):
    path = write(tmp_path, "c.json", case(**changes))
    (line,), failed = run(path)
    assert failed is None and "error" not in line, line
    assert (line["rule"], line["reportable"]) == (rule, reportable)
    if reportable:
        assert line["first_report_due"].endswith("+09:00") and line["second_report_due"].endswith("+09:00")
    else:
        assert line["first_report_due"] is None and line["second_report_due"] is None


def test_awareness_in_another_offset_is_printed_in_tokyo(tmp_path):
    path = write(tmp_path, "utc.json", case(awareness="2026-09-16T00:30:00Z"))
    other = write(tmp_path, "ny.json", case(awareness="2026-09-15T20:30:00-04:00"))
    lines, failed = run(path, other)
    assert failed is None
    for line in lines:
        assert line["first_report_due"] == "2026-09-19T09:30:00+09:00"
        assert line["second_report_due"] == "2026-10-01T09:30:00+09:00"


def test_not_reportable_needs_no_awareness(tmp_path):
    path = write(tmp_path, "c.json", case(event__grade=2, awareness=DELETE))
    (line,), failed = run(path)
    assert failed is None and line["rule"] == "R4"


@pytest.mark.parametrize(("changes", "needle"), [
    ({"awareness": "2026-09-16T09:30:00"}, "offset"),  # no offset
    ({"awareness": "2026-09-16"}, "awareness"),
    ({"awareness": 1789}, "awareness"),
    ({"awareness": DELETE}, "awareness is required"),  # reportable: the deadlines need it
    ({"primary_registration_date": DELETE}, "primary_registration_date"),
    ({"primary_registration_date": "2026/03/02"}, "YYYY-MM-DD"),
    ({"primary_registration_date": "20260302"}, "YYYY-MM-DD"),
    ({"event__onset_date": "2026-02-30"}, "calendar date"),
    ({"event__kind": "sae"}, "event.kind"),
    ({"event__grade": 5}, "death"),
    ({"event__grade": 0}, "event.grade"),
    ({"event__grade": "4"}, "event.grade"),
    ({"event__grade": True}, "event.grade"),
    ({"event__grade": DELETE}, "event.grade"),
    ({"event__expected": "yes"}, "event.expected"),  # present, must be valid even when not read
    ({"event__causality": "maybe"}, "event.causality"),
    ({"event__onset_date": "2026-09-20", "event__causality": DELETE}, "event.causality is required"),
    ({"protocol_treatment__ongoing": "no"}, "protocol_treatment.ongoing"),
    ({"protocol_treatment__last_day": DELETE}, "protocol_treatment.last_day is required"),
    ({"protocol_treatment__last_day": "2026-03-01"}, "before"),
    ({"protocol_treatment": DELETE}, "protocol_treatment is required"),
    ({"protocol_treatment": [1]}, "protocol_treatment must be an object"),
    ({"event": DELETE}, "event is required"),
])
def test_malformed_cases_are_named_and_the_exit_is_non_zero(tmp_path, changes, needle):
    path = write(tmp_path, "bad.json", case(**changes))
    (line,), failed = run(path)
    assert failed is not None
    assert line["case"] == path and set(line) == {"case", "error"}
    assert needle in line["error"], line


def test_every_file_is_judged_in_order_before_the_non_zero_exit(tmp_path):
    good = write(tmp_path, "good.json", EXAMPLE)
    broken = write(tmp_path, "broken.json", "{not json")
    top = write(tmp_path, "list.json", "[1, 2]")
    deep = write(tmp_path, "deep.json", "[" * 100000 + "]" * 100000)
    missing = str(tmp_path / "missing.json")
    lines, failed = run(good, broken, top, deep, missing, good)
    assert [line["case"] for line in lines] == [good, broken, top, deep, missing, good]
    assert ["error" in line for line in lines] == [False, True, True, True, True, False]
    assert failed is not None and "4 of 6" in str(failed)


def test_configured_lengths_from_options(tmp_path):
    path = write(tmp_path, "c.json", EXAMPLE)
    out = io.StringIO()
    call_command("check_reportability", path, "--first-report-hours", "24", "--second-report-days", "7", stdout=out)
    line = json.loads(out.getvalue())
    assert line["first_report_due"] == "2026-09-17T09:30:00+09:00"
    assert line["second_report_due"] == "2026-09-23T09:30:00+09:00"
