"""The card's secret: bound to the selection, the account, the server's key and an expiry; not a token."""

from __future__ import annotations

import pytest

from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.ops.card import InvalidCardSecretError, mint_card_secret, open_card_secret
from lox24_mcp.ops.confirm import TokenSigner

KEY = b"k" * 32
NOW = 1_800_000_000


def signer(now: float = NOW) -> TokenSigner:
    return TokenSigner(KEY, ttl=600, clock=lambda: now)


def mint(filters: SmsFilters, *, all_pending: bool = False, account: str = "1234") -> str:
    secret, expires_at = mint_card_secret(
        signer(),
        account_id=account,
        base_url="https://api.example",
        filters=filters,
        cancel_all_pending=all_pending,
        preview_time=NOW,
        matched=7,
    )
    assert expires_at == NOW + 600
    return secret


SELECTIONS = [
    SmsFilters(callback_data="spring-sale"),
    SmsFilters.model_validate(
        {
            "iso2": ["DE", "AT"],
            "delivery_at": {"gte": "2026-12-01T00:00:00+01:00", "lt": 1_800_100_000},
            "phone": "+49151",
        }
    ),
    SmsFilters(),
]


@pytest.mark.parametrize("filters", SELECTIONS)
def test_a_secret_opens_to_exactly_the_selection_it_was_minted_for(filters: SmsFilters) -> None:
    opened = open_card_secret(
        signer(NOW + 1),
        mint(filters, all_pending=filters.is_empty()),
        account_id="1234",
        base_url="https://api.example",
    )
    assert opened.filters.canonical() == filters.canonical()
    assert opened.cancel_all_pending is filters.is_empty()
    assert (opened.claims.preview_time, opened.claims.matched) == (NOW, 7)


def test_another_account_another_server_or_another_key_is_refused() -> None:
    secret = mint(SmsFilters(callback_data="x"))
    for account, base in [("9999", "https://api.example"), ("1234", "https://other.example")]:
        with pytest.raises(InvalidCardSecretError) as caught:
            open_card_secret(signer(), secret, account_id=account, base_url=base)
        assert not caught.value.expired
    with pytest.raises(InvalidCardSecretError):
        open_card_secret(
            TokenSigner(b"z" * 32, clock=lambda: NOW), secret, account_id="1234", base_url="https://api.example"
        )


def test_a_widened_selection_or_an_edited_mac_is_refused() -> None:
    import base64
    import json

    secret = mint(SmsFilters(callback_data="spring-sale"))
    selection, token = secret.split("~")
    widened = base64.urlsafe_b64encode(json.dumps({"a": True, "f": {}}).encode()).decode().rstrip("=")
    for forged in [
        f"{widened}~{token}",
        f"{selection}~{token[:-1]}{'A' if token[-1] != 'A' else 'B'}",
        "x",
        "a~b~c",
        "~" * 5000,
    ]:
        with pytest.raises(InvalidCardSecretError, match="not valid"):
            open_card_secret(signer(), forged, account_id="1234", base_url="https://api.example")


def test_a_confirmation_token_is_no_card_secret() -> None:
    """Tokens of the preview-and-token flow are minted for another scope: the model may hold those."""
    filters = SmsFilters(callback_data="spring-sale")
    scope = cancel_scope(account_id="1234", base_url="https://api.example", filters=filters, cancel_all_pending=False)
    token, _ = signer().mint(scope=scope, preview_time=NOW, matched=7)
    selection = mint(filters).split("~")[0]
    with pytest.raises(InvalidCardSecretError, match="not valid"):
        open_card_secret(signer(), f"{selection}~{token}", account_id="1234", base_url="https://api.example")


def test_a_late_click_is_expired_not_forged() -> None:
    secret = mint(SmsFilters(callback_data="spring-sale"))
    with pytest.raises(InvalidCardSecretError, match="expired") as caught:
        open_card_secret(signer(NOW + 600), secret, account_id="1234", base_url="https://api.example")
    assert caught.value.expired
