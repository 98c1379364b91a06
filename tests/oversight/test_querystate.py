"""The data-query state table (oversight/querystate.py): every cell, and ageing at its boundary."""

import datetime as dt
import itertools

import pytest

from oversight import querystate as qs
from oversight.querystate import Side, Status, Step

STATES = [None, *Status]
SIDES = [None, *Side]

# The table as the issue states it: the data centre opens, closes and re-opens; the site answers.
EXPECTED = {
    (Step.OPEN, None, Side.DATA_CENTRE): Status.OPEN,
    (Step.ANSWER, Status.OPEN, Side.SITE): Status.ANSWERED,
    (Step.ANSWER, Status.REOPENED, Side.SITE): Status.ANSWERED,
    (Step.CLOSE, Status.OPEN, Side.DATA_CENTRE): Status.CLOSED,
    (Step.CLOSE, Status.ANSWERED, Side.DATA_CENTRE): Status.CLOSED,
    (Step.CLOSE, Status.REOPENED, Side.DATA_CENTRE): Status.CLOSED,
    (Step.REOPEN, Status.ANSWERED, Side.DATA_CENTRE): Status.REOPENED,
    (Step.REOPEN, Status.CLOSED, Side.DATA_CENTRE): Status.REOPENED,
}


@pytest.mark.parametrize(("step", "status", "side"), list(itertools.product(Step, STATES, SIDES)))
def test_every_cell_of_the_table(step, status, side):
    decision = qs.decide(step, status, side)
    expected = EXPECTED.get((step, status, side))
    assert decision.allowed == (expected is not None)
    assert decision.new_status == expected
    if not decision.allowed:
        assert decision.refusal in {"wrong_side", "wrong_status"}


def test_a_monitor_or_statistician_has_no_side_and_can_take_no_step():
    for status in STATES:
        assert qs.allowed_steps(status, None) == []


def test_allowed_steps_is_what_decide_allows():
    assert qs.allowed_steps(Status.ANSWERED, Side.DATA_CENTRE) == [Step.CLOSE, Step.REOPEN]
    assert qs.allowed_steps(Status.ANSWERED, Side.SITE) == []
    assert qs.allowed_steps(Status.REOPENED, Side.SITE) == [Step.ANSWER]


def test_whose_turn():
    assert qs.WAITING_FOR[Status.OPEN] == Side.SITE
    assert qs.WAITING_FOR[Status.REOPENED] == Side.SITE
    assert qs.WAITING_FOR[Status.ANSWERED] == Side.DATA_CENTRE
    assert qs.WAITING_FOR[Status.CLOSED] is None


def test_overdue_boundary_is_after_answer_days():
    raised = dt.date(2026, 5, 1)
    on_time = raised + dt.timedelta(days=qs.ANSWER_DAYS)
    assert qs.age_days(raised, raised) == 0
    assert not qs.is_overdue(Status.OPEN, raised, on_time)
    assert qs.is_overdue(Status.OPEN, raised, on_time + dt.timedelta(days=1))
    assert qs.is_overdue(Status.REOPENED, raised, on_time + dt.timedelta(days=1))
    # Waiting for the data centre, or closed: never the site's overdue query.
    assert not qs.is_overdue(Status.ANSWERED, raised, on_time + dt.timedelta(days=30))
    assert not qs.is_overdue(Status.CLOSED, raised, on_time + dt.timedelta(days=30))
