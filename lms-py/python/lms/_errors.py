"""The exceptions every operation raises, one class per error kind of the
core (DESIGN.md, "Errors"). The native module maps ``Error::kind()`` onto
these classes in one place and builds them with ``(message, code, fields,
retry_after)``."""

from __future__ import annotations

from typing import Dict, List, Optional

__all__ = [
    "LmsError",
    "InvalidInput",
    "Unauthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "RateLimited",
    "PaymentError",
    "ProviderError",
]


class LmsError(Exception):
    """Base of every lms error; raised as itself for internal errors, whose
    message is generic (the detail went to the log)."""

    code: str
    message: str
    fields: List[Dict[str, str]]
    retry_after: Optional[int]

    def __init__(
        self,
        message: str,
        code: str = "internal",
        fields: Optional[List[Dict[str, str]]] = None,
        retry_after: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = list(fields or [])
        self.retry_after = retry_after

    def to_dict(self) -> Dict[str, object]:
        """The error's stable parts, as problem+json members."""
        out: Dict[str, object] = {"code": self.code, "detail": self.message}
        if self.fields:
            out["errors"] = [dict(f) for f in self.fields]
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInput(LmsError):
    """The input is malformed or breaks a rule; ``fields`` says which."""


class Unauthenticated(LmsError):
    """No valid credentials (a missing, expired or revoked token)."""


class Forbidden(LmsError):
    """The actor is known but may not do this."""


class NotFound(LmsError):
    """The thing does not exist, or the actor may not know that it does."""


class Conflict(LmsError):
    """The request collides with the current state."""


class RateLimited(LmsError):
    """Too many attempts; ``retry_after`` is the wait in whole seconds."""


class PaymentError(LmsError):
    """A payment was declined or could not be taken."""


class ProviderError(LmsError):
    """An external provider failed or answered unexpectedly."""
