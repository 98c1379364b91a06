"""Refusals of the randomization services; the views and the admin turn them into messages."""

from oligami_site.exceptions import DomainError


class RandomizationError(DomainError):
    """A randomization write was refused (the message says why, for the user)."""


class NotConfigured(RandomizationError):
    """No active configuration, or the method's list has not been generated."""


class NotReadyToRandomize(RandomizationError):
    """The patient's stage is not "ready to randomize" (and she has no allocation yet)."""


class InvalidFactors(RandomizationError):
    """A factor value the configuration needs is missing or not one of its levels."""


class BlockListExhausted(RandomizationError):
    """The allocation list of the patient's stratum is used up; the data managers have been alerted."""


class ConfigInvalid(RandomizationError):
    """A configuration value is refused (p = 1, p <= 0.5, odd block size, unknown factor...)."""

    def __init__(self, message, *, code=None, field=None):
        super().__init__(message, code=code)
        self.field = field


class ConfigFrozen(RandomizationError):
    """The set-up cannot change after the first allocation; the attempt has been recorded."""
