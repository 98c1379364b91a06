"""Properties of the endpoint rules (followup/endpoints.py, protocol/FOLLOWUP.md), with hypothesis."""

import contextlib
import json
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from followup.endpoints import (
    PROBLEM_CODES,
    WITHDRAWAL_KINDS,
    Assessment,
    CaseFormatError,
    Facts,
    Withdrawal,
    compute,
    loads_case,
)

ORIGIN = date(2026, 6, 1)
days = st.integers(min_value=-60, max_value=2000)
day = days.map(lambda n: ORIGIN + timedelta(days=n))
assessment = st.builds(Assessment, date=day, progression=st.booleans())
withdrawal = st.builds(Withdrawal, date=day, kind=st.sampled_from(WITHDRAWAL_KINDS))
facts = st.builds(Facts, randomization_date=st.just(ORIGIN),
                  assessments=st.lists(assessment, max_size=8).map(tuple),
                  last_known_alive=st.none() | day, death_date=st.none() | day,
                  withdrawal=st.none() | withdrawal)


@settings(max_examples=200, deadline=None)
@given(facts)
def test_endpoints_are_all_known_or_all_null(f):
    e = compute(f)
    values = (e.os_days, e.os_event, e.pfs_days, e.pfs_event)
    if e.problems:
        assert values == (None, None, None, None)
        assert list(e.problems) == sorted(set(e.problems)) and set(e.problems) <= set(PROBLEM_CODES)
    else:
        assert None not in values and e.os_days >= 0 and e.pfs_days >= 0


@settings(max_examples=200, deadline=None)
@given(facts)
def test_os_days_at_least_pfs_days(f):
    e = compute(f)
    if e.known:
        assert e.os_days >= e.pfs_days
        # death is an event for both; an OS event implies a PFS event
        assert not e.os_event or e.pfs_event


@settings(max_examples=150, deadline=None)
@given(facts, st.integers(min_value=0, max_value=400), st.booleans())
def test_a_later_assessment_never_shortens_os(f, after, progression):
    before = compute(f)
    if not before.known or before.os_event:
        return
    later = Assessment(ORIGIN + timedelta(days=before.os_days + after), progression)
    e = compute(replace(f, assessments=(*f.assessments, later)))
    if e.known:
        assert e.os_days >= before.os_days


@settings(max_examples=150, deadline=None)
@given(facts, st.integers(min_value=-5000, max_value=-1))
def test_facts_before_the_origin_change_nothing_unless_a_death(f, offset):
    baseline = Assessment(ORIGIN + timedelta(days=offset), True)
    assert compute(replace(f, assessments=(*f.assessments, baseline))).as_dict() == compute(f).as_dict()


@settings(max_examples=150, deadline=None)
@given(facts, st.sampled_from(["treatment", "visits"]), day)
def test_treatment_and_visits_withdrawals_change_nothing(f, kind, when):
    assert compute(replace(f, withdrawal=Withdrawal(when, kind))).as_dict() == \
        compute(replace(f, withdrawal=None)).as_dict()


@settings(max_examples=150, deadline=None)
@given(facts, day)
def test_all_data_withdrawal_uses_no_later_date(f, when):
    e = compute(replace(f, withdrawal=Withdrawal(when, "all_data")))
    if e.known and when >= ORIGIN:
        assert e.os_days <= (when - ORIGIN).days
        assert e.pfs_days <= (when - ORIGIN).days


@settings(max_examples=150, deadline=None)
@given(facts)
def test_order_of_assessments_does_not_matter(f):
    assert compute(replace(f, assessments=tuple(reversed(f.assessments)))) == compute(f)


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["randomization_date", "assessments", "date", "progression", "death",
                                         "withdrawal", "kind", "last_known_alive", "cause"]), inner, max_size=5),
                    max_leaves=12))
def test_the_case_parser_raises_only_case_format_errors(data):
    with contextlib.suppress(CaseFormatError):  # anything else (TypeError, KeyError...) fails the test
        loads_case(json.dumps(data))
