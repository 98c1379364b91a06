"""The stage machine (screening.stages): one table, every step answers for every stage, and the models'
stages are the machine's."""

import pytest

from screening import stages
from screening.models import Patient
from screening.stages import Kind, Stage, Step


def test_the_models_stages_are_the_machines():
    assert set(Patient.Stage.values) == {str(stage) for stage in Stage}


@pytest.mark.parametrize("step", list(Step))
def test_every_step_answers_for_every_stage(step):
    assert set(stages.TABLE[step]) == set(Stage)
    assert stages.STEP_LABELS[step]


# The table spelled out as the protocol's flow reads: each step and the only stages that allow it.
EXPECTED_ALLOWED = {
    Step.EDIT_SCREENING: {Stage.SCREENING, Stage.SCREEN_FAILED, Stage.ELIGIBLE},
    Step.REGISTER_PRIMARY: {Stage.ELIGIBLE},
    Step.RECORD_EVALUATION: {Stage.REGISTERED},
    Step.REGISTER_SECONDARY: {Stage.REGISTERED},
    Step.RANDOMIZE: {Stage.REGISTERED},
    Step.TAKE_OFF_STUDY: {Stage.REGISTERED},
    Step.RECORD_RECONSENT: {Stage.REGISTERED, Stage.RANDOMIZED},
}


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("step", list(Step))
def test_allowed_exactly_where_the_flow_says(stage, step):
    assert stages.allowed(stage, step) == (stage in EXPECTED_ALLOWED[step])
    refusal = stages.check(stage, step)
    if refusal is not None:
        assert refusal.code
        assert "%(patient)s" in refusal.message or "%(number)s" in refusal.message


def test_refusals_after_primary_registration_name_the_reason():
    assert stages.check(Stage.ELIGIBLE, Step.RECORD_EVALUATION).code == "not_registered"
    assert stages.check(Stage.OFF_STUDY, Step.REGISTER_SECONDARY).code == "off_study"
    already = stages.check(Stage.RANDOMIZED, Step.REGISTER_SECONDARY)
    assert already.code == "already_secondary" and already.kind == Kind.ALREADY_DONE
    assert stages.check(Stage.RANDOMIZED, Step.TAKE_OFF_STUDY).code == "stage"
    assert stages.check(Stage.REGISTERED, Step.EDIT_SCREENING).code == "registered"


def test_next_steps_follow_the_flow():
    assert stages.allowed_steps(Stage.ELIGIBLE) == (Step.EDIT_SCREENING, Step.REGISTER_PRIMARY)
    assert stages.allowed_steps(Stage.REGISTERED) == (
        Step.RECORD_EVALUATION, Step.REGISTER_SECONDARY, Step.RANDOMIZE, Step.TAKE_OFF_STUDY,
        Step.RECORD_RECONSENT)
    assert stages.allowed_steps(Stage.RANDOMIZED) == (Step.RECORD_RECONSENT,)
    assert stages.allowed_steps(Stage.OFF_STUDY) == ()


def test_where_each_step_leads():
    assert stages.NEXT_STAGE[Step.REGISTER_PRIMARY] == Stage.REGISTERED
    # secondary registration and randomization are one transaction: nothing in between
    assert stages.NEXT_STAGE[Step.REGISTER_SECONDARY] == stages.NEXT_STAGE[Step.RANDOMIZE] == Stage.RANDOMIZED
    for step, stage in stages.NEXT_STAGE.items():
        assert not stages.allowed(stage, step), f"{step} could be repeated at {stage}"


def test_an_unknown_stage_is_an_error():
    with pytest.raises(ValueError):
        stages.check("ready_to_randomize", Step.RANDOMIZE)
