"""Refusals of the registration services; views show `message` (and `failures`, when given) to the user."""

from oligami_site.exceptions import DomainError


class RegistrationError(DomainError):
    """Base of every registration refusal."""


class OutOfOrder(RegistrationError):
    """The patient is not at the stage this step needs (e.g. secondary before primary registration)."""


class AlreadyRegistered(OutOfOrder):
    """A second registration of the same step for one patient (a double or concurrent submit)."""


class NotEligible(RegistrationError):
    """The engine's re-run found criteria not met or missing; `failures` is [(criterion id, reason)]."""

    def __init__(self, message, *, failures=(), code="not_eligible"):
        super().__init__(message, code=code)
        self.failures = list(failures)


class InvalidEntry(RegistrationError):
    """Entered data that the step cannot accept (future dates, contradictory findings, missing reason)."""


class NoTherapyPlan(RegistrationError):
    """No therapy plan version of the subtype is in force on the registration date."""


class NeedsConfirmation(RegistrationError):
    """The entry is allowed but doubtful (windows.evaluation_warnings): saved only when the user confirms.
    `warnings` is [(code, message in the user's language)]."""

    def __init__(self, message, *, warnings=(), code="needs_confirmation"):
        super().__init__(message, code=code)
        self.warnings = list(warnings)


class NotAllowed(RegistrationError):
    """The user's role may not take this step (e.g. voiding an evaluation is the data centre's)."""


class CoursesUnavailable(RegistrationError):
    """S1 needs the recorded systemic therapy courses and no installed app records them (registration.courses)."""
