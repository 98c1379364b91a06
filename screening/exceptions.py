"""Refusals of the screening services; the views turn them into form errors or messages."""

from oligami_site.exceptions import DomainError


class ScreeningError(DomainError):
    """A screening write was refused (the message says why, for the user)."""


class ReasonRequired(ScreeningError):
    """A change to facts already recorded, or to an evaluated screening, needs a reason (GCP audit trail)."""


class ScreeningLocked(ScreeningError):
    """The screening may no longer change: the patient is registered, or a later screening superseded it."""


class StaleScreening(ScreeningError):
    """Someone else saved the screening after this form was loaded (issue 13: no silent last-save-wins).

    ``changes``: [(what, yours, saved now)] where the entries differ from the saved screening, as text in
    the user's language; ``current_version``: the version saved now (the form's next save overwrites it,
    knowingly).
    """

    def __init__(self, message, *, changes=(), current_version=0, code="stale"):
        super().__init__(message, code=code)
        self.changes = list(changes)
        self.current_version = current_version
