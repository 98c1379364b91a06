"""The patient's one next step (registration/next_step.py): pure, per stage and window status, and never a
step the stage machine refuses."""

import itertools

import pytest

from registration.next_step import STEP, NextStep, next_step
from registration.windows import Status
from screening.stages import Stage, allowed

REGISTERED_ACTIVE = (Status.ON_THERAPY, Status.EVALUATION_DUE, Status.WINDOW_OPEN, Status.WINDOW_CLOSING)


@pytest.mark.parametrize(("stage", "status", "screened", "evaluated", "expected"), [
    (Stage.SCREENING, Status.SCREENING, False, False, NextStep.START_SCREENING),
    (Stage.SCREENING, Status.SCREENING, True, False, NextStep.CONTINUE_SCREENING),
    (Stage.SCREEN_FAILED, Status.SCREEN_FAILED, True, False, NextStep.REVIEW_SCREENING),
    (Stage.ELIGIBLE, Status.ELIGIBLE, True, False, NextStep.REGISTER_PRIMARY),
    *[(Stage.REGISTERED, s, True, False, NextStep.RECORD_EVALUATION) for s in REGISTERED_ACTIVE],
    *[(Stage.REGISTERED, s, True, True, NextStep.REGISTER_SECONDARY) for s in REGISTERED_ACTIVE],
    (Stage.REGISTERED, Status.PROGRESSION, True, True, NextStep.OFF_STUDY_PROGRESSION),
    (Stage.REGISTERED, Status.WINDOW_MISSED, True, True, NextStep.OFF_STUDY),
    (Stage.REGISTERED, Status.WINDOW_MISSED, True, False, NextStep.OFF_STUDY),  # missed before any evaluation
    (Stage.RANDOMIZED, Status.RANDOMIZED, True, True, NextStep.FOLLOW_UP),
    (Stage.OFF_STUDY, Status.OFF_STUDY, True, True, None),
    (Stage.OFF_STUDY, Status.OFF_STUDY, True, False, None),
])
def test_one_next_step_per_stage_and_status(stage, status, screened, evaluated, expected):
    assert next_step(stage, status, screened=screened, evaluated=evaluated) == expected


def test_a_step_the_stage_machine_refuses_is_never_offered():
    offered = set()
    for stage, status, screened, evaluated in itertools.product(Stage, Status, (False, True), (False, True)):
        step = next_step(stage, status, screened=screened, evaluated=evaluated)
        if step is not None:
            offered.add(step)
            assert STEP[step] is None or allowed(stage, STEP[step]), (stage, status, step)
    assert offered == set(NextStep)  # every next step is reachable
    assert [s for s in NextStep if STEP[s] is None] == [NextStep.FOLLOW_UP]  # only after randomization


def test_every_stage_but_off_study_has_a_next_step():
    for stage in Stage:
        steps = {next_step(stage, status, screened=True, evaluated=e) for status in Status for e in (False, True)}
        assert (steps == {None}) == (stage == Stage.OFF_STUDY), stage
