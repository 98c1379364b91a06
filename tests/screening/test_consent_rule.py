"""P18 with consent document versions (issue 17), boundaries first, without a database.

A version is in force from its effective date (inclusive) to its superseded date (exclusive).
"""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from screening.eligibility import (
    MET,
    MISSING,
    NOT_MET,
    ConsentDocument,
    evaluate,
    in_force,
    reconsent_due,
    version_in_force,
)

from .test_eligibility import REG, primary

DAY = timedelta(days=1)
V1 = ConsentDocument("1.0", date(2025, 4, 1), date(2026, 2, 20))
V2 = ConsentDocument("2.0", date(2026, 2, 20))


@pytest.mark.parametrize(("on", "expected"), [
    (V1.effective_date - DAY, False),  # the day before it takes effect
    (V1.effective_date, True),  # its effective date: in force
    (V1.superseded_date - DAY, True),  # its last day
    (V1.superseded_date, False),  # the day it is superseded belongs to the new version
])
def test_in_force_boundaries(on, expected):
    assert in_force(V1, on) is expected


def test_a_version_never_superseded_stays_in_force():
    assert in_force(V2, date(2099, 1, 1))
    assert not in_force(V2, V2.effective_date - DAY)


def test_exactly_one_version_in_force_each_day_from_the_first():
    versions = [V1, V2]
    assert version_in_force(versions, V1.effective_date - DAY) is None
    assert version_in_force(versions, V1.effective_date) == V1
    assert version_in_force(versions, V2.effective_date - DAY) == V1
    assert version_in_force(versions, V2.effective_date) == V2


def p18(consent_date, document, *, required=True):
    facts = primary(consent_date=consent_date, consent_document=document, consent_version_required=required)
    return evaluate(facts).criterion("P18")


@pytest.mark.parametrize(("consent_date", "document", "expected"), [
    (V1.effective_date, V1, MET),  # consent on the effective date
    (V1.effective_date - DAY, V1, NOT_MET),  # before the version existed
    (V1.superseded_date - DAY, V1, MET),  # the old version's last day
    (V1.superseded_date, V1, NOT_MET),  # consent on the superseded date, on the old version
    (V2.effective_date, V2, MET),  # the same day on the new version
    (V2.effective_date - DAY, V2, NOT_MET),
])
def test_p18_requires_a_version_in_force_on_the_consent_date(consent_date, document, expected):
    facts = replace(primary(), registration_date=REG + timedelta(days=400))  # registration is never the issue
    result = evaluate(replace(facts, consent_date=consent_date, consent_document=document,
                              consent_version_required=True)).criterion("P18")
    assert result.status == expected


def test_p18_reasons_name_the_version_and_its_dates():
    assert p18(V1.superseded_date, V1).reason == "consent dated 2026-02-20 on version 1.0, superseded on 2026-02-20"
    early = ConsentDocument("3.0", REG)
    assert p18(REG - DAY, early).reason == (
        "consent dated 2026-03-01 on version 3.0, which took effect only on 2026-03-02")
    assert p18(V1.effective_date, V1).reason == (
        "consent dated 2025-04-01 on version 1.0 (in force that day), on or before registration on 2026-03-02")


def test_p18_version_not_recorded_is_missing_in_the_application():
    result = p18(date(2026, 2, 20), None)
    assert result.status == MISSING
    assert result.reason == "consent document version: not recorded"


def test_case_files_without_versions_are_judged_on_the_date_alone():
    # CASES.md has no version field: a case's verdict is what it was before versions existed.
    assert p18(date(2026, 2, 20), None, required=False).status == MET


def test_consent_after_registration_fails_whatever_the_version():
    assert p18(REG + DAY, V2).status == NOT_MET


@pytest.mark.parametrize(("current", "today", "expected"), [
    (V1, V1.superseded_date - DAY, False),  # the new version is announced but not yet in effect
    (V1, V1.superseded_date, True),  # it takes effect today: re-consent is due
    (V2, date(2099, 1, 1), False),  # on the version in force
    (None, date(2026, 1, 1), True),  # no version on file
])
def test_reconsent_due(current, today, expected):
    assert reconsent_due(current, today) is expected
