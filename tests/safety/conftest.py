import pytest

from tests.registration.factories import make_plans


@pytest.fixture
def plans(db):
    return make_plans()


@pytest.fixture(autouse=True)
def _randomization_set_up(request):
    """Secondary registration randomizes at once: database tests run with the default set-up."""
    if "db" not in request.fixturenames and "transactional_db" not in request.fixturenames \
            and not request.node.get_closest_marker("django_db"):
        return None
    request.getfixturevalue("db" if "transactional_db" not in request.fixturenames else "transactional_db")
    from tests.randomization.factories import minimization_config

    return minimization_config()
