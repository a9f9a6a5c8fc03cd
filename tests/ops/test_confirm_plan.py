"""The confirmation decision as a table: every policy × client capability × token × match count."""

from __future__ import annotations

import itertools

import pytest

from lox24_mcp.ops.confirm import (
    AskInDialog,
    Claims,
    ClientCaps,
    ExpiredTokenError,
    InvalidTokenError,
    IssueToken,
    NeedCount,
    NothingToDo,
    Plan,
    Policy,
    Proceed,
    Refuse,
    ShowCard,
    TokenCheck,
    TokenSigner,
    plan,
)

KEY = b"k" * 32
SCOPE = "1234567|http://sandbox|all=0|iso2=DE"
NOW = 1_800_000_000.0

POLICIES: tuple[Policy, ...] = ("auto", "human", "elicit", "token", "off")
CAPS = {
    "neither": ClientCaps(elicit=False, apps=False),
    "dialog": ClientCaps(elicit=True, apps=False),
    "apps": ClientCaps(elicit=False, apps=True),
    "both": ClientCaps(elicit=True, apps=True),
}


def tokens() -> dict[str, TokenCheck]:
    """The four kinds of token a caller can present, made by a real signer."""
    signer = TokenSigner(KEY, ttl=600, clock=lambda: NOW)
    token, _ = signer.mint(scope=SCOPE, preview_time=int(NOW) - 10, matched=4)
    valid = signer.verify(token, scope=SCOPE)
    wrong: TokenCheck
    try:
        signer.verify(token, scope=SCOPE + "&text=x")
    except InvalidTokenError as exc:
        wrong = exc
    later = TokenSigner(KEY, ttl=600, clock=lambda: NOW + 601)
    expired: TokenCheck
    try:
        later.verify(token, scope=SCOPE)
    except ExpiredTokenError as exc:
        expired = exc
    return {"none": None, "valid": valid, "wrong": wrong, "expired": expired}


TOKENS = tokens()
MATCHES = (None, 0, 7)


def expected(policy: Policy, caps: str, token: str, matched: int | None) -> type | tuple[type, str]:
    """The rules as the README states them, written independently of `plan()`."""
    if policy == "off":
        return NeedCount if matched is None else NothingToDo if matched == 0 else Proceed
    dialog, apps = caps in ("dialog", "both"), caps in ("apps", "both")
    human_step = None if policy == "token" else AskInDialog if dialog else ShowCard if apps else None
    if human_step is None and policy in ("human", "elicit"):
        return (Refuse, "neither")
    if human_step is not None:  # a person can be asked: any token the model presents is ignored
        return NeedCount if matched is None else NothingToDo if matched == 0 else human_step
    if token == "wrong":
        return (Refuse, "different filters")
    if token == "expired":
        return (Refuse, "expired")
    if token == "valid":
        return Proceed
    return NeedCount if matched is None else NothingToDo if matched == 0 else IssueToken


CASES = list(itertools.product(POLICIES, CAPS, TOKENS, MATCHES))


def test_the_table_covers_every_combination() -> None:
    assert len(CASES) == 5 * 4 * 4 * 3


@pytest.mark.parametrize(("policy", "caps", "token", "matched"), CASES)
def test_plan(policy: Policy, caps: str, token: str, matched: int | None) -> None:
    outcome: Plan = plan(policy, CAPS[caps], TOKENS[token], matched, operation="cancellations")
    want = expected(policy, caps, token, matched)
    if isinstance(want, tuple):
        kind, words = want
        assert isinstance(outcome, kind), outcome
        assert isinstance(outcome, Refuse) and words in outcome.reason and "Nothing" in outcome.reason
    else:
        assert type(outcome) is want, outcome


def test_proceeding_on_a_token_uses_what_the_person_approved_not_a_new_count() -> None:
    outcome = plan("token", CAPS["neither"], TOKENS["valid"], 99, operation="cancellations")
    assert isinstance(TOKENS["valid"], Claims)
    assert outcome == Proceed(via="token", matched=4, preview_time=int(NOW) - 10)


def test_policy_off_proceeds_on_the_count_and_ignores_tokens() -> None:
    assert plan("off", CAPS["dialog"], TOKENS["wrong"], 3, operation="x") == Proceed(via="policy_off", matched=3)


def test_a_refusal_names_the_operation_and_the_policy() -> None:
    outcome = plan("human", CAPS["neither"], None, None, operation="cancellations")
    assert isinstance(outcome, Refuse)
    assert "cancellations" in outcome.reason and "LOX24_MCP_CONFIRM=human" in outcome.reason
