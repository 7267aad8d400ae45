"""Domain errors: what went wrong, in the service's own terms; `service.web.problems` maps them to HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field


class ServiceError(Exception):
    """Base of every error a client can cause; `detail` is safe to show to that client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ServiceError):
    """Malformed input: bad JSON, wrong types, unknown or read-only fields, bad query parameters."""


class Unauthenticated(ServiceError):
    """No usable credentials; the detail is the LexikJWT message shown to the client."""


class Forbidden(ServiceError):
    """Authenticated, but the role may not perform the operation."""


class NotFound(ServiceError):
    """No such resource visible to the caller (other tenants' resources included)."""


class NotAcceptable(ServiceError):
    """The Accept header asks for a format the service does not produce."""


class Conflict(ServiceError):
    """The request collides with one still in progress."""


class PreconditionFailed(ServiceError):
    """An If-Match precondition does not hold any more."""


class UnsupportedMediaType(ServiceError):
    """The request body's Content-Type is not one the operation takes."""


class TooManyRequests(ServiceError):
    """The caller must wait `retry_after` seconds before trying again."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Violation:
    property_path: str
    message: str
    code: str


@dataclass(slots=True)
class ConstraintViolations(Exception):
    """Well-formed input that breaks a rule (422), with every violation found."""

    violations: list[Violation] = field(default_factory=list)

    def __str__(self) -> str:
        # Like API Platform: a violation of the whole object (empty path) is shown without a prefix.
        return "\n".join(
            f"{v.property_path}: {v.message}" if v.property_path else v.message for v in self.violations
        )
