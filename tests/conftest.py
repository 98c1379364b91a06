"""Shared fixtures: users in every role at two sites, and service availability.

PostgreSQL and Redis are used for real when DATABASE_URL / CELERY_BROKER_URL point at them. Tests that
need a service skip without it, unless OLIGAMI_REQUIRE_SERVICES=1 (set by .ci/run) turns the skip
into a failure, so CI can never pass by skipping.
"""

import os

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.test import Client
from django.utils import translation

from tests.factories import MembershipFactory, SiteFactory, UserFactory, trial_role_user

REQUIRE_SERVICES = os.environ.get("OLIGAMI_REQUIRE_SERVICES") == "1"


def need(condition: bool, what: str):
    """Skip (or, in CI, fail) when a real service is not available."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (OLIGAMI_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


def uses_postgresql() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def uses_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith("redis://")


# --- pytest-xdist (`make test` runs two workers): each worker process its own Redis database -----------------
# Every worker has its own test database (pytest-django names them test_<name>_gw0, _gw1), its own tmp_path and
# its own live server port. The one thing they would share is the Redis database of CELERY_BROKER_URL: a worker
# test purges the queue and starts a `celery worker` that consumes whatever is in it, so another xdist worker's
# message would be eaten (or its own purged). Worker gwN (N > 0) therefore uses database (db - N) mod 16 of the
# same server, for the broker and the result backend, in the settings and in the environment that Celery and
# the `celery worker` subprocesses read. gw0 and a run without xdist keep the URL as given.
XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def _redis_db_for_this_worker(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db - XDIST_WORKER) % 16}"))


def _isolate_xdist_worker():
    if XDIST_WORKER == 0 or getattr(settings, "OLIGAMI_TEST_WORKER_ISOLATED", False):
        return  # (once: a second import of this module must not move the database again)
    settings.OLIGAMI_TEST_WORKER_ISOLATED = True
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        url = getattr(settings, name, None)
        if url and url.startswith("redis://"):
            setattr(settings, name, _redis_db_for_this_worker(url))
            os.environ[name] = getattr(settings, name)


_isolate_xdist_worker()  # pytest-django has loaded the settings; Celery's app reads them on first use, later


def redis_url() -> str:
    """The Redis of CELERY_BROKER_URL, or (a local run on the filesystem broker) database 15 of the default
    server; either one per xdist worker."""
    return settings.CELERY_BROKER_URL if uses_redis() else _redis_db_for_this_worker("redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def _fast_hashing_and_outbox(settings):
    # Password hashing is not under test here; MD5 keeps logins and signatures fast in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The reports' cache is moved on by commits (oligami_site.dataversion), and a test's transaction never
    # commits: off here, on in tests/oversight/test_reports_cache.py, whose tests commit for real.
    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 0
    yield
    # A view or a test that activated a language (a Japanese-speaking user's request, a page test) leaves it
    # active in this thread; the next test would then read Japanese messages where it expects the default.
    translation.deactivate()


PASSWORD = "correct-horse-battery-staple"


class OligamiClient(Client):
    """Django's test client, logging in as a person does in this app (test support only; production unchanged).

    - ``login()`` hands django-axes the request its backend needs (AxesStandaloneBackend refuses to
      authenticate without one), like a browser's, so lockouts apply to test logins too.
    - ``login()`` and ``force_login()`` then complete the second factor of users who have a confirmed TOTP
      device (every data manager, statistician and admin user in the fixtures) through
      ``django_otp.login``, the call the verification page makes after a correct code. Tests of the
      two-factor flow itself use ``password_only_client`` (second_factor=False).
    """

    def __init__(self, *args, second_factor=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.second_factor = second_factor

    def login(self, **credentials):
        if "request" not in credentials:
            request = HttpRequest()
            request.META.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "Django test client"})
            request.path = request.path_info = "/accounts/login/"
            credentials["request"] = request
        if not super().login(**credentials):
            return False
        self._complete_second_factor(get_user_model()._default_manager.get(pk=self.session["_auth_user_id"]))
        return True

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        self._complete_second_factor(user)

    def _complete_second_factor(self, user):
        from django_otp import login as otp_login
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if not self.second_factor or device is None:
            return
        request = HttpRequest()
        request.session = self.session
        request.user = user
        otp_login(request, device)
        request.session.save()


@pytest.fixture
def client():
    """pytest-django's `client`, as OligamiClient (axes-aware login, second factor completed)."""
    return OligamiClient()


@pytest.fixture
def password_only_client():
    """A client whose logins stop after the password, as a browser's do before the one-time code."""
    return OligamiClient(second_factor=False)


@pytest.fixture
def site_a(db):
    return SiteFactory(code="SITEA", name_en="Site A Hospital", name_ja="Aサイト病院")


@pytest.fixture
def site_b(db):
    return SiteFactory(code="SITEB", name_en="Site B Hospital", name_ja="Bサイト病院")


@pytest.fixture
def coordinator_a(site_a):
    return MembershipFactory(site=site_a, role="coordinator", user__username="crc_a").user


@pytest.fixture
def investigator_a(site_a):
    return MembershipFactory(site=site_a, role="investigator", user__username="pi_a").user


@pytest.fixture
def monitor_a(site_a):
    return MembershipFactory(site=site_a, role="monitor", user__username="monitor_a").user


@pytest.fixture
def coordinator_b(site_b):
    return MembershipFactory(site=site_b, role="coordinator", user__username="crc_b").user


@pytest.fixture
def data_manager(db):
    return trial_role_user("Data manager", username="dm", is_staff=True)


@pytest.fixture
def statistician(db):
    return trial_role_user("Statistician", username="stat", is_staff=True)


@pytest.fixture
def no_role_user(db):
    return UserFactory(username="nobody")
