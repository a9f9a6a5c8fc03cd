"""How a destructive operation gets a person's yes: the decision table and stateless confirmation tokens.

`plan()` decides, from the operator's policy, what the client can show and the token the caller
presented, what happens next: nothing to do, ask in a dialog, show an app card, hand out a token,
proceed, or refuse. It is a closed set of outcomes (`Plan`), tested as a table, and knows nothing
about which operation it guards, so any destructive operation can use it.

A token is an HMAC over a scope (the account, the API base URL, the exact selection), the preview
time and the expiry. It needs no server-side state, so it works across HTTP replicas that share
`LOX24_MCP_SECRET`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

FORMAT_TAG = "c1"

#: How the operator wants destructive operations confirmed (`LOX24_MCP_CONFIRM`).
#: auto: a dialog where the client has one, else an app card where the client renders apps, else the
#: preview-and-token flow; human (alias elicit): a dialog or an app card, refused otherwise; token:
#: always the preview-and-token flow; off: no confirmation at all.
Policy: TypeAlias = Literal["auto", "human", "elicit", "token", "off"]


class InvalidTokenError(ValueError):
    """The confirmation token cannot be used; the message says why and what to do."""


class ExpiredTokenError(InvalidTokenError):
    """The confirmation token was valid but its time is up."""


@dataclass(frozen=True)
class Claims:
    """What a valid token vouches for."""

    preview_time: int
    expires_at: int
    matched: int


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

    def mint(self, *, scope: str, preview_time: int, matched: int, valid_from: int | None = None) -> tuple[str, int]:
        """A token for `scope`, and when it expires (unix seconds): `ttl` after `valid_from`, or after `preview_time`.

        `preview_time` may be LOX24's clock, which can run behind this host's; pass this host's now as
        `valid_from` so the token lives its full `ttl` on the clock that checks it.
        """
        expires_at = (preview_time if valid_from is None else max(valid_from, preview_time)) + self._ttl
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
            raise ExpiredTokenError(
                "The confirmation_token has expired. Nothing was cancelled. Call cancel_pending_sms again without "
                "a token to get a fresh preview, show it to the user, and ask again."
            )
        return claims


# ---------------------------------------------------------------------------- the decision table


@dataclass(frozen=True)
class ClientCaps:
    """What the connected client can show a person."""

    elicit: bool
    """It renders form elicitation (a dialog the user answers)."""
    apps: bool = False
    """It renders MCP Apps (a card with a button the user clicks)."""


#: What the caller presented: no token, a token's verified claims, or why its token is unusable.
TokenCheck: TypeAlias = Claims | InvalidTokenError | None


@dataclass(frozen=True)
class NeedCount:
    """The decision depends on how many items match: count them, then plan again."""


@dataclass(frozen=True)
class NothingToDo:
    """Nothing matches; nothing is changed and nobody is asked."""


@dataclass(frozen=True)
class Refuse:
    """Stop without changing anything; `reason` is the sentence for the model."""

    reason: str


@dataclass(frozen=True)
class AskInDialog:
    """Ask the user in a form dialog; proceed only on an explicit yes."""


@dataclass(frozen=True)
class ShowCard:
    """Return a preview with an app card; the user's click confirms, the model never can."""


@dataclass(frozen=True)
class IssueToken:
    """Return a preview and a token; the model must show it and come back with the user's yes."""


@dataclass(frozen=True)
class Proceed:
    """Carry the operation out now."""

    via: Literal["token", "policy_off"]
    matched: int
    """What the person approved (from the token), or what was counted (policy off)."""
    preview_time: int | None = None
    """The token's preview time (bounds the operation to what existed then); None: use now."""


Plan: TypeAlias = NeedCount | NothingToDo | Refuse | AskInDialog | ShowCard | IssueToken | Proceed

NO_HUMAN_STEP = (
    "This server confirms {operation} only in a dialog or an app card that the user answers "
    "(LOX24_MCP_CONFIRM={policy}), and this client can show neither. Nothing was changed. Use a client that "
    "supports MCP elicitation or MCP Apps, or ask the operator to allow the preview-and-token flow."
)


def plan(policy: Policy, caps: ClientCaps, token: TokenCheck, matched: int | None, *, operation: str) -> Plan:
    """Decide how a destructive operation proceeds.

    Args:
        policy: the operator's confirmation policy.
        caps: what the client can show.
        token: the caller's confirmation token, already checked against this exact selection.
        matched: how many items match now, or None when not counted yet.
        operation: what is guarded, for messages (e.g. "cancellations").

    A token only counts where the token flow is in use (policy `token`, or `auto` on a client with
    neither dialogs nor apps): where a person can be asked, they are, whatever the model presents.
    """
    if policy == "off":
        if matched is None:
            return NeedCount()
        return NothingToDo() if matched == 0 else Proceed(via="policy_off", matched=matched)
    human: AskInDialog | ShowCard | None = None
    if policy != "token":
        human = AskInDialog() if caps.elicit else ShowCard() if caps.apps else None
    if human is None and policy in ("human", "elicit"):
        return Refuse(NO_HUMAN_STEP.format(operation=operation, policy=policy))
    if human is not None:
        if matched is None:
            return NeedCount()
        return NothingToDo() if matched == 0 else human
    # The token flow: policy `token`, or `auto` on a client that can show neither.
    if isinstance(token, InvalidTokenError):
        return Refuse(str(token))
    if isinstance(token, Claims):
        return Proceed(via="token", matched=token.matched, preview_time=token.preview_time)
    if matched is None:
        return NeedCount()
    return NothingToDo() if matched == 0 else IssueToken()
