"""The confirmation card's secret: what lets a click in the card, and nothing else, confirm a cancel.

The secret goes to the card in the tool result's `_meta` only (never `content` or
`structuredContent`, which reach the model). It is a `TokenSigner` token under its own scope tag
(`card|…`), so a preview-and-token token is no card secret and the other way round, plus the
selection it was minted for, so the card only has to hand it back. Like a token it is stateless:
bound to the account, the API base URL, the exact selection, the preview time and an expiry, and
valid on every replica that shares `LOX24_MCP_SECRET`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from pydantic import ValidationError

from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.ops.confirm import Claims, ExpiredTokenError, InvalidTokenError, TokenSigner

SCOPE_TAG = "card"
MAX_SECRET_LENGTH = 4096


class InvalidCardSecretError(ValueError):
    """The card's secret cannot be used; `expired` tells a late click from a forged or foreign one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class CardSelection:
    """What a valid secret vouches for: the selection the user saw, and when they saw it."""

    filters: SmsFilters
    cancel_all_pending: bool
    claims: Claims


def card_scope(*, account_id: str, base_url: str, filters: SmsFilters, cancel_all_pending: bool) -> str:
    scope = cancel_scope(
        account_id=account_id, base_url=base_url, filters=filters, cancel_all_pending=cancel_all_pending
    )
    return f"{SCOPE_TAG}|{scope}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_card_secret(
    signer: TokenSigner,
    *,
    account_id: str,
    base_url: str,
    filters: SmsFilters,
    cancel_all_pending: bool,
    preview_time: int,
    matched: int,
) -> tuple[str, int]:
    """A secret for the card, and when it expires (unix seconds)."""
    selection = {"f": filters.model_dump(mode="json", exclude_none=True), "a": cancel_all_pending}
    encoded = _b64(json.dumps(selection, sort_keys=True, separators=(",", ":")).encode())
    scope = card_scope(account_id=account_id, base_url=base_url, filters=filters, cancel_all_pending=cancel_all_pending)
    token, expires_at = signer.mint(scope=scope, preview_time=preview_time, matched=matched)
    return f"{encoded}~{token}", expires_at


def open_card_secret(signer: TokenSigner, secret: str, *, account_id: str, base_url: str) -> CardSelection:
    """The selection a secret was minted for, if this server minted it for this account and it is still valid.

    Raises:
        InvalidCardSecretError: malformed, tampered with, for another account or server, or expired.
    """
    forged = InvalidCardSecretError(
        "The confirmation card's secret is not valid (altered, or from another server or account). Nothing was "
        "cancelled. Only a click in the card shown with the preview can confirm; call cancel_pending_sms again "
        "for a fresh card."
    )
    if len(secret) > MAX_SECRET_LENGTH or secret.count("~") != 1:
        raise forged
    encoded, token = secret.split("~")
    try:
        raw = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        filters = SmsFilters.model_validate(raw["f"])
        cancel_all_pending = raw["a"]
        if not isinstance(cancel_all_pending, bool):
            raise TypeError("a")
    except (ValueError, KeyError, TypeError, ValidationError):
        raise forged from None
    scope = card_scope(account_id=account_id, base_url=base_url, filters=filters, cancel_all_pending=cancel_all_pending)
    try:
        claims = signer.verify(token, scope=scope)
    except ExpiredTokenError:
        raise InvalidCardSecretError(
            "The confirmation card has expired. Nothing was cancelled. Call cancel_pending_sms again for a "
            "fresh card, and click within its time.",
            expired=True,
        ) from None
    except InvalidTokenError:
        raise forged from None
    return CardSelection(filters=filters, cancel_all_pending=cancel_all_pending, claims=claims)
