"""The patient's stage machine: stage and step in, allowed or refused with a reason out.

Pure (standard library only), so every app can ask it: the services enforce it (each write that moves a
patient checks its step here first, under the patient lock) and the views only display it (the buttons
and the "not possible now" notices ask `allowed`). It lives in screening, the lowest app that has
patients, so that randomization, registration and the apps above them can all import it.

The table below is THE answer to "which step is allowed when". A new step (follow-up visits, withdrawal
after randomization...) is one new row: its stages that allow it, and for every other stage the refusal
(code and message). `test_stages.py` checks that every step has an answer for every stage.

There is no "ready to randomize" stage: secondary registration and randomization are one transaction
(registration.services.register_secondary calls randomization.services.randomize before it commits, and
a refused randomization rolls the secondary registration back), so a patient is never seen between them.
A registered patient goes straight to "randomized".

Messages are English %-templates marked with the no-op ``_()`` for makemessages; the services translate
them with ``gettext`` and fill ``patient``, ``stage`` (the stage's translated label) and ``step`` (the
step's translated label).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


def _(message: str) -> str:
    """No-op marker for xgettext; the caller translates."""
    return message


class Stage(enum.StrEnum):
    """Where the patient is in the trial's flow (screening.models.Patient.Stage has the same values and
    the translated labels)."""

    SCREENING = "screening"
    SCREEN_FAILED = "screen_failed"
    ELIGIBLE = "eligible"
    REGISTERED = "registered"  # primary registered, on systemic therapy
    RANDOMIZED = "randomized"
    OFF_STUDY = "off_study"


class Step(enum.StrEnum):
    """What a user (through a service) asks to do to a patient."""

    EDIT_SCREENING = "edit_screening"  # record or correct screening facts, lesions, labs
    REGISTER_PRIMARY = "register_primary"
    RECORD_EVALUATION = "record_evaluation"  # the response evaluation (S2, S5-S8 facts)
    REGISTER_SECONDARY = "register_secondary"  # and randomize at once (one transaction)
    RANDOMIZE = "randomize"  # only from inside REGISTER_SECONDARY's transaction
    TAKE_OFF_STUDY = "take_off_study"  # before randomization (after it: withdrawal, in followup)
    RECORD_RECONSENT = "record_reconsent"  # consent on a newer consent document version (issue 17)

    @property
    def label(self) -> str:
        return STEP_LABELS[self]


STEP_LABELS: dict[Step, str] = {
    Step.EDIT_SCREENING: _("screening"),
    Step.REGISTER_PRIMARY: _("primary registration"),
    Step.RECORD_EVALUATION: _("a response evaluation"),
    Step.REGISTER_SECONDARY: _("secondary registration"),
    Step.RANDOMIZE: _("randomization"),
    Step.TAKE_OFF_STUDY: _("off study"),
    Step.RECORD_RECONSENT: _("re-consent"),
}


class Kind(enum.StrEnum):
    """What sort of refusal: the services raise their "out of order" error, or their "already done" one
    (a double submit, a step that has happened)."""

    OUT_OF_ORDER = "out_of_order"
    ALREADY_DONE = "already_done"


@dataclass(frozen=True)
class Refusal:
    code: str  # the domain error's code (stable; tests and views key on it)
    message: str  # English %-template: %(patient)s (or %(number)s, the same), %(stage)s, %(step)s
    kind: Kind = Kind.OUT_OF_ORDER


# The refusals, shared by the rows below.
NOT_REGISTERED = Refusal("not_registered", _(
    "%(patient)s is not primary registered (stage: %(stage)s): %(step)s comes after primary registration."))
OFF_STUDY = Refusal("off_study", _("%(patient)s is off study: %(step)s is no longer possible."))
ALREADY_SECONDARY = Refusal("already_secondary", _(
    "%(patient)s is already secondary registered (stage: %(stage)s): %(step)s is closed."), Kind.ALREADY_DONE)
NOT_ELIGIBLE_STAGE = Refusal("not_eligible_stage", _(
    "%(patient)s cannot be primary registered: the stage is \"%(stage)s\"; only an eligible patient can be."))
SCREENING_CLOSED = Refusal("registered", _(
    "%(patient)s is already registered (%(stage)s): the screening facts can no longer change."))
NOT_READY = Refusal("not_ready", _("Patient %(number)s is not ready to randomize (stage: %(stage)s)."))
OFF_STUDY_STAGE = Refusal("stage", _(
    "%(patient)s cannot be taken off study at the stage \"%(stage)s\": off study is recorded after primary "
    "registration and before randomization."))
# Re-consent is asked of patients in the trial after primary registration (issue 17, docs/sites-and-consent.md);
# before it, the screening's consent is corrected on the screening itself.
RECONSENT_STAGE = Refusal("reconsent_stage", _(
    "%(patient)s is at the stage \"%(stage)s\": %(step)s is recorded for patients primary registered or "
    "randomized."))

S = Stage
ALLOWED = None  # the table's "yes"

# THE table: step -> stage -> None (allowed) or the refusal. Every step answers for every stage.
# fmt: off
TABLE: dict[Step, dict[Stage, Refusal | None]] = {
    Step.EDIT_SCREENING:     {S.SCREENING: ALLOWED, S.SCREEN_FAILED: ALLOWED, S.ELIGIBLE: ALLOWED,
                              S.REGISTERED: SCREENING_CLOSED, S.RANDOMIZED: SCREENING_CLOSED,
                              S.OFF_STUDY: SCREENING_CLOSED},
    Step.REGISTER_PRIMARY:   {S.SCREENING: NOT_ELIGIBLE_STAGE, S.SCREEN_FAILED: NOT_ELIGIBLE_STAGE,
                              S.ELIGIBLE: ALLOWED, S.REGISTERED: NOT_ELIGIBLE_STAGE,
                              S.RANDOMIZED: NOT_ELIGIBLE_STAGE, S.OFF_STUDY: NOT_ELIGIBLE_STAGE},
    Step.RECORD_EVALUATION:  {S.SCREENING: NOT_REGISTERED, S.SCREEN_FAILED: NOT_REGISTERED,
                              S.ELIGIBLE: NOT_REGISTERED, S.REGISTERED: ALLOWED,
                              S.RANDOMIZED: ALREADY_SECONDARY, S.OFF_STUDY: OFF_STUDY},
    Step.REGISTER_SECONDARY: {S.SCREENING: NOT_REGISTERED, S.SCREEN_FAILED: NOT_REGISTERED,
                              S.ELIGIBLE: NOT_REGISTERED, S.REGISTERED: ALLOWED,
                              S.RANDOMIZED: ALREADY_SECONDARY, S.OFF_STUDY: OFF_STUDY},
    Step.RANDOMIZE:          {S.SCREENING: NOT_READY, S.SCREEN_FAILED: NOT_READY, S.ELIGIBLE: NOT_READY,
                              S.REGISTERED: ALLOWED, S.RANDOMIZED: NOT_READY, S.OFF_STUDY: NOT_READY},
    Step.TAKE_OFF_STUDY:     {S.SCREENING: OFF_STUDY_STAGE, S.SCREEN_FAILED: OFF_STUDY_STAGE,
                              S.ELIGIBLE: OFF_STUDY_STAGE, S.REGISTERED: ALLOWED,
                              S.RANDOMIZED: OFF_STUDY_STAGE, S.OFF_STUDY: OFF_STUDY_STAGE},
    Step.RECORD_RECONSENT:   {S.SCREENING: RECONSENT_STAGE, S.SCREEN_FAILED: RECONSENT_STAGE,
                              S.ELIGIBLE: RECONSENT_STAGE, S.REGISTERED: ALLOWED, S.RANDOMIZED: ALLOWED,
                              S.OFF_STUDY: OFF_STUDY},
}
# fmt: on
del S

# Where each allowed step leads (the stage the service sets); a step absent here leaves the stage as is.
# EDIT_SCREENING moves between the three screening stages by the verdict (screening.services).
NEXT_STAGE: dict[Step, Stage] = {
    Step.REGISTER_PRIMARY: Stage.REGISTERED,
    Step.REGISTER_SECONDARY: Stage.RANDOMIZED,
    Step.RANDOMIZE: Stage.RANDOMIZED,
    Step.TAKE_OFF_STUDY: Stage.OFF_STUDY,
}


def check(stage: str, step: Step) -> Refusal | None:
    """None when `step` is allowed at `stage`, else the refusal. An unknown stage is a programming error."""
    return TABLE[step][Stage(stage)]


def allowed(stage: str, step: Step) -> bool:
    return check(stage, step) is None


def allowed_steps(stage: str) -> tuple[Step, ...]:
    """The steps allowed at `stage`, in the table's (the flow's) order: the "next step" buttons."""
    return tuple(step for step in TABLE if TABLE[step][Stage(stage)] is None)
