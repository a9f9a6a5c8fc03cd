"""One exception tree for everything that can go wrong talking to LOX24.

Every message is a sentence a person (or a model) can act on: what failed, the HTTP status,
LOX24's request id to quote to support, and what to do next. No message ever contains the
API token.
"""

from __future__ import annotations

from typing import ClassVar


class Lox24Error(Exception):
    """Base class: a LOX24 call did not succeed."""

    request_id: str | None

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class Lox24ConnectionError(Lox24Error):
    """LOX24 could not be reached; the request was not delivered, so nothing changed."""


class Lox24OutcomeUnknownError(Lox24Error):
    """The request was sent but no answer came back (timeout or dropped connection).

    LOX24 may or may not have carried it out. It is never resent automatically.
    """


class Lox24ResponseError(Lox24Error):
    """LOX24 answered with something this client cannot read."""


class Lox24APIStatusError(Lox24Error):
    """LOX24 answered with an HTTP error status."""

    status_code: int
    detail: str | None
    violations: list[tuple[str, str]]

    #: What the caller should do about it; subclasses override.
    advice: ClassVar[str] = "Check the request and try again."
    #: What failed, as the start of a sentence.
    summary: ClassVar[str] = "LOX24 returned an error"

    def __init__(
        self,
        *,
        status_code: int,
        request_id: str | None,
        detail: str | None = None,
        violations: list[tuple[str, str]] | None = None,
        operation: str = "the request",
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.violations = list(violations or [])
        self.operation = operation
        self.request_id = request_id
        super().__init__(self._sentence(), request_id=request_id)

    def _sentence(self) -> str:
        rid = self.request_id
        ref = f"HTTP {self.status_code}" + (f", LOX24 request id {rid}" if rid else "")
        text = f"{self.summary} for {self.operation} ({ref})"
        if self.detail:
            text += f": {self.detail.rstrip('.')}"
        if self.violations:
            text += " [" + "; ".join(f"{path or '(body)'}: {msg}" for path, msg in self.violations) + "]"
        return f"{text}. {self.advice}"


class BadRequestError(Lox24APIStatusError):
    summary = "LOX24 rejected the input"
    advice = "Correct the named parameter and try again; nothing was changed."


class AuthenticationError(Lox24APIStatusError):
    summary = "LOX24 rejected the API token"
    advice = (
        "Check LOX24_API_TOKEN (format <clientId>:<apiKey>, from account.lox24.eu → Settings → API). "
        "Calls are paused for a minute, because LOX24 blocks the IP for ten minutes after more than "
        "three failed logins a minute."
    )


class PaymentRequiredError(Lox24APIStatusError):
    summary = "LOX24 refused because the account balance or credit line is too low"
    advice = "Top up the LOX24 account, then try again."


class PermissionDeniedError(Lox24APIStatusError):
    summary = "LOX24 denied access"
    advice = "The account may not be activated yet (up to 24 h after registration) or the key lacks the right."


class NotFoundError(Lox24APIStatusError):
    summary = "LOX24 could not find what was asked for"
    advice = "Check the id; list what exists first."


class GroupNotFoundError(NotFoundError):
    """The target group does not exist (LOX24 answered 404 before anything was created)."""

    def __init__(self, *, group_id: int, request_id: str | None) -> None:
        self.group_id = group_id
        super().__init__(status_code=404, request_id=request_id, operation=f"adding phones to group {group_id}")

    def _sentence(self) -> str:
        rid = f", LOX24 request id {self.request_id}" if self.request_id else ""
        return (
            f"LOX24 has no contact group with id {self.group_id} (HTTP 404{rid}). Nothing was added. "
            "Call list_groups to find the group's id."
        )


class PayloadTooLargeError(Lox24APIStatusError):
    summary = "LOX24 refused a request that was too large"
    advice = "Send fewer items per request."


class UnprocessableEntityError(Lox24APIStatusError):
    summary = "LOX24 could not process the input"
    advice = "Correct the values named above and try again; nothing was changed."


class RateLimitError(Lox24APIStatusError):
    summary = "LOX24 temporarily blocked this IP address"
    advice = (
        "LOX24 blocks an IP for ten minutes after more than three failed logins a minute: "
        "fix LOX24_API_TOKEN and wait before retrying."
    )


class ServerError(Lox24APIStatusError):
    summary = "LOX24 had an internal problem"
    advice = "Try again in a few minutes; if it persists, contact LOX24 support with the request id."


_BY_STATUS: dict[int, type[Lox24APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[Lox24APIStatusError]:
    """The exception class for an HTTP error status (5xx → `ServerError`)."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, Lox24APIStatusError)


class AuthCooldownError(AuthenticationError):
    """Raised without contacting LOX24 while the client is cooling down after a 401."""

    def __init__(self, *, seconds_left: float, request_id: str | None = None) -> None:
        self.seconds_left = seconds_left
        super().__init__(status_code=401, request_id=request_id, operation="the last call")

    def _sentence(self) -> str:
        rid = f" (LOX24 request id {self.request_id})" if self.request_id else ""
        return (
            f"LOX24 rejected the API token on a recent call{rid}; no further calls are sent for "
            f"another {max(1, round(self.seconds_left))} s, because LOX24 blocks the IP for ten minutes after "
            "more than three failed logins a minute. Fix LOX24_API_TOKEN and restart the server."
        )
