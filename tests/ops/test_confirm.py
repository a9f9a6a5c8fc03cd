"""The confirmation step: which SMS a cancel may touch (`pending_selection`) and the signed tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from lox24_mcp.lox24.models import (
    SmsFilters,
)
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.ops.confirm import Claims, InvalidTokenError, TokenSigner

#: 2026-11-24T08:00:00+01:00 == 2026-11-24T07:00:00Z.
T = 1_795_503_600
P = 1_800_000_000  # a preview time


def filters(**data: Any) -> SmsFilters:
    """Validate like the MCP layer does: from plain JSON-ish data (dict ranges, ISO strings)."""
    return SmsFilters.model_validate(data)


# ----------------------------------------------------------------------------- pending_selection


# ----------------------------------------------------------------------------- TokenSigner

KEY = b"k" * 32
SCOPE = cancel_scope(
    account_id="1234567", base_url="http://sandbox", filters=filters(iso2="DE"), cancel_all_pending=False
)


def signer(now: float = P + 10, key: bytes = KEY, ttl: int = 600) -> TokenSigner:
    return TokenSigner(key, ttl=ttl, clock=lambda: now)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_minted_token_verifies_for_the_same_scope_and_returns_its_claims() -> None:
    token, expires_at = signer().mint(scope=SCOPE, preview_time=P, matched=42)
    assert expires_at == P + 600
    assert signer().verify(token, scope=SCOPE) == Claims(preview_time=P, expires_at=P + 600, matched=42)
    assert signer().verify(f"  {token}\n", scope=SCOPE).matched == 42


def test_token_is_still_valid_one_second_before_expiry_and_invalid_at_expiry() -> None:
    token, expires_at = signer(ttl=60).mint(scope=SCOPE, preview_time=P, matched=1)
    assert signer(now=expires_at - 1).verify(token, scope=SCOPE).expires_at == expires_at
    with pytest.raises(InvalidTokenError) as info:
        signer(now=expires_at).verify(token, scope=SCOPE)
    assert "expired" in str(info.value)
    assert "Nothing was cancelled" in str(info.value)


@pytest.mark.parametrize(
    "other_scope",
    [
        cancel_scope(
            account_id="1234567", base_url="http://sandbox", filters=filters(iso2="AT"), cancel_all_pending=False
        ),
        cancel_scope(
            account_id="7654321", base_url="http://sandbox", filters=filters(iso2="DE"), cancel_all_pending=False
        ),
        cancel_scope(
            account_id="1234567", base_url="https://api.lox24.eu", filters=filters(iso2="DE"), cancel_all_pending=False
        ),
        cancel_scope(
            account_id="1234567", base_url="http://sandbox", filters=filters(iso2="DE"), cancel_all_pending=True
        ),
    ],
)
def test_token_for_another_scope_is_rejected(other_scope: str) -> None:
    assert other_scope != SCOPE
    token, _ = signer().mint(scope=SCOPE, preview_time=P, matched=3)
    with pytest.raises(InvalidTokenError) as info:
        signer().verify(token, scope=other_scope)
    assert "different filters" in str(info.value)


def test_scope_binds_the_selection_not_how_it_was_written() -> None:
    same = cancel_scope(
        account_id="1234567", base_url="http://sandbox", filters=filters(iso2=["de"]), cancel_all_pending=False
    )
    assert same == SCOPE


def test_token_from_another_key_is_rejected() -> None:
    token, _ = signer(key=b"other-key-0123456789").mint(scope=SCOPE, preview_time=P, matched=3)
    with pytest.raises(InvalidTokenError):
        signer().verify(token, scope=SCOPE)


def test_token_with_a_tampered_payload_is_rejected() -> None:
    token, _ = signer().mint(scope=SCOPE, preview_time=P, matched=3)
    tag, _payload, mac = token.split(".")
    forged = b64(json.dumps({"t": P, "e": P + 999_999, "n": 3}, separators=(",", ":")).encode())
    with pytest.raises(InvalidTokenError) as info:
        signer(now=P + 5000).verify(f"{tag}.{forged}.{mac}", scope=SCOPE)
    assert "different filters" in str(info.value)


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_truncated_token_is_rejected(cut: int) -> None:
    token, _ = signer().mint(scope=SCOPE, preview_time=P, matched=3)
    with pytest.raises(InvalidTokenError):
        signer().verify(token[:-cut], scope=SCOPE)


@pytest.mark.parametrize(
    "token",
    ["", "   ", "abc", "c1.onlytwo", "c1.a.b.c", "c2.e30.AAAA", "x" * 600, "c1." + "a" * 300 + "." + "b" * 300],
)
def test_malformed_token_is_rejected_as_malformed(token: str) -> None:
    with pytest.raises(InvalidTokenError) as info:
        signer().verify(token, scope=SCOPE)
    assert "malformed" in str(info.value)


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"t": 1}', b'{"t": "x", "e": 2, "n": 3}'])
def test_correctly_signed_token_with_a_broken_payload_is_rejected_as_malformed(payload: bytes) -> None:
    encoded = b64(payload)
    mac = b64(hmac.new(KEY, f"c1.{encoded}|{SCOPE}".encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidTokenError) as info:
        signer().verify(f"c1.{encoded}.{mac}", scope=SCOPE)
    assert "malformed" in str(info.value)


def test_token_key_must_be_at_least_16_bytes_and_is_not_shown() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        TokenSigner(b"short")
    assert "kkkk" not in repr(TokenSigner(KEY))


def test_token_uses_the_injected_clock_not_the_wall_clock() -> None:
    now = datetime(2099, 1, 1, tzinfo=UTC).timestamp()
    token, _ = signer(now=now).mint(scope=SCOPE, preview_time=P, matched=1)
    with pytest.raises(InvalidTokenError):
        signer(now=now).verify(token, scope=SCOPE)
