"""The confirmation step of `cancel_pending_sms`: what "pending" means, and stateless confirmation tokens.

A token is an HMAC over the account, the API base URL, the normalised filters, the preview time and
the expiry. It needs no server-side state, so it works across HTTP replicas that share
`LOX24_MCP_SECRET`. The preview time it carries bounds the cancel to SMS that already existed when
the user saw the preview.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from lox24_mcp.lox24.models import SmsFilters, TimeRange
from lox24_mcp.ops.present import only_pending

FORMAT_TAG = "c1"


class InvalidTokenError(ValueError):
    """The confirmation token cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Claims:
    """What a valid token vouches for."""

    preview_time: int
    expires_at: int
    matched: int


def pending_selection(filters: SmsFilters, preview_time: int) -> SmsFilters | None:
    """The user's filters narrowed to SMS that are pending and existed before `preview_time`.

    Adds `is_sent=0`, `status_code=0` (unless the caller filters on status) and bounds `created_at`
    to `< preview_time` inside the caller's own range. The bound is strict because LOX24 counts in
    whole seconds: an SMS created in the same second as the preview, possibly after it, is never
    counted and never cancelled. Returns None when the selection is empty by construction (every
    exact `created_at` the caller gave is not before the preview).
    """
    created = filters.created_at
    bounded: int | list[int] | TimeRange
    if created is None:
        bounded = TimeRange(lt=preview_time)
    elif isinstance(created, TimeRange):
        if created.lte is not None:
            bounded = created.model_copy(update={"lte": min(created.lte, preview_time - 1)})
        else:
            bounded = created.model_copy(
                update={"lt": preview_time if created.lt is None else min(created.lt, preview_time)}
            )
        low = bounded.gt + 1 if bounded.gt is not None else bounded.gte
        high = bounded.lt - 1 if bounded.lt is not None else bounded.lte
        if low is not None and high is not None and low > high:
            return None
    elif isinstance(created, list):
        kept = [t for t in created if t < preview_time]
        if not kept:
            return None
        bounded = kept
    else:
        if created >= preview_time:
            return None
        bounded = created
    return only_pending(filters.model_copy(update={"created_at": bounded}))


def cancel_scope(*, account_id: str, base_url: str, filters: SmsFilters, cancel_all_pending: bool) -> str:
    """What a confirmation token is bound to: the account, the API, and the exact selection."""
    return f"{account_id}|{base_url}|all={int(cancel_all_pending)}|{filters.canonical()}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Mints and checks confirmation tokens.

    Args:
        key: the HMAC key (from `LOX24_MCP_SECRET`, or random per process).
        ttl: seconds a token stays valid.
        clock: wall-clock seconds (injectable for tests).
    """

    def __init__(self, key: bytes, *, ttl: int = 600, clock: Callable[[], float] = time.time) -> None:
        if len(key) < 16:
            raise ValueError("the token key must be at least 16 bytes")
        self._key = key
        self._ttl = ttl
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenSigner(ttl={self._ttl}, key=<hidden>)"

    @property
    def ttl(self) -> int:
        return self._ttl

    def _mac(self, payload: str, scope: str) -> str:
        digest = hmac.new(self._key, f"{FORMAT_TAG}.{payload}|{scope}".encode(), hashlib.sha256).digest()
        return _b64(digest)

    def mint(self, *, scope: str, preview_time: int, matched: int) -> tuple[str, int]:
        """A token for `scope`, and when it expires (unix seconds)."""
        expires_at = preview_time + self._ttl
        payload = _b64(json.dumps({"t": preview_time, "e": expires_at, "n": matched}, separators=(",", ":")).encode())
        return f"{FORMAT_TAG}.{payload}.{self._mac(payload, scope)}", expires_at

    def verify(self, token: str, *, scope: str) -> Claims:
        """The token's claims, if it was minted by this key for exactly this scope and has not expired.

        Raises:
            InvalidTokenError: malformed, for other filters or another server, or expired.
        """
        parts = token.strip().split(".")
        if len(parts) != 3 or parts[0] != FORMAT_TAG or len(token) > 512:
            raise InvalidTokenError(
                "The confirmation_token is malformed (copy it exactly as the preview returned it). Nothing was "
                "cancelled."
            )
        _, payload, mac = parts
        # Bytes, not str: compare_digest refuses non-ASCII text, and a token is untrusted input.
        if not hmac.compare_digest(mac.encode(), self._mac(payload, scope).encode()):
            raise InvalidTokenError(
                "The confirmation_token was issued for different filters (or by another server). Nothing was "
                "cancelled. Call cancel_pending_sms again without a token, with the filters the user confirmed, "
                "to get a fresh preview."
            )
        try:
            data = json.loads(_unb64(payload))
            claims = Claims(preview_time=int(data["t"]), expires_at=int(data["e"]), matched=int(data["n"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidTokenError("The confirmation_token is malformed. Nothing was cancelled.") from None
        if self._clock() >= claims.expires_at:
            raise InvalidTokenError(
                "The confirmation_token has expired. Nothing was cancelled. Call cancel_pending_sms again without "
                "a token to get a fresh preview, show it to the user, and ask again."
            )
        return claims
