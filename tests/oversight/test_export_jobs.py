"""Exports as background jobs (issue 21): asked for on the exports page, written by the Celery task after
commit, shown with progress then a download link for the requester alone, with the file's SHA-256,
until it expires; the file is the direct export byte for byte; bad input queues nothing; the worker's
queries do not grow with the rows."""

import datetime as dt
import hashlib

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oligami_site.celery import app
from oversight import export_jobs
from oversight.models import ExportJob
from tests.factories import trial_role_user
from tests.registration.factories import make_eligible_screening, make_plans

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"
    return settings.EXPORT_DIR


@pytest.fixture
def patients(site_a, site_b):
    make_plans()
    for site in (site_a, site_b, site_a):
        make_eligible_screening(site=site)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_data_manager_asks_follows_the_progress_and_downloads(client, data_manager, patients, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    client.force_login(data_manager)
    page = client.get(reverse("oversight:exports")).content.decode()
    assert 'id="export-job-form"' in page and 'value="analysis"' in page and 'value="screenings"' in page

    # The task is sent after commit, never before (delay_on_commit); without a commit nothing is sent.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("oversight:export_job_create"), {"kind": "analysis"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("oversight:export_job", args=[job.pk])
    assert len(callbacks) == 1 and job.status == "queued" and job.requested_by == data_manager

    queued = client.get(reverse("oversight:export_job", args=[job.pk])).content.decode()
    assert 'http-equiv="refresh"' in queued and 'id="export-progress"' in queued and "export-download" not in queued

    monkeypatch.setattr(app.conf, "task_always_eager", True)  # the worker, in process
    callbacks[0]()
    job.refresh_from_db()
    assert job.status == "done" and job.rows == job.total == 3 and job.expires_at > timezone.now()

    done = client.get(reverse("oversight:export_job", args=[job.pk])).content.decode()
    assert 'http-equiv="refresh"' not in done and job.sha256 in done
    download = client.get(reverse("oversight:export_job_download", args=[job.pk]))
    content = _body(download)
    assert download.status_code == 200 and 'filename="oligami-analysis-' in download["Content-Disposition"]
    assert hashlib.sha256(content).hexdigest() == job.sha256 and len(content) == job.size
    # Byte for byte the direct export (the same columns and rules).
    assert content == _body(client.get(reverse("oversight:export_analysis")))
    listed = client.get(reverse("oversight:exports")).content.decode()
    assert reverse("oversight:export_job", args=[job.pk]) in listed


@pytest.mark.parametrize("kind", ["", "nonsense", "../../etc/passwd", "analysis\x00"])
def test_an_unknown_export_queues_nothing(client, data_manager, kind):
    client.force_login(data_manager)
    response = client.post(reverse("oversight:export_job_create"), {"kind": kind}, follow=True)
    if "\x00" in kind:  # a NUL byte is refused before any view (oligami_site.middleware, issue 13): 400
        assert response.status_code == 400 and "null character" in response.content.decode()
    else:
        assert response.status_code == 200 and "Choose one of the exports" in response.content.decode()
    assert not ExportJob.objects.exists()


def test_only_data_managers_ask_and_only_the_requester_downloads(client, data_manager, coordinator_a, patients):
    client.force_login(coordinator_a)
    assert client.post(reverse("oversight:export_job_create"), {"kind": "analysis"}).status_code == 403
    assert not ExportJob.objects.exists()
    job = export_jobs.write(export_jobs.request_export(user=data_manager, kind="screenings").pk)
    assert job.status == "done"
    urls = (reverse("oversight:export_job", args=[job.pk]), reverse("oversight:export_job_download", args=[job.pk]))
    for url in urls:
        assert client.get(url).status_code == 403  # a coordinator: not an export user at all
    other = trial_role_user("Data manager", username="dm2")
    client.force_login(other)
    for url in urls:
        assert client.get(url).status_code == 404  # another data manager's file: as if it did not exist
    client.force_login(data_manager)
    assert client.get(reverse("oversight:export_job_download", args=[job.pk])).status_code == 200
    assert client.get(reverse("oversight:export_job", args=[job.pk + 1])).status_code == 404


def test_the_file_expires(client, data_manager, patients, settings, export_dir):
    job = export_jobs.write(export_jobs.request_export(user=data_manager, kind="patients").pk)
    client.force_login(data_manager)
    url = reverse("oversight:export_job_download", args=[job.pk])
    later = job.expires_at + dt.timedelta(seconds=1)
    with time_machine.travel(later - dt.timedelta(minutes=2), tick=False):
        client.force_login(data_manager)  # a day later: a new session
        assert client.get(url).status_code == 200
    with time_machine.travel(later, tick=False):
        client.force_login(data_manager)
        assert client.get(url).status_code == 404
        assert "has expired" in client.get(reverse("oversight:export_job", args=[job.pk])).content.decode()
        assert export_jobs.purge_expired() == 1
    assert not export_jobs.path_of(job).exists() and ExportJob.objects.get().status == "expired"
    assert export_jobs.write(job.pk).status == "expired"  # a late redelivery writes nothing


def test_a_failed_write_leaves_no_file_and_says_so(client, data_manager, patients, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings.EXPORT_DIR = blocker  # the folder cannot be created: the write fails
    job = export_jobs.write(export_jobs.request_export(user=data_manager, kind="analysis").pk)
    assert job.status == "failed" and job.error and not job.sha256
    client.force_login(data_manager)
    assert "The export failed" in client.get(reverse("oversight:export_job", args=[job.pk])).content.decode()
    assert client.get(reverse("oversight:export_job_download", args=[job.pk])).status_code == 404


def test_progress_is_saved_while_writing(data_manager, patients, monkeypatch):
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 1)
    seen = []
    original = export_jobs._save

    def recording(job, **fields):
        if set(fields) == {"rows"}:
            seen.append(fields["rows"])
        original(job, **fields)

    monkeypatch.setattr(export_jobs, "_save", recording)
    job = export_jobs.write(export_jobs.request_export(user=data_manager, kind="patients").pk)
    assert seen == [1, 2, 3] and job.rows == 3 and job.percent == 100


def test_the_workers_queries_do_not_grow_with_the_rows(data_manager, site_a):
    make_plans()

    def queries_for_one_export(kind):
        job = export_jobs.request_export(user=data_manager, kind=kind)
        with CaptureQueriesContext(connection) as ctx:
            assert export_jobs.write(job.pk).status == "done"
        return len(ctx.captured_queries)

    make_eligible_screening(site=site_a)
    few = {kind: queries_for_one_export(kind) for kind in ("analysis", "patients", "screenings", "lab-panels")
           if kind in export_jobs.kinds()}
    for _ in range(12):
        make_eligible_screening(site=site_a)
    assert few and {kind: queries_for_one_export(kind) for kind in few} == few
