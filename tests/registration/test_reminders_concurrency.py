"""Concurrent reminder runs on PostgreSQL (select_for_update(skip_locked=True) is real there): two beats
or two redelivered tasks at once send each notice exactly once, one digest per site and recipient.

Skipped without PostgreSQL locally; a failure in CI (OLIGAMI_REQUIRE_SERVICES=1).
"""

from collections import Counter

import pytest
from django.core import mail

from registration import reminders
from registration.models import Digest, Notice
from tests.conftest import need, uses_postgresql
from tests.factories import MembershipFactory
from tests.registration.reminder_helpers import DAY, P, evaluated, registered
from tests.registration.test_registration_concurrency import _run_at_once

THREADS = 4


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_daily_runs_send_each_notice_exactly_once(plans, site_a, site_b, coordinator_a, investigator_a,
                                                             coordinator_b, data_manager, settings):
    need(uses_postgresql(), "PostgreSQL")
    settings.EMAIL_BACKEND = "tests.registration.mail_backends.SlowBackend"
    mail.outbox = []
    MembershipFactory(site=site_b, role="investigator", user__username="pi_b")
    for site, user in ((site_a, coordinator_a), (site_a, coordinator_a), (site_b, coordinator_b)):
        evaluated(site, user)
        registered(site, user)
    # Days with different reminders: evaluation due / window opening, 7 days left, 2 days left, missed.
    days = [P + 84 * DAY, P + 106 * DAY, P + 111 * DAY, P + 114 * DAY]
    for day in days:
        before = Notice.objects.count()
        outcomes = _run_at_once([lambda day=day: reminders.run_daily(today=day)] * THREADS)
        assert [error for _result, error in outcomes] == [None] * THREADS
        # Honest counts (issue 21): the threads' "created" add up to the rows really inserted.
        assert sum(scan.created for (scan, _sent), _e in outcomes) == Notice.objects.count() - before > 0
        sent_by = Counter(line.split(":")[0] for (_scan, sent), _e in outcomes for line in sent.sent)
        assert all(count == 1 for count in sent_by.values()), sent_by  # each digest sent by one thread only

    notices = list(Notice.objects.all())
    assert notices and {n.status for n in notices} == {"sent"}
    assert len({(n.patient_id, n.kind, n.due_date, n.audience) for n in notices}) == len(notices)
    # One message per recipient per digest: a digest's recipients were each offered it once.
    per_message = Counter((m.to[0], m.subject) for m in mail.outbox)
    assert per_message and set(per_message.values()) == {1}, per_message
    digests = list(Digest.objects.all())
    assert {d.status for d in digests} == {"sent"}
    assert len(mail.outbox) == sum(len(d.deliveries) for d in digests)
    assert any(d.audience == "data_managers" for d in digests)  # the missed windows
    # Every notice appears in exactly one digest of its own site (or the data managers').
    for notice in notices:
        assert notice.digest.audience == notice.audience
        assert notice.audience == "data_managers" or notice.digest.site_id == notice.site_id


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_over_one_scan_claim_disjoint_rows(plans, site_a, coordinator_a, settings):
    need(uses_postgresql(), "PostgreSQL")
    settings.EMAIL_BACKEND = "tests.registration.mail_backends.SlowBackend"
    mail.outbox = []
    for _ in range(3):
        evaluated(site_a, coordinator_a)
    day = P + 111 * DAY
    assert reminders.scan(today=day).created == 3
    outcomes = _run_at_once([lambda: reminders.send_digests(today=day)] * THREADS)
    assert [error for _result, error in outcomes] == [None] * THREADS
    assert sum(len(result.sent) for result, _e in outcomes) == 1
    assert len(mail.outbox) == 1 and Notice.objects.filter(status="sent").count() == 3
