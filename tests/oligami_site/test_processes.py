"""Real processes: a Celery worker consuming from the broker, and gunicorn with production settings.

No mocks: the worker is a separate `celery worker` process; the broker is kombu's filesystem transport
(embedded default) or the real Redis of CELERY_BROKER_URL; gunicorn serves against real PostgreSQL.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from tests.conftest import need, redis_url, uses_postgresql, uses_redis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _round_trip(broker_url: str, backend_url: str, extra_env: dict, transport_options: dict, monkeypatch):
    # Celery lets the CELERY_BROKER_URL environment variable win over an explicit broker argument.
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    env = {**os.environ, "CELERY_BROKER_URL": broker_url, "CELERY_RESULT_BACKEND": backend_url, **extra_env}
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "oligami_site", "worker", "--pool=solo", "--concurrency=1",
         "--without-mingle", "--without-gossip", "-l", "warning", "-Q", "celery"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        client = Celery("roundtrip", broker=broker_url, backend=backend_url, set_as_current=False)
        client.conf.broker_transport_options = transport_options
        result = client.send_task("oligami_site.tasks.ping")
        try:
            assert result.get(timeout=60) == "pong"
        except Exception:
            worker.terminate()
            print(worker.communicate(timeout=30)[0].decode(errors="replace"))
            raise
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.communicate(timeout=30)


def test_each_xdist_worker_publishes_to_its_own_redis_database(monkeypatch):
    """`make test` runs two xdist workers (tests/conftest.py): gwN uses Redis database (db - N) mod 16, and the
    project's Celery app publishes where the settings say (it read them after the move)."""
    import tests.conftest as conftest
    from oligami_site.celery import app

    monkeypatch.setattr(conftest, "XDIST_WORKER", 1)
    assert conftest._redis_db_for_this_worker("redis://127.0.0.1:6379/14") == "redis://127.0.0.1:6379/13"
    assert conftest._redis_db_for_this_worker("redis://:pw@host:6380/0") == "redis://:pw@host:6380/15"
    monkeypatch.setattr(conftest, "XDIST_WORKER", 0)
    assert conftest._redis_db_for_this_worker("redis://127.0.0.1:6379/14") == "redis://127.0.0.1:6379/14"
    if uses_redis():
        from kombu import Connection

        with app.connection_for_write() as connection:
            assert connection.as_uri() == Connection(settings.CELERY_BROKER_URL).as_uri()


def test_celery_round_trip_on_embedded_filesystem_broker(tmp_path, monkeypatch):
    queue = tmp_path / "celery" / "queue"
    queue.mkdir(parents=True)
    (tmp_path / "celery" / "processed").mkdir()
    (tmp_path / "results").mkdir()
    options = {"data_folder_in": str(queue), "data_folder_out": str(queue),
               "processed_folder": str(tmp_path / "celery" / "processed"), "store_processed": False,
               "control_folder": str(tmp_path / "celery" / "control")}
    results = f"file://{tmp_path / 'results'}"
    _round_trip("filesystem://", results, {"OLIGAMI_VAR_DIR": str(tmp_path)}, options, monkeypatch)


@pytest.mark.services
def test_celery_round_trip_on_redis(monkeypatch):
    url = redis_url()
    need(_redis_reachable(url), f"Redis at {url}")
    _round_trip(url, url, {}, {"visibility_timeout": 3600}, monkeypatch)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.services
@pytest.mark.django_db
def test_gunicorn_serves_login_with_production_settings(tmp_path):
    need(uses_postgresql(), "PostgreSQL (DATABASE_URL)")
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "OLIGAMI_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(tmp_path / "static"),
        "OLIGAMI_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "false",
    }
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    # Production refuses to start without a real key: prove it before proving that it starts.
    refused = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                             env={**env, "SECRET_KEY": "short"})
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "oligami_site.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/accounts/login/",
                                         headers={"X-Forwarded-Proto": "https", "Host": "127.0.0.1"})
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = response.read().decode()
                    headers = response.headers
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        assert "Log in to the OLIGAMI site manager" in body
        import re

        css = re.search(r'href="(/static/bootstrap/css/bootstrap\.min\.[0-9a-f]+\.css)"', body)
        assert css, "Bootstrap is served from the app itself (hashed by the manifest storage)"
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}{css.group(1)}", headers={"X-Forwarded-Proto": "https"})) as response:
            assert response.status == 200 and b"Bootstrap" in response.read(2000)
        assert headers["X-Frame-Options"] == "DENY"
        assert "Secure" in headers.get("Set-Cookie", "")  # CSRF cookie only over HTTPS in production
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_production_refuses_missing_allowed_hosts():
    env = {**os.environ, "OLIGAMI_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": ""}
    refused = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert refused.returncode != 0 and "ALLOWED_HOSTS" in refused.stderr
