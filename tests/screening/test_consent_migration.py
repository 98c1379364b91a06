"""Migration screening/0006 gives every consent recorded before versions existed a version, and no verdict
changes (issue 17)."""

import datetime as dt
import importlib
from dataclasses import replace

import pytest
from django.apps import apps as global_apps

from screening import eligibility as rules
from screening.models import ConsentDocument, Screening
from tests.factories import ScreeningFactory

migration = importlib.import_module("screening.migrations.0006_existing_consents_get_a_version")


def before_versions(**fields):
    """A screening as it was stored before issue 17: a consent date, no version."""
    return ScreeningFactory(consent_version=None, **fields)


def old_verdict(screening):
    """How P18 read it then: the consent date alone."""
    return rules.evaluate(replace(screening.to_primary_facts(), consent_version_required=False))


def decision(verdict) -> dict:
    """Everything a verdict decides: eligibility, the lists, each criterion's status (P18's reason now also
    names the version, so reasons are compared apart)."""
    data = verdict.to_dict()
    data["criteria"] = [(c["id"], c["status"]) for c in data["criteria"]]
    return data


@pytest.mark.django_db
def test_every_existing_consent_gets_the_initial_version_and_no_verdict_changes():
    cases = {
        "earliest": before_versions(consent_date=dt.date(2025, 11, 3)),
        "later": before_versions(consent_date=dt.date(2026, 2, 20)),
        "after_registration": before_versions(consent_date=dt.date(2026, 3, 5)),  # P18 not met, stays so
        "no_consent": before_versions(consent_date=None),  # P18 missing, stays so
    }
    before = {name: decision(old_verdict(s)) for name, s in cases.items()}
    assert migration.give_existing_consents_a_version(global_apps, None) == 3
    initial = ConsentDocument.objects.get()
    assert (initial.version, initial.effective_date, initial.superseded_date) == (
        migration.INITIAL_VERSION, dt.date(2025, 11, 3), None)
    for name, screening in cases.items():
        screening.refresh_from_db()
        assert screening.consent_version_id == (None if name == "no_consent" else initial.pk), name
        after = rules.evaluate(screening.to_primary_facts())
        assert decision(after) == before[name], name
        reasons = {c.id: c.reason for c in after.criteria}
        assert reasons == {c.id: c.reason for c in old_verdict(screening).criteria} | {"P18": reasons["P18"]}
    # Audited: the version's creation and every screening's change carry the migration's reason.
    # (Called with the project's models the history signal writes a row too; in the migration it does not.)
    assert initial.history.filter(history_change_reason=migration.REASON).exists()
    changed = cases["later"].history.get(history_change_reason=migration.REASON)
    assert changed.consent_version_id == initial.pk
    assert cases["no_consent"].history.filter(history_change_reason=migration.REASON).count() == 0


@pytest.mark.django_db
def test_a_database_without_consents_gets_no_version():
    assert migration.give_existing_consents_a_version(global_apps, None) == 0
    assert not ConsentDocument.objects.exists()


@pytest.mark.django_db
def test_the_verdict_with_the_version_reads_the_version():
    screening = before_versions(consent_date=dt.date(2026, 2, 20))
    assert Screening.objects.get(pk=screening.pk).consent_version is None
    # Without the migration an unversioned consent is P18 missing in the application: hence the migration.
    assert rules.evaluate(screening.to_primary_facts()).criterion("P18").status == rules.MISSING
    migration.give_existing_consents_a_version(global_apps, None)
    screening.refresh_from_db()
    assert rules.evaluate(screening.to_primary_facts()).criterion("P18").status == rules.MET
