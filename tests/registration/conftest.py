import pytest

from tests.registration.factories import make_plans


@pytest.fixture
def plans(db):
    """Therapy plans of the three subtypes, in force since 2020 (luminal 3 x 28, HER2 and TN 4 x 21 days)."""
    return make_plans()


@pytest.fixture(autouse=True)
def randomization_set_up(db):
    """Secondary registration randomizes at once: every registration test runs with the default set-up."""
    from tests.randomization.factories import minimization_config

    return minimization_config()
