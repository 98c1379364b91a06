"""Refusals of the screening services; the views turn them into form errors or messages."""

from oligami_site.exceptions import DomainError


class ScreeningError(DomainError):
    """A screening write was refused (the message says why, for the user)."""


class ReasonRequired(ScreeningError):
    """A change to facts already recorded, or to an evaluated screening, needs a reason (GCP audit trail)."""


class ScreeningLocked(ScreeningError):
    """The screening may no longer change: the patient is registered, or a later screening superseded it."""
