"""Issue 19, cut-off and lock: a locked record cannot be edited until a data manager unlocks with a reason;
randomized patients whose status at the cut-off is unknown block the lock; the monitoring report's
follow-up completeness is counted from the same rule."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from followup import services as followup_services
from oversight import cutoffs, monitoring
from tests.factories import PASSWORD
from tests.followup.factories import day, randomized_patient
from tests.registration.factories import make_eligible_screening, make_plans, register

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _randomization_set_up(db):
    from tests.randomization.factories import minimization_config

    return minimization_config()


def lock_today(data_manager):
    cutoff = cutoffs.declare_cutoff(user=data_manager, cutoff_date=dt.date.today(), purpose="Interim analysis")
    return cutoffs.lock_cutoff(user=data_manager, cutoff=cutoff, password=PASSWORD)


def test_a_locked_record_is_refused_until_unlocked(client, site_a, coordinator_a, data_manager):
    from screening import services as screening_services
    from tests.screening.factories import eligible_inputs, post_data

    make_plans()
    patient = screening_services.create_patient(site=site_a, sex="female", birth_date=dt.date(1970, 1, 1),
                                                user=coordinator_a)
    data, lesions, labs = eligible_inputs()
    screening = screening_services.save_screening(patient=patient, data=data, lesions=lesions, labs=labs,
                                                  user=coordinator_a)
    rows_before = screening.history.count()
    cutoff = lock_today(data_manager)
    client.force_login(coordinator_a)
    url = reverse("screening:screening_edit", args=[screening.pk])
    with_ids = [{"id": stored.pk, **given} for stored, given in zip(screening.lesions.all(), lesions, strict=True)]
    post = post_data({**data, "ecog": 2}, with_ids, labs, initial_forms=2, reason="ECOG re-assessed")
    response = client.post(url, post)
    assert response.status_code == 200  # the form again, with the refusal; never a 500
    assert "The data are locked as of the cut-off" in response.content.decode()
    screening.refresh_from_db()
    assert screening.ecog != 2 and screening.history.count() == rows_before  # nothing written
    # New records go on after a lock (follow-up continues), and the system's bookkeeping (the stage) too.
    fresh = make_eligible_screening(site=site_a)
    assert register(fresh, coordinator_a).pk
    # A data manager unlocks with a reason: the correction goes through.
    cutoffs.unlock_cutoff(user=data_manager, cutoff=cutoff, reason="Late correction of ECOG")
    assert client.post(url, post).status_code == 302
    screening.refresh_from_db()
    assert screening.ecog == 2


def test_unknown_status_blocks_the_lock_and_counts_in_monitoring(site_a, coordinator_a, data_manager):
    make_plans()
    traveller = time_machine.travel(dt.datetime.combine(day(301), dt.time(3, 0), tzinfo=dt.UTC), tick=False)
    traveller.start()
    known = randomized_patient(site_a, coordinator_a)
    unknown = randomized_patient(site_a, coordinator_a)
    followup_services.save_followup_settings(status_unknown_days=180, user=data_manager, reason="test")
    cutoff_day = day(300)
    followup_services.record_last_known_alive(patient=known, user=coordinator_a, data={"date": day(200)})
    followup_services.record_last_known_alive(patient=unknown, user=coordinator_a, data={"date": day(100)})
    # day(200) is within 180 days of day(300); day(100) is 200 days before it: unknown.
    if True:
        cutoff = cutoffs.declare_cutoff(user=data_manager, cutoff_date=cutoff_day, purpose="Final analysis")
        assert [(b.code, b.count) for b in cutoffs.blockers(cutoff)] == [("missing_followup", 1)]
        report = monitoring.report(cutoff=cutoff_day)
        [row] = [r for r in report.sites if r.code == site_a.code]
        assert row.followup_complete_percent == 50.0 and report.total.followup_complete_percent == 50.0
        followup_services.record_last_known_alive(patient=unknown, user=coordinator_a, data={"date": day(290)})
        assert cutoffs.blockers(cutoff) == []
        assert monitoring.report(cutoff=cutoff_day).total.followup_complete_percent == 100.0
    # Before anyone was randomized: no percentage (not 0, not 100).
    assert monitoring.report(cutoff=day(-200)).total.followup_complete_percent is None
    traveller.stop()
