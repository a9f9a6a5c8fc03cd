"""Many tenants' LOX24 keys through one IP, without tripping LOX24's failed-login block.

LOX24 blocks the calling IP for ten minutes after more than three failed logins within a minute,
and when many tenants send their own keys through one server, that IP is everyone's. So:

- a key that LOX24 accepted once is *known* and is never delayed by anyone else's failures;
- a key that LOX24 refused (401) is refused here, by its hash, for the cool-down, without asking LOX24;
- any other key (new, or refused longer ago than the cool-down) needs one of `new_keys_per_minute`
  slots; a slot is given back when LOX24 accepts the key and kept for a minute when it refuses it, so
  at most that many failed logins leave this process per minute. Concurrent requests with the same
  unknown key wait for its first answer instead of taking more slots.

With several processes on one IP, give each `3 // processes` slots (`LOX24_MCP_NEW_KEYS_PER_MINUTE`).
Keys are held as SHA-256 digests only. This module never imports `mcp`.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
from pydantic import SecretStr

from lox24_mcp.lox24.errors import AuthenticationError, RateLimitError

#: LOX24's window for counting failed logins, plus a margin for clocks that do not agree exactly.
WINDOW = 65.0
#: What LOX24 tolerates in its window without blocking the IP.
LOX24_MAX_FAILURES = 3


def key_digest(token: SecretStr) -> str:
    """SHA-256 of `<clientId>:<apiKey>`, hex; what the budget remembers instead of the key."""
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()


class CallerTokenRejectedError(AuthenticationError):
    """LOX24 answered 401 to a token a caller sent in `X-LOX24-AUTH-TOKEN`."""

    advice = (
        "Check the token sent in the X-LOX24-AUTH-TOKEN header (format <clientId>:<apiKey>, from account.lox24.eu "
        "→ Settings → API). This server refuses it for the next ten minutes without asking LOX24 again, because "
        "LOX24 blocks the server's IP for everyone after more than three failed logins a minute."
    )


class KeyRefusedError(AuthenticationError):
    """The key failed at LOX24 moments ago and is refused locally; nothing was sent."""

    def __init__(self, *, seconds_left: float) -> None:
        self.seconds_left = seconds_left
        super().__init__(status_code=401, request_id=None, operation="this call")

    def _sentence(self) -> str:
        return (
            "LOX24 rejected this API token (X-LOX24-AUTH-TOKEN) moments ago, so it is refused here without asking "
            f"LOX24 again for {self.seconds_left:.0f} s: LOX24 blocks the server's IP for everyone after more than "
            "three failed logins a minute. Check the <clientId>:<apiKey> at account.lox24.eu → Settings → API. "
            "Nothing was sent."
        )


class NewKeyBudgetError(RateLimitError):
    """Too many unknown keys were tried in the last minute; this one waits; nothing was sent."""

    def __init__(self, *, seconds_left: float) -> None:
        self.seconds_left = seconds_left
        super().__init__(status_code=429, request_id=None, operation="this call")

    def _sentence(self) -> str:
        return (
            "This server has tried as many new LOX24 API tokens as it may in one minute (LOX24 blocks the server's "
            "IP after more than three failed logins a minute), and this token has not been used here before. "
            f"Try again in {max(1.0, self.seconds_left):.0f} s. Nothing was sent."
        )


@dataclass
class _Pending:
    done: anyio.Event = field(default_factory=anyio.Event)


class LoginBudget:
    """Process-wide record of which keys worked, which failed, and how many unknown keys may be tried.

    Args:
        new_keys_per_minute: failed logins this process may cause per minute (0–3).
        cooldown: seconds a key that LOX24 refused is refused locally.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        new_keys_per_minute: int = LOX24_MAX_FAILURES,
        cooldown: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= new_keys_per_minute <= LOX24_MAX_FAILURES:
            raise ValueError(f"new_keys_per_minute must be 0–{LOX24_MAX_FAILURES}")
        self.new_keys_per_minute = new_keys_per_minute
        self.cooldown = cooldown
        self._clock = clock
        self._known: set[str] = set()
        self._failed: dict[str, float] = {}
        self._pending: dict[str, _Pending] = {}
        #: When each slot in use was taken (in flight) or spent (a failure still inside the window).
        self._slots: deque[float] = deque()
        self._in_flight = 0

    def __repr__(self) -> str:
        return f"LoginBudget(known={len(self._known)}, refused={len(self._failed)}, slots={self.new_keys_per_minute})"

    def is_known(self, digest: str) -> bool:
        return digest in self._known

    def _free_slots(self, now: float) -> int:
        while self._slots and self._slots[0] <= now - WINDOW:
            self._slots.popleft()
        return self.new_keys_per_minute - len(self._slots) - self._in_flight

    async def admit(self, digest: str) -> bool:
        """Wait for, or refuse, permission to send a request with this key.

        Returns True when the caller holds a slot (the key is unknown) and must call `settle()`
        with LOX24's verdict; False for a known key.

        Raises:
            KeyRefusedError: the key failed within the cool-down.
            NewKeyBudgetError: no slot is free for an unknown key.
        """
        while True:
            if digest in self._known:
                return False
            now = self._clock()
            failed_at = self._failed.get(digest)
            if failed_at is not None:
                left = failed_at + self.cooldown - now
                if left > 0:
                    raise KeyRefusedError(seconds_left=left)
                del self._failed[digest]
            pending = self._pending.get(digest)
            if pending is not None:
                await pending.done.wait()  # its first request tells us whether it works
                continue
            if self._free_slots(now) <= 0:
                oldest = self._slots[0] if self._slots else now
                raise NewKeyBudgetError(seconds_left=oldest + WINDOW - now)
            self._in_flight += 1
            self._pending[digest] = _Pending()
            return True

    def settle(self, digest: str, status: int | None) -> None:
        """LOX24's verdict on a key admitted with a slot: its HTTP status, or None if no answer came."""
        self._in_flight -= 1
        now = self._clock()
        if status == 401:
            self._failed[digest] = now
            self._slots.append(now)  # a failed login: the slot stays spent for the window
        elif status is not None and status != 429:
            self._known.add(digest)  # LOX24 authenticated it (any other answer is past the login)
        pending = self._pending.pop(digest, None)
        if pending is not None:
            pending.done.set()

    def note(self, digest: str, status: int) -> None:
        """A verdict on a known key (one that was revoked since: forget it, refuse it for the cool-down)."""
        if status == 401:
            self._known.discard(digest)
            self._failed[digest] = self._clock()
