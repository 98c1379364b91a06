"""The round-2 P14 data migration keeps every existing screening's verdict, audited, and lists the
screenings whose verdict would change if a blank part were read as not recorded (p14_review)."""

import datetime as dt
import io
from dataclasses import replace

import pytest
from django.apps import apps as global_apps
from django.core.management import call_command

from screening import eligibility as rules
from screening import p14_review
from screening.models import Screening
from tests.factories import ScreeningFactory

RECURRENT = {"presentation_history": "invasive", "breast_tumour": "none", "recurrence_date": dt.date(2025, 1, 10)}


def before_round_2(**fields):
    """A screening as round 1 stored it: dates only, no "not given" (the fields did not exist)."""
    screening = ScreeningFactory(**fields)
    Screening.objects.filter(pk=screening.pk).update(
        initial_surgery_not_given=False, perioperative_chemotherapy_not_given=False,
        targeted_therapy_not_given=False)
    return Screening.objects.get(pk=screening.pk)


def old_verdict(screening):
    """How round 1 read it: the latest *recorded* date, a blank read as not given."""
    dates = [screening.initial_surgery_date, screening.perioperative_chemotherapy_end_date,
             screening.targeted_therapy_end_date]
    recorded = [d for d in dates if d is not None]
    facts = replace(screening.to_primary_facts(), initial_treatment_end_date=max(recorded) if recorded else None)
    return rules.evaluate(facts)


@pytest.mark.django_db
def test_migration_keeps_every_verdict_and_writes_the_trail():
    cases = {
        # recurrent, surgery dated, the rest blank: relied on "not given" -> inferred, still eligible
        "inferred": before_round_2(**RECURRENT, initial_surgery_date=dt.date(2023, 1, 10)),
        # recurrent, all three dated: nothing to infer
        "complete": before_round_2(**RECURRENT, initial_surgery_date=dt.date(2023, 1, 10),
                                   perioperative_chemotherapy_end_date=dt.date(2023, 6, 1),
                                   targeted_therapy_end_date=dt.date(2023, 9, 1)),
        # recurrent, nothing dated: P14 was missing and stays missing
        "no_dates": before_round_2(**RECURRENT),
        # de novo with a stray date: P14 not applicable, nothing inferred
        "de_novo": before_round_2(initial_surgery_date=dt.date(2020, 1, 1)),
        # recurrent, short interval read through the blank: stays not met
        "short": before_round_2(**{**RECURRENT, "recurrence_date": dt.date(2023, 6, 1)},
                                initial_surgery_date=dt.date(2023, 1, 10)),
    }
    before = {name: old_verdict(s).to_dict() for name, s in cases.items()}
    assert p14_review.keep_meaning(global_apps, None) == 2
    for name, screening in cases.items():
        screening.refresh_from_db()
        assert rules.evaluate(screening.to_primary_facts()).to_dict() == before[name], name
    inferred = cases["inferred"]
    assert (inferred.initial_surgery_not_given, inferred.perioperative_chemotherapy_not_given,
            inferred.targeted_therapy_not_given) == (False, True, True)
    assert not cases["no_dates"].perioperative_chemotherapy_not_given
    assert not cases["de_novo"].perioperative_chemotherapy_not_given
    trail = inferred.history.order_by("-history_id").first()
    assert trail.history_change_reason == p14_review.REASON and trail.history_type == "~"
    assert trail.targeted_therapy_not_given is True
    # Run twice: nothing more to infer.
    assert p14_review.keep_meaning(global_apps, None) == 0


@pytest.mark.django_db
def test_p14_review_lists_the_screenings_whose_verdict_would_change():
    kept = before_round_2(**RECURRENT, initial_surgery_date=dt.date(2023, 1, 10))
    confirmed = before_round_2(**RECURRENT, initial_surgery_date=dt.date(2023, 2, 10))
    before_round_2(**RECURRENT, initial_surgery_date=dt.date(2023, 1, 10),
                   perioperative_chemotherapy_end_date=dt.date(2023, 6, 1),
                   targeted_therapy_end_date=dt.date(2023, 9, 1))
    p14_review.keep_meaning(global_apps, None)
    # A site confirms one afterwards (any later change on the trail): no longer listed.
    confirmed.refresh_from_db()
    confirmed._change_reason = "Parts confirmed with the site"
    confirmed.save()
    out = io.StringIO()
    call_command("p14_review", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{kept.patient.screening_number} screening 1 ")
    assert "perioperative_chemotherapy_not_given, targeted_therapy_not_given" in lines[0]
    assert "P14 met -> missing" in lines[0]
    assert "now eligible; if blank were not recorded not eligible (failed -; missing P14; excluded by -)" in lines[0]
    assert lines[1].startswith("1 screening(s)")


@pytest.mark.django_db
def test_p14_review_with_nothing_to_list():
    out = io.StringIO()
    call_command("p14_review", stdout=out)
    assert out.getvalue().startswith("0 screening(s)")
