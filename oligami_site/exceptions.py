class DomainError(Exception):
    """A refusal by a service, with a message meant for the user (already translatable)."""

    def __init__(self, message, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
