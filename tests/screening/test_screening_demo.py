"""The screening demo seeder: varied outcomes at every demo site, dated relative to today, idempotent."""

import io
from collections import Counter

import pytest

from oligami_site.demo import DEMO_SITES, seed_core
from screening import demo
from screening.models import LabPanel, Lesion, Patient, Screening

pytestmark = pytest.mark.django_db


def totals():
    return {m.__name__: (m.objects.count(), m.history.count()) for m in (Patient, Screening, Lesion, LabPanel)}


def test_seed_is_varied_current_and_idempotent():
    seed_core("demo-password-for-tests")
    out = io.StringIO()
    demo.seed(stdout=out)
    assert "patients created" in out.getvalue()
    for code, *_ in DEMO_SITES:
        outcomes = Counter(Screening.objects.filter(patient__site__code=code).values_list("outcome", flat=True))
        assert outcomes["eligible"] >= 2 and outcomes["not_eligible"] >= 2 and outcomes["draft"] >= 1, code
    reasons = set()
    for screening in Screening.objects.filter(outcome="not_eligible"):
        reasons.update(screening.verdict["failed"] + screening.verdict["excluded_by"])
    assert {"P5", "P16", "E7", "P9", "P8"} <= reasons
    # A re-screened patient: screening 1 failed, screening 2 eligible.
    rescreened = Patient.objects.get(screenings__number=2)
    assert list(rescreened.screenings.values_list("outcome", flat=True)) == ["not_eligible", "eligible"]
    # Audit rows name the site's coordinator.
    first = Screening.objects.filter(patient__site__code="TMDU").first()
    assert first.history.earliest().history_user.username == "crc_tmdu"

    before = totals()
    again = io.StringIO()
    demo.seed(stdout=again)
    assert totals() == before and "nothing created" in again.getvalue()
