"""The kit's gapless numbering (oligami_site/numbering.py, issue 14).

Its callers keep their own tests (the registration number: tests/registration/test_registration_concurrency.py;
the screening number: tests/screening/test_screening_services.py; the allocation sequence:
tests/randomization/test_concurrency.py and test_services.py).
"""

import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from oligami_site.models import Counter
from oligami_site.numbering import next_number
from tests.conftest import need, uses_postgresql


class Rollback(Exception):
    pass


@pytest.mark.django_db
def test_each_series_counts_from_one():
    assert [next_number("test.a") for _ in range(3)] == [1, 2, 3]
    assert next_number("test.b") == 1
    assert Counter.objects.get(series="test.a").value == 3


@pytest.mark.django_db
def test_a_rollback_gives_the_number_back():
    next_number("test.a")
    with pytest.raises(Rollback), transaction.atomic():
        assert next_number("test.a") == 2
        raise Rollback
    assert next_number("test.a") == 2


@pytest.mark.django_db
def test_the_floor_skips_numbers_already_taken():
    assert next_number("test.a", floor=41) == 42
    assert next_number("test.a", floor=10) == 43  # a floor below the counter changes nothing


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_refuses():
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        next_number("test.a")
    assert not Counter.objects.filter(series="test.a").exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_get_gapless_unique_numbers_on_postgresql():
    need(uses_postgresql(), "PostgreSQL")
    threads_count = 12
    barrier = threading.Barrier(threads_count, timeout=60)
    kept, errors = [], []

    def work(i):
        try:
            barrier.wait()
            with transaction.atomic():
                number = next_number("test.race")
                if i % 3 == 0:
                    raise Rollback  # a third of the callers roll back: their numbers are handed out again
            kept.append(number)
        except Rollback:
            pass
        except Exception as exc:  # reported by the test, never lost in a thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(kept) == list(range(1, threads_count - threads_count // 3 + 1))
    assert Counter.objects.get(series="test.race").value == len(kept)


@pytest.mark.django_db(transaction=True)
def test_the_registration_counter_moves_into_the_core_and_back():
    before, after = ("registration", "0007_signature_safety_report"), ("registration", "0008_counter_to_core")
    try:
        call_command("migrate", *before, verbosity=0)
        old = MigrationExecutor(connection).loader.project_state(before).apps.get_model(
            "registration", "RegistrationCounter")
        old.objects.create(name="primary", value=17)
        call_command("migrate", *after, verbosity=0)
        assert list(Counter.objects.values_list("series", "value")) == [("registration.primary", 17)]
        call_command("migrate", *before, verbosity=0)
        assert list(old.objects.values_list("name", "value")) == [("primary", 17)]
        assert not Counter.objects.exists()
    finally:
        call_command("migrate", verbosity=0)
