"""Issue 21: the analysis data set in a constant number of queries, whatever the number of patients, from
server-side cursors merged patient by patient (oversight.exports.analysis_rows), with the same rows as
before: the implementation it replaced is kept here as the reference (prefetched screenings per chunk of
patients, every randomized patient's follow-up read up front), not in the app."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from followup import selectors as followup_selectors
from followup.models import Assessment, Death, LastKnownAlive, LostToFollowUp, Withdrawal
from oversight import export_jobs, exports, reports
from registration import services as registration_services
from screening.models import Patient
from tests.factories import MembershipFactory, ScreeningFactory, SiteFactory
from tests.followup.factories import day, randomized_patient
from tests.randomization.factories import minimization_config
from tests.registration.factories import make_eligible_screening, make_plans, record, register

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def _reference_rows(today=None, *, with_arm=False):
    """The analysis rows as oversight/exports.py wrote them before issue 21's change (commit 627f67f)."""
    today = today or timezone.localdate()
    hidden = ({n for n, column in enumerate(exports.ANALYSIS_COLUMNS) if column.name in exports.IDENTIFIERS}
              if with_arm else set())
    followups = followup_selectors.followup_for(Patient.objects.all())
    for patient in reports.flow_queryset(None).iterator(chunk_size=250):
        flow = reports.classify(patient, today)
        followup = followups.get(patient.pk)
        row = (*(column.get(flow) for column in exports.ANALYSIS_COLUMNS),
               *(column.get(followup) for column in exports.ENDPOINT_COLUMNS))
        if with_arm:
            row = (exports.analysis_id(patient.pk), *(value for n, value in enumerate(row) if n not in hidden),
                   flow.arm or "")
        exports._release(patient)
        yield row


# --- a trial with patients in every stage, status and follow-up situation -------------------------------


def _failed(site, today, **kwargs):
    screening = ScreeningFactory(patient__site=site, outcome="not_eligible", screening_date=today - 30 * DAY,
                                 verdict={"failed": ["P16", "P5"], "excluded_by": ["E7"], "missing": []}, **kwargs)
    Patient.objects.filter(pk=screening.patient_id).update(stage=Patient.Stage.SCREEN_FAILED)
    return screening.patient


def _registered(site, user, today, days_ago):
    return register(make_eligible_screening(site=site, on=today - days_ago * DAY), user).patient


def _evaluated(site, user, today, **evaluation):
    patient = _registered(site, user, today, 90)
    record(patient, user, today - 2 * DAY, courses_given=3, **evaluation)
    return patient


def _randomized(site, user, **_ignored):
    return randomized_patient(site, user)


def _followed(site, user, **_ignored):
    patient = randomized_patient(site, user)
    Assessment.objects.create(patient=patient, date=day(84), progression=False)
    Assessment.objects.create(patient=patient, date=day(168), progression=True)
    LastKnownAlive.objects.create(patient=patient, date=day(100))
    LastKnownAlive.objects.create(patient=patient, date=day(175))
    return patient


def _dead(site, user, **_ignored):
    patient = randomized_patient(site, user)
    Assessment.objects.create(patient=patient, date=day(84), progression=False)
    Death.objects.create(patient=patient, date=day(120), cause="breast_cancer")
    return patient


def _contradicted(site, user, **_ignored):
    """F5: a progression after death (both endpoints unknown, endpoint_problems filled)."""
    patient = randomized_patient(site, user)
    Death.objects.create(patient=patient, date=day(50), cause="unknown")
    Assessment.objects.create(patient=patient, date=day(84), progression=True)
    return patient


def _withdrawn(site, user, **_ignored):
    patient = randomized_patient(site, user)
    Assessment.objects.create(patient=patient, date=day(84), progression=False)
    Assessment.objects.create(patient=patient, date=day(150), progression=True)  # after F3's date: not used
    Withdrawal.objects.create(patient=patient, date=day(90), kind="all_data")
    return patient


def _lost(site, user, dm, **_ignored):
    patient = randomized_patient(site, user)
    LastKnownAlive.objects.create(patient=patient, date=day(60))
    LostToFollowUp.objects.create(patient=patient, confirmed_at=timezone.now(), confirmed_by=dm)
    return patient


def _voided(site, user, dm, today):
    patient = _evaluated(site, user, today)
    registration_services.void_evaluation(patient=patient, user=dm, reason="entered for the wrong patient")
    return patient


def _off_study(site, user, today, **_ignored):
    patient = _registered(site, user, today, 30)
    registration_services.take_off_study(patient=patient, user=user, date=today, reason="withdrawal",
                                         details="moved away")
    return patient


def _rescreened(site, today, **_ignored):
    first = _failed(site, today)
    make_eligible_screening(patient=first, number=2, on=today - 3 * DAY)
    return first


KINDS = {
    "draft": lambda site, today, **_: ScreeningFactory(patient__site=site, screening_date=today).patient,
    "facts missing": lambda site, today, **_: ScreeningFactory(
        patient__site=site, screening_date=today, verdict={"failed": [], "excluded_by": [], "missing": ["P9"]}).patient,
    "screen failed": lambda site, today, **_: _failed(site, today),
    "eligible": lambda site, today, **_: make_eligible_screening(site=site, on=today - 2 * DAY).patient,
    "re-screened": lambda site, today, **_: _rescreened(site, today),
    "on therapy": lambda site, user, today, **_: _registered(site, user, today, 10),
    "evaluation due": lambda site, user, today, **_: _registered(site, user, today, 80),
    "window open": lambda site, user, today, **_: _evaluated(site, user, today),
    "progression": lambda site, user, today, **_: _evaluated(site, user, today, progression=True,
                                                              overall_response="PD"),
    "voided": lambda site, user, dm, today: _voided(site, user, dm, today),
    "off study": lambda site, user, today, **_: _off_study(site, user, today),
    "randomized": _randomized,
    "followed": _followed,
    "dead": _dead,
    "contradicted": _contradicted,
    "withdrawn": _withdrawn,
    "lost": _lost,
}


@pytest.fixture
def sites(site_b, site_a, coordinator_b, coordinator_a, data_manager):
    """Three sites whose ids run against their codes (SITEB, SITEA, then AAA): the export's order is by code,
    so the merge cannot lean on the ids. Plans and a minimization set-up for the randomizations."""
    site_c = SiteFactory(code="AAA")
    coordinator_c = MembershipFactory(site=site_c, role="coordinator", user__username="crc_c").user
    make_plans()
    minimization_config()
    return [(site_a, coordinator_a), (site_b, coordinator_b), (site_c, coordinator_c)]


def _add(sites, dm, rounds: int) -> None:
    """Every kind of patient `rounds` times, spread over the sites."""
    today = timezone.localdate()
    n = Patient.objects.count()
    for _round in range(rounds):
        for make in KINDS.values():
            site, user = sites[n % len(sites)]
            make(site=site, user=user, dm=dm, today=today)
            n += 1


def _rows(today, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        rows = list(exports.analysis_rows(today, **kwargs))
    return rows, len(ctx.captured_queries)


def test_the_rows_are_those_of_the_implementation_before(sites, data_manager, monkeypatch):
    _add(sites, data_manager, rounds=2)
    boxes = {flow.box for flow in reports.flows_for(None)}
    assert boxes == set(reports.Box), boxes  # every terminal box of the CONSORT flow is in the trial
    # Fetches of 3 rows: each cursor's fetches end inside some patient's rows, and the merge carries on.
    monkeypatch.setattr(exports, "ANALYSIS_CHUNK_SIZE", 3)
    for today in (timezone.localdate(), timezone.localdate() + 200 * DAY):
        for with_arm in (False, True):
            expected = list(_reference_rows(today, with_arm=with_arm))
            rows, _queries = _rows(today, with_arm=with_arm)
            assert rows == expected, (today, with_arm)
            header = exports.analysis_header(with_arm=with_arm)
            assert "".join(exports.csv_lines(header, rows)) == "".join(exports.csv_lines(header, expected))
    by_name = dict(zip(exports.analysis_header(), rows[0], strict=True))
    assert "arm" not in by_name  # blinding: only the statistician's variant has the arm
    known = [r for r in _rows(timezone.localdate())[0] if r[exports.analysis_header().index("os_days")] not in
             (None, 0)]
    assert known  # the follow-up facts reached the rows (not every randomized patient censored at day 0)


def test_the_number_of_queries_does_not_grow_with_the_patients(sites, data_manager, django_assert_max_num_queries):
    today = timezone.localdate()
    _add(sites, data_manager, rounds=1)
    small, small_queries = _rows(today)
    _add(sites, data_manager, rounds=3)
    with django_assert_max_num_queries(4):  # patients, sites, screenings, assessments
        large, large_queries = _rows(today)
    assert len(large) == 4 * len(small) == 4 * len(KINDS)
    assert large_queries == small_queries
    assert _rows(today, with_arm=True)[1] == small_queries


def test_the_job_saves_its_progress_between_the_cursors_fetches(sites, data_manager, monkeypatch, settings,
                                                                tmp_path):
    """The worker's file, written while the cursors are open with a progress UPDATE every 2 rows between
    fetches of 3 rows (SQLite and PostgreSQL both allow the write beside the open reads), is the
    reference's CSV."""
    settings.EXPORT_DIR = tmp_path / "exports"
    monkeypatch.setattr(exports, "ANALYSIS_CHUNK_SIZE", 3)
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 2)
    _add(sites, data_manager, rounds=1)
    job = export_jobs.write(export_jobs.request_export(user=data_manager, kind="analysis").pk)
    expected = "".join(exports.csv_lines(exports.analysis_header(), _reference_rows()))
    assert job.status == "done" and job.rows == len(KINDS)
    assert export_jobs.path_of(job).read_bytes() == expected.encode()


def test_an_empty_trial_is_one_query(db):
    assert _rows(timezone.localdate()) == ([], 1)


def test_the_merge_skips_rows_of_patients_it_was_not_given():
    """Rows of a patient the patients' cursor does not have (screened after it was opened) are dropped, not
    handed to the next patient, and do not hold up the rows behind them."""
    rows = [((0, 1), "a"), ((0, 2), "orphan"), ((0, 3), "c1"), ((0, 3), "c2"), ((1, 1), "d"), ((2, 5), "late")]
    merged = exports._PatientOrdered(iter(rows), key=lambda row: row[0])
    assert [v for _k, v in merged.take((0, 1))] == ["a"]
    assert [v for _k, v in merged.take((0, 3))] == ["c1", "c2"]
    assert merged.take((0, 4)) == []
    assert [v for _k, v in merged.take((1, 1))] == ["d"]
    assert merged.take((2, 1)) == []
    assert [v for _k, v in merged.take((2, 5))] == ["late"]
    assert merged.take((3, 1)) == []
    assert exports._merge_key({7: 0}, 8, 1) == (-1, 1)  # a site created after the patients' cursor: skipped
