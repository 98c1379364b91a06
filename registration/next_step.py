"""The patient's one next step: stage, status and two facts in, the step to offer out (issue 15).

Pure (standard library and the pure modules below: the stage machine, the windows), so the patient page
and the worklist ask the same question and cannot disagree. The stage machine (screening.stages) says
which steps are *allowed* at a stage; at "registered" it allows several (evaluation, secondary
registration, off study), and the window status (registration.windows) says which one is due: the
evaluation first, then the secondary registration, off study once S2 or S3/S4 can no longer be met.
After randomization the stage machine has no step (follow-up is the followup app's), so the next step is
recording treatment and follow-up; off study has none.

The web layer maps each value to its label, URL and the role needed to take it (registration.views).
"""

from __future__ import annotations

import enum

from screening.stages import Stage, Step, allowed

from .windows import Status


class NextStep(enum.StrEnum):
    START_SCREENING = "start_screening"  # no screening yet
    CONTINUE_SCREENING = "continue_screening"  # a draft: facts still missing
    REVIEW_SCREENING = "review_screening"  # a screen failure: correct a mistyped fact or re-screen
    REGISTER_PRIMARY = "register_primary"
    RECORD_EVALUATION = "record_evaluation"
    REGISTER_SECONDARY = "register_secondary"  # and randomize, one transaction
    OFF_STUDY_PROGRESSION = "off_study_progression"  # S2 can never be met
    OFF_STUDY = "off_study"  # the S3/S4 window is missed
    FOLLOW_UP = "follow_up"  # randomized: protocol treatment and follow-up


# The stage machine's step behind each next step; None: after randomization, outside the stage machine.
STEP: dict[NextStep, Step | None] = {
    NextStep.START_SCREENING: Step.EDIT_SCREENING,
    NextStep.CONTINUE_SCREENING: Step.EDIT_SCREENING,
    NextStep.REVIEW_SCREENING: Step.EDIT_SCREENING,
    NextStep.REGISTER_PRIMARY: Step.REGISTER_PRIMARY,
    NextStep.RECORD_EVALUATION: Step.RECORD_EVALUATION,
    NextStep.REGISTER_SECONDARY: Step.REGISTER_SECONDARY,
    NextStep.OFF_STUDY_PROGRESSION: Step.TAKE_OFF_STUDY,
    NextStep.OFF_STUDY: Step.TAKE_OFF_STUDY,
    NextStep.FOLLOW_UP: None,
}


def _candidate(stage: Stage, status: Status, *, screened: bool, evaluated: bool) -> NextStep | None:
    if stage == Stage.SCREENING:
        return NextStep.CONTINUE_SCREENING if screened else NextStep.START_SCREENING
    if stage == Stage.SCREEN_FAILED:
        return NextStep.REVIEW_SCREENING
    if stage == Stage.ELIGIBLE:
        return NextStep.REGISTER_PRIMARY
    if stage == Stage.REGISTERED:
        if status == Status.PROGRESSION:  # S2 not met at the evaluation: the day it is entered
            return NextStep.OFF_STUDY_PROGRESSION
        if status == Status.WINDOW_MISSED:  # S3/S4 can no longer be met
            return NextStep.OFF_STUDY
        # The evaluation comes before the secondary registration (S2, S5-S8 are judged on it); once it is
        # recorded the secondary registration is next, even before day 84 (its page shows when it opens).
        return NextStep.REGISTER_SECONDARY if evaluated else NextStep.RECORD_EVALUATION
    if stage == Stage.RANDOMIZED:
        return NextStep.FOLLOW_UP
    return None  # off study: nothing left to do in the flow


def next_step(stage: str, status: str, *, screened: bool, evaluated: bool) -> NextStep | None:
    """The one step to offer a patient at `stage` with window `status`; None when there is none.

    `screened`: the patient has a screening; `evaluated`: a response evaluation is recorded. A step the
    stage machine refuses is never offered (the table in screening.stages has the last word).
    """
    candidate = _candidate(Stage(stage), Status(status), screened=screened, evaluated=evaluated)
    if candidate is None:
        return None
    step = STEP[candidate]
    if step is not None and not allowed(stage, step):
        return None
    return candidate
