"""Refusals of the follow-up services; views show `message` to the user."""

from oligami_site.exceptions import DomainError


class FollowupError(DomainError):
    """Base of every follow-up refusal."""


class OutOfOrder(FollowupError):
    """The patient is not at the stage this record needs (e.g. an assessment before randomization)."""


class InvalidEntry(FollowupError):
    """Entered data the record cannot accept (future dates, a death before randomization, missing reason)."""


class AlreadyRecorded(FollowupError):
    """A second record of something that happens once (death, withdrawal)."""
