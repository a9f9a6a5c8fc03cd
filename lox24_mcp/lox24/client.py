"""A typed async client for the parts of the LOX24 REST API this server needs.

It never imports `mcp`: it could ship on its own. One `httpx2.AsyncClient` is injected (or created)
per process. Retries happen only where they are safe; see `RetryPolicy`.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import httpx2
from pydantic import SecretStr

from lox24_mcp.lox24.credentials import CallerTokenRejectedError, LoginBudget, key_digest
from lox24_mcp.lox24.errors import (
    AuthCooldownError,
    Lox24APIStatusError,
    Lox24ConnectionError,
    Lox24Error,
    Lox24OutcomeUnknownError,
    Lox24ResponseError,
    status_error_class,
)
from lox24_mcp.lox24.group_csv import GroupCsvError, parse_group_csv
from lox24_mcp.lox24.models import BatchItemResult, Group, GroupContacts, Sms, SmsFilters, SmsPage
from lox24_mcp.lox24.trace import note_request_id
from lox24_mcp.lox24.tracing import note_retry, traced_request

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.lox24.eu"
REQUEST_ID_HEADER = "X-LOX24-REQUEST-ID"
AUTH_HEADER = "X-LOX24-AUTH-TOKEN"
JSON = "application/json"
JSON_LD = "application/ld+json"

#: Statuses that mean "not processed, try again later".
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Upper bound on pages fetched for one listing (a runaway-pagination guard).
MAX_PAGES = 200


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long the client retries.

    Retried: connection failures before the request was sent and 429 (honouring `Retry-After`),
    and — for reads only — 502/503/504, timeouts and dropped connections. Never retried: 401 and
    403 (LOX24 blocks the IP for ten minutes after more than three failed logins a minute), other
    4xx, 500, and any POST whose outcome is unknown: a POST answered with any 5xx, or whose answer
    was lost, raises `Lox24OutcomeUnknownError`. All times are seconds.
    """

    attempts: int = 4
    total_time: float = 30.0
    backoff: float = 0.25
    max_backoff: float = 4.0
    auth_cooldown: float = 60.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt `attempt + 1`."""
        wait: float = min(self.backoff * 2.0 ** (attempt - 1), self.max_backoff)
        return max(wait, retry_after) if retry_after is not None else wait


NO_RETRY = RetryPolicy(attempts=1)


class _TokenAuth(httpx2.Auth):
    """Adds `X-LOX24-AUTH-TOKEN`. The only place the API token is ever unwrapped.

    With a `LoginBudget` (one tenant's key among many), a request is sent only when the budget
    admits the key, and LOX24's verdict on it is reported back.
    """

    def __init__(self, token: SecretStr, budget: LoginBudget | None = None) -> None:
        self._token = token
        self.budget = budget
        #: What the 401 cool-down is kept by: the account and the key (a wrong key for an account
        #: must not pause the right one).
        self.cooldown_key = f"{self.account_id}/{key_digest(token)[:16]}"

    def _value(self) -> str:
        return self._token.get_secret_value()

    @property
    def account_id(self) -> str:
        """The public client id part of `<clientId>:<apiKey>` (never the key)."""
        return self._value().partition(":")[0]

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers[AUTH_HEADER] = self._value()
        yield request

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        budget = self.budget
        if budget is None:
            request.headers[AUTH_HEADER] = self._value()
            yield request
            return
        digest = key_digest(self._token)
        holds_slot = await budget.admit(digest)
        request.headers[AUTH_HEADER] = self._value()
        status: int | None = None
        try:
            response = yield request
            status = response.status_code
        finally:
            if holds_slot:
                budget.settle(digest, status)
            elif status is not None:
                budget.note(digest, status)

    def __repr__(self) -> str:
        return "_TokenAuth(token=SecretStr('**********'))"


class CooldownRegistry:
    """Per-credential pauses after a 401, shared by every credential view of one pool.

    LOX24 blocks the calling IP for ten minutes after more than three failed logins a minute, so
    after a 401 an account's calls stop for `RetryPolicy.auth_cooldown` seconds. The pause is kept
    per credential (account id and a digest of the key): one account's wrong key never pauses another
    account, nor the right key of the same account.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, tuple[float, str | None]] = {}

    def start(self, account_id: str, seconds: float, request_id: str | None) -> None:
        self._until[account_id] = (self._clock() + seconds, request_id)

    def check(self, account_id: str) -> None:
        """Raise `AuthCooldownError` while `account_id` is paused."""
        entry = self._until.get(account_id)
        if entry is None:
            return
        until, request_id = entry
        left = until - self._clock()
        if left > 0:
            raise AuthCooldownError(seconds_left=left, request_id=request_id)
        del self._until[account_id]


class _Pool:
    """One `httpx2.AsyncClient` for every credential view: created on first use, closed once."""

    def __init__(self, http_client: httpx2.AsyncClient | None, timeout: float) -> None:
        self._owned = http_client is None
        self._http = http_client
        self._timeout = timeout
        self.closed = False

    def get(self) -> httpx2.AsyncClient:
        if self.closed:
            raise RuntimeError("this Lox24Client is closed")
        if self._http is None:
            # Created on first use: a server answering only `initialize` and `tools/list` (a cold
            # start) does not pay for building the TLS context.
            self._http = httpx2.AsyncClient(
                timeout=httpx2.Timeout(self._timeout, connect=min(self._timeout, 10.0)),
                limits=httpx2.Limits(max_connections=32, max_keepalive_connections=16),
            )
        return self._http

    async def aclose(self) -> None:
        self.closed = True
        if self._owned and self._http is not None:
            await self._http.aclose()


class Lox24Client:
    """Calls LOX24 and turns every failure into a `lox24_mcp.lox24.errors.Lox24Error`.

    One client owns one connection pool; `with_credentials()` gives views for other accounts that
    share the pool, the retry policy and the per-account cool-down registry.

    Args:
        token: `<clientId>:<apiKey>`, as a `SecretStr`; None for a client that only hands out views.
        base_url: `https://api.lox24.eu` or a compatible API (the sandbox).
        http_client: a shared `httpx2.AsyncClient`; the caller keeps ownership. One is created if omitted.
        retry: the retry policy; `NO_RETRY` disables retries.
        timeout: seconds for connect/read/write when the client is created here.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        token: SecretStr | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http_client: httpx2.AsyncClient | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._auth = _TokenAuth(token) if token is not None else None
        self._base = base_url.rstrip("/")
        self._pool = _Pool(http_client, timeout)
        self._retry = retry
        self._clock = clock
        self._cooldowns = CooldownRegistry(clock)
        self._is_view = False

    def with_credentials(self, token: SecretStr, *, budget: LoginBudget | None = None) -> Lox24Client:
        """A client for another account that shares this client's pool, retry policy and cool-downs.

        `budget`: for keys sent by callers (many tenants through one IP), see `lox24.credentials`.
        """
        view = object.__new__(Lox24Client)
        view.__dict__.update(self.__dict__)
        view._auth = _TokenAuth(token, budget)
        view._is_view = True
        return view

    def __repr__(self) -> str:
        return f"Lox24Client(base_url={self._base!r}, token=SecretStr('**********'))"

    @property
    def base_url(self) -> str:
        return self._base

    @property
    def account_id(self) -> str:
        """LOX24's public client id (the part of the token before the colon)."""
        return self._credentials().account_id

    def _credentials(self) -> _TokenAuth:
        if self._auth is None:
            raise RuntimeError("this Lox24Client has no credentials; use with_credentials(token)")
        return self._auth

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it (views leave the shared pool open)."""
        if not self._is_view:
            await self._pool.aclose()

    async def __aenter__(self) -> Lox24Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ operations

    async def search_sms(self, filters: SmsFilters, *, page: int = 1) -> SmsPage:
        """`GET /sms`: one page of SMS matching `filters`, with LOX24's total count where it gives one.

        Raises:
            Lox24Error: the call failed; the message says why and what to do.
        """
        if page < 1:
            raise ValueError("page starts at 1")
        params = [*filters.to_query(), ("page", str(page))]
        response = await self._request("GET", "/sms", params=params, accept=JSON_LD, operation="searching SMS")
        data = _json(response)
        members, total = _collection(data, response)
        items = [Sms.model_validate(m) for m in members]
        return SmsPage(
            total=total, page=page, items=items, has_next=_has_next(data), server_time=_server_time(response)
        )

    async def cancel_sms(self, filters: SmsFilters, *, allow_all: bool = False) -> int:
        """`POST /sms/ops/batch_cancel`: stop the unsent SMS matching `filters`; returns LOX24's count.

        An empty filter would cancel every pending SMS of the account, so it is refused unless
        `allow_all` is true.

        Raises:
            ValueError: `filters` is empty and `allow_all` is false (nothing is sent).
            Lox24OutcomeUnknownError: the request was sent but no answer came back; not resent.
            Lox24Error: any other failure.
        """
        if filters.is_empty() and not allow_all:
            raise ValueError("refusing to cancel with no filter; pass allow_all=True to cancel every pending SMS")
        response = await self._request(
            "POST", "/sms/ops/batch_cancel", params=filters.to_query(), accept=JSON, operation="cancelling SMS"
        )
        data = _json(response)
        if isinstance(data, dict):
            for key in ("deleted_sms_count", "canceled_sms_count", "cancelled_sms_count"):
                value = data.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
        raise Lox24ResponseError(
            "LOX24 answered the cancel without a count (expected deleted_sms_count); check the result with "
            "search_sms before trying again.",
            request_id=response.headers.get(REQUEST_ID_HEADER),
        )

    async def list_groups(self) -> list[Group]:
        """`GET /groups`, every page.

        Raises:
            Lox24Error: the call failed.
        """
        groups: list[Group] = []
        for page in range(1, MAX_PAGES + 1):
            response = await self._request(
                "GET", "/groups", params=[("page", str(page))], accept=JSON_LD, operation="listing groups"
            )
            members, total = _collection(_json(response), response)
            groups.extend(Group.model_validate(m) for m in members)
            if not members or total is None or len(groups) >= total:
                break
        return groups

    async def add_phones(self, group_id: int, entries: Sequence[Mapping[str, Any]]) -> list[BatchItemResult]:
        """`POST /groups/{id}/phones/batch`: one batch; LOX24's verdict per entry, in input order.

        Raises:
            NotFoundError: the group does not exist.
            Lox24OutcomeUnknownError: the batch was sent but no answer came back; not resent.
            Lox24ResponseError: the answer does not account for every entry.
            Lox24Error: any other failure.
        """
        response = await self._request(
            "POST",
            f"/groups/{int(group_id)}/phones/batch",
            json=list(entries),
            accept=JSON,
            operation=f"adding phones to group {group_id}",
        )
        data = _json(response)
        items, _ = _collection(data, response)
        if len(items) != len(entries):
            raise Lox24ResponseError(
                f"LOX24 answered {len(items)} results for a batch of {len(entries)} phones; the outcome of this "
                "batch is unknown — check the group's phones before sending it again.",
                request_id=response.headers.get(REQUEST_ID_HEADER),
            )
        return [_batch_item(item) for item in items]

    # ------------------------------------------------------------------ transport

    @traced_request
    async def _request(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        operation: str,
        accept: str,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
    ) -> httpx2.Response:
        auth = self._credentials()
        if auth.budget is None:  # a caller's key: its LoginBudget refuses failed keys instead
            self._cooldowns.check(auth.cooldown_key)
        # GETs are safe to repeat after an unknown outcome; POSTs are not.
        repeatable = method == "GET"
        deadline = self._clock() + self._retry.total_time
        headers = {"Accept": accept}
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            started = self._clock()
            try:
                response = await self._pool.get().request(
                    method,
                    self._base + path,
                    params=list(params) if params else None,
                    json=json,
                    headers=headers,
                    auth=auth,
                )
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.LocalProtocolError) as exc:
                # None of these got a request onto the wire. The exception text is not repeated: a
                # LocalProtocolError can quote a header value, and the token is a header.
                error: Lox24Error = Lox24ConnectionError(
                    f"Could not reach LOX24 at {self._base} for {operation} ({type(exc).__name__}); nothing was sent. "
                    "Check the network or LOX24_BASE_URL and try again."
                )
            except (
                httpx2.TimeoutException,
                httpx2.NetworkError,
                httpx2.RemoteProtocolError,
                httpx2.DecodingError,
            ) as exc:
                if not repeatable:
                    raise Lox24OutcomeUnknownError(
                        f"LOX24 did not answer {operation} ({type(exc).__name__}) after the request was sent, so it "
                        "may or may not have been carried out. It was not resent; check the current state before "
                        "trying again."
                    ) from exc
                error = Lox24ConnectionError(
                    f"LOX24 did not answer {operation} ({type(exc).__name__}). Try again in a moment."
                )
            else:
                request_id = response.headers.get(REQUEST_ID_HEADER)
                note_request_id(request_id)
                logger.debug(
                    "%s %s -> %s in %.0f ms (request id %s)",
                    method,
                    path,
                    response.status_code,
                    (self._clock() - started) * 1000,
                    request_id,
                )
                if response.is_success:
                    return response
                if not repeatable and response.status_code >= 500:
                    # A gateway answers 502/504 when LOX24 may already have done the work: a POST that got
                    # a 5xx has an unknown outcome, and is never resent.
                    rid = f", LOX24 request id {request_id}" if request_id else ""
                    raise Lox24OutcomeUnknownError(
                        f"LOX24 answered {operation} with HTTP {response.status_code}{rid} after the request was "
                        "sent, so it may or may not have been carried out. It was not resent; check the current "
                        "state before trying again.",
                        request_id=request_id,
                    )
                error = _status_error(response, operation)
                if response.status_code == 401:
                    if auth.budget is not None:
                        raise CallerTokenRejectedError(status_code=401, request_id=request_id, operation=operation)
                    self._cooldowns.start(auth.cooldown_key, self._retry.auth_cooldown, request_id)
                    raise error
                if response.status_code not in RETRY_STATUSES:
                    raise error
                retry_after = _retry_after(response)
            wait = self._retry.wait(attempt, retry_after)
            if attempt >= self._retry.attempts or self._clock() + wait > deadline:
                raise error
            logger.warning("%s; retrying in %.2f s (attempt %d of %d)", error, wait, attempt + 1, self._retry.attempts)
            note_retry(attempt, wait, error)
            await anyio.sleep(wait)

    # ------------------------------------------------------------------ group export (issue 10)

    async def group_contacts(self, group_id: int) -> GroupContacts:
        """`GET /groups/{id}/file/csv`: every contact of a group in one request (a list of `GroupContact`,
        with `.columns`, the export's captions of the contact columns a–e).

        Raises:
            NotFoundError: the group does not exist.
            Lox24ResponseError: the answer is not a readable export (no phone column).
            Lox24Error: any other failure.
        """
        response = await self._request(
            "GET",
            f"/groups/{int(group_id)}/file/csv",
            accept="text/csv",
            operation=f"reading the contacts of group {group_id}",
        )
        try:
            return parse_group_csv(response.content, charset=response.charset_encoding)
        except GroupCsvError as exc:
            raise Lox24ResponseError(
                f"LOX24's export of group {group_id} could not be read: {exc}. Try again later.",
                request_id=response.headers.get(REQUEST_ID_HEADER),
            ) from None


# ---------------------------------------------------------------------- parsing helpers


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise Lox24ResponseError(
            f"LOX24 answered HTTP {response.status_code} with a body that is not JSON; try again later.",
            request_id=response.headers.get(REQUEST_ID_HEADER),
        ) from None


def _collection(data: Any, response: httpx2.Response) -> tuple[list[Any], int | None]:
    """Members and total of a collection: a bare JSON array, or JSON-LD with or without the `hydra:` prefix."""
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        members = data.get("hydra:member", data.get("member"))
        total = data.get("hydra:totalItems", data.get("totalItems"))
        if isinstance(members, dict):  # the spec types a batch's hydra:member as one object
            members = [members]
        if isinstance(members, list):
            return members, total if isinstance(total, int) else None
    raise Lox24ResponseError(
        "LOX24 answered with an unexpected shape (no list of results); try again later.",
        request_id=response.headers.get(REQUEST_ID_HEADER),
    )


def _server_time(response: httpx2.Response) -> int | None:
    """The answer's `Date` header as unix seconds (LOX24's clock, not this host's)."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _has_next(data: Any) -> bool | None:
    """Whether a JSON-LD collection says there is a next page; None when it has no view to say so."""
    if not isinstance(data, dict):
        return None
    view = data.get("hydra:view", data.get("view"))
    if not isinstance(view, dict):
        return None
    return bool(view.get("hydra:next", view.get("next")))


def _error_text(body: Any) -> tuple[str | None, list[tuple[str, str]]]:
    """`detail` (JSON) or `hydra:description` (JSON-LD), and `violations[]` as (path, message)."""
    if not isinstance(body, dict):
        return None, []
    detail = body.get("detail") or body.get("hydra:description") or body.get("description")
    if not isinstance(detail, str) or not detail.strip():
        title = body.get("title") or body.get("hydra:title")
        detail = title if isinstance(title, str) and title != "An error occurred" else None
    raw = body.get("violations")
    violations = [
        (str(v.get("propertyPath", "")), str(v.get("message", "")))
        for v in (raw[:20] if isinstance(raw, list) else [])
        if isinstance(v, dict)
    ]
    if detail and violations and all(msg in detail for _, msg in violations):
        violations = []  # already spelled out in detail
    return (detail[:500] if detail else None), violations


def _status_error(response: httpx2.Response, operation: str) -> Lox24APIStatusError:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail, violations = _error_text(body)
    cls = status_error_class(response.status_code)
    return cls(
        status_code=response.status_code,
        request_id=response.headers.get(REQUEST_ID_HEADER),
        detail=detail,
        violations=violations,
        operation=operation,
    )


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    return None


def _batch_item(item: Any) -> BatchItemResult:
    if not isinstance(item, dict) or not isinstance(item.get("status"), int):
        return BatchItemResult(status=0, detail="LOX24 gave no status for this entry")
    status: int = item["status"]
    body = item.get("body")
    if 200 <= status < 300:
        phone_id = body.get("id") if isinstance(body, dict) else None
        return BatchItemResult(status=status, phone_id=None if phone_id is None else str(phone_id))
    detail, violations = _error_text(body)
    if not detail and violations:
        detail = "; ".join(f"{p}: {m}" for p, m in violations)
    return BatchItemResult(status=status, detail=detail or f"rejected with HTTP {status}")
