"""Issue 19 with the safety app (issue 18): an expedited report past its deadline opens a data query (once),
and unsigned reports block a data lock."""

import datetime as dt

import pytest
import time_machine

from oversight import checks, cutoffs
from oversight.models import DataQuery
from safety import services
from tests.factories import PASSWORD
from tests.followup.factories import ORIGIN
from tests.safety.helpers import at, event_data, on_treatment

pytestmark = pytest.mark.django_db
AWARE = at(ORIGIN + dt.timedelta(days=11), 9, 30)


@pytest.fixture
def plans(db):
    from tests.registration.factories import make_plans

    return make_plans()


@pytest.fixture(autouse=True)
def _randomization_set_up(db):
    from tests.randomization.factories import minimization_config

    return minimization_config()


def test_report_overdue_opens_one_query_and_unsigned_reports_block_the_lock(
        plans, site_a, coordinator_a, investigator_a, data_manager, django_capture_on_commit_callbacks):
    patient = on_treatment(site_a, coordinator_a)
    with time_machine.travel(AWARE + dt.timedelta(minutes=20), tick=False), \
            django_capture_on_commit_callbacks(execute=False):
        event = services.record_event(patient=patient, data=event_data(onset_date=AWARE.date(), awareness=AWARE),
                                      user=coordinator_a)
    first_due = AWARE + dt.timedelta(hours=72)
    with time_machine.travel(first_due, tick=False):  # the deadline itself: not yet past
        assert not list(checks.BY_CODE["report_overdue"].find(first_due.date()))
    with time_machine.travel(first_due + dt.timedelta(seconds=1), tick=False):
        found = list(checks.BY_CODE["report_overdue"].find(first_due.date()))
        assert [(f.patient_id, f.key) for f in found] == [(patient.pk, f"report:{event.pk}:first")]
        assert checks.run(today=first_due.date())["report_overdue"] == {"found": 1, "created": 1}
        assert checks.run(today=first_due.date())["report_overdue"] == {"found": 1, "created": 0}
        query = DataQuery.objects.get(rule="report_overdue")
        assert "first report" in query.text and "not signed" in query.text
        cutoff = cutoffs.declare_cutoff(user=data_manager, cutoff_date=first_due.date(), purpose="Interim")
        # the first and the second (detailed) report are both still to sign
        assert ("unsigned_reports", 2) in [(b.code, b.count) for b in cutoffs.blockers(cutoff)]
        with django_capture_on_commit_callbacks(execute=False):
            services.sign_report(event=event, kind="first", narrative="Grade 4 neutropenia, recovered.",
                                 user=investigator_a, password=PASSWORD)
        assert not list(checks.BY_CODE["report_overdue"].find(first_due.date()))
