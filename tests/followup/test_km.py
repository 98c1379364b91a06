"""Kaplan-Meier (followup/km.py) against hand calculations, its picture, and the curves page's blinding."""

import re

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from followup import km, services
from tests.followup.factories import day, randomized_patient


def test_product_limit_by_hand():
    # 5 patients: events on 10, 20 (two) ; censored on 15 and 30
    curve = km.kaplan_meier([(10, True), (15, False), (20, True), (20, True), (30, False)])
    assert [(s.day, round(s.survival, 4)) for s in curve.steps] == [(0, 1.0), (10, 0.8), (20, round(0.8 / 3, 4))]
    assert curve.censored == ((15, 0.8), (30, pytest.approx(0.8 / 3)))
    assert (curve.n, curve.events, curve.last_day) == (5, 3, 30)
    assert km.median(curve) == 20


def test_censored_on_an_event_day_are_at_risk_for_it():
    curve = km.kaplan_meier([(10, True), (10, False)])
    assert curve.steps[-1].survival == 0.5


def test_event_at_day_0():
    curve = km.kaplan_meier([(0, True), (5, False)])
    assert curve.steps == (km.Step(0, 0.5),)


def test_numbers_at_risk():
    obs = [(0, True), (30, False), (61, True)]
    assert [km.at_risk(obs, d) for d in (0, 1, 30, 31, 61, 62)] == [3, 2, 2, 1, 1, 0]


@settings(deadline=None)  # timing is not under test (a loaded CI machine)
@given(st.lists(st.tuples(st.integers(0, 3000), st.booleans()), min_size=1, max_size=40))
def test_survival_never_rises_and_stays_in_0_1(obs):
    curve = km.kaplan_meier(obs)
    values = [s.survival for s in curve.steps]
    assert all(0 <= v <= 1 for v in values) and values == sorted(values, reverse=True)
    assert curve.events == sum(e for _d, e in obs)
    pic = km.picture([km.Series("all", "All", tuple(obs))])
    assert pic["risk_rows"][0]["cells"][0]["n"] == len(obs)


@given(st.lists(st.tuples(st.integers(0, 2000), st.booleans()), min_size=1, max_size=80))
def test_one_censoring_tick_per_distinct_position_and_the_numbers_at_risk(obs):
    """The ticks are one SVG path (a <line> per patient cost seconds of rendering at 30,000 patients): a stroke
    8 units high at each distinct position where a patient is censored, none twice; the numbers at risk are
    at_risk's."""
    pic = km.picture([km.Series("all", "All", tuple(obs))])
    curve = km.kaplan_meier(obs)
    ticks = re.findall(r"M([\d.]+) ([\d.]+)V([\d.]+)", pic["lines"][0]["marks"])
    positions = {(float(x), round(float(y1) + 4, 1)) for x, y1, _y2 in ticks}
    assert len(ticks) == len(positions)
    assert all(round(float(y2) - float(y1), 1) == 8 for _x, y1, y2 in ticks)
    span = pic["x_ticks"][-1]["label"] * km.DAYS_PER_MONTH
    expected = {(round(56 + 560 * d / span, 1), round(20 + 240 * (1 - v), 1)) for d, v in curve.censored}
    assert positions == expected
    assert [cell["n"] for cell in pic["risk_rows"][0]["cells"]] == [
        km.at_risk(obs, round(tick["label"] * km.DAYS_PER_MONTH)) for tick in pic["x_ticks"]]


def _product_limit_reference(obs):
    """The textbook estimate, computed the slow obvious way: for each distinct event day, the number at risk is
    everyone with time on or after it, and S(t) multiplies (1 - d/n) over the event days up to t."""
    survival, steps = 1.0, [(0, 1.0)]
    for t in sorted({d for d, e in obs if e}):
        deaths = sum(1 for d, e in obs if d == t and e)
        survival *= 1 - deaths / sum(1 for d, _e in obs if d >= t)
        steps = [*steps[:-1], (0, survival)] if t == 0 else [*steps, (t, survival)]
    return steps


@given(st.lists(st.tuples(st.integers(0, 60), st.booleans()), min_size=1, max_size=60))
def test_the_linear_scan_equals_the_textbook_estimate(obs):
    # Many ties (days 0-60): the day runs the linear scan reads at once are exercised.
    curve = km.kaplan_meier(obs)
    assert [(s.day, pytest.approx(s.survival)) for s in curve.steps] == _product_limit_reference(obs)


@pytest.mark.django_db
def test_curves_pooled_for_site_staff_by_arm_for_the_statistician(client, plans, site_a, coordinator_a,
                                                                   statistician, data_manager, no_role_user,
                                                                   django_assert_max_num_queries):
    a = randomized_patient(site_a, coordinator_a, arm="A")
    b = randomized_patient(site_a, coordinator_a, arm="B")
    services.record_death(patient=a, user=coordinator_a, data={"date": day(40), "cause": "other"})
    services.record_assessment(patient=b, user=coordinator_a, data={"date": day(60), "progression": False})
    url = reverse("followup:curves")
    client.force_login(coordinator_a)
    page = client.get(url).content.decode()
    assert 'data-group="all"' in page and 'data-group="A"' not in page and "by-arm-note" not in page
    client.force_login(data_manager)
    with django_assert_max_num_queries(20):
        page = client.get(url).content.decode()
    assert 'data-group="all"' in page and 'data-group="B"' not in page
    client.force_login(statistician)
    page = client.get(url).content.decode()
    assert 'data-group="A"' in page and 'data-group="B"' in page and 'data-group="all"' not in page
    assert a.screening_number not in page and b.screening_number not in page
    client.force_login(no_role_user)
    assert client.get(url).status_code == 403


def test_patients_censored_at_one_place_get_one_mark():
    # 1,000 patients censored on day 100 and 500 on day 200, one event on day 50: two marks, not 1,500
    # (every patient still counts in the estimate and the numbers at risk).
    obs = [(50, True)] + [(100, False)] * 1000 + [(200, False)] * 500
    line = km.picture([km.Series("all", "All", tuple(obs))])["lines"][0]
    assert line["marks"].count("M") == 2 and line["n"] == 1501
