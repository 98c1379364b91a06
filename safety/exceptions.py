"""Refusals of the safety services; views show `message` to the user (and act on `code`, e.g. grade_5)."""

from oligami_site.exceptions import DomainError


class SafetyError(DomainError):
    """Base of every safety refusal."""


class InvalidEntry(SafetyError):
    """Entered data the record cannot accept (onset before registration, grade outside 1-4, future awareness)."""


class OutOfOrder(SafetyError):
    """Not at this step (a second report before the first, a report of an event that is not reportable)."""


class NotAllowed(SafetyError):
    """The user's role does not take this step (signing is the site investigator's, acknowledging the DM's)."""
