"""What a rule refuses, with the HTTP status that says so; the Api answers them all alike."""


class DomainError(Exception):
    """A refusal: `code` is its HTTP status, `errors` and `headers` go out with it."""

    code = 400

    def __init__(self, message, errors=None, headers=None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = headers


class Forbidden(DomainError):
    code = 403


class NotFound(DomainError):
    code = 404


class Conflict(DomainError):
    code = 409
