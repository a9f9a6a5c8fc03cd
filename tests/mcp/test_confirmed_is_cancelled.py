"""What the user confirmed is exactly what is cancelled: scopes, resent dialog rounds, a skewed host clock."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.mcp.app import create_server
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState
from tests.helpers import data_of, schedule_pending, text_of

SECRET = "scope-test-secret-0123456789abcdef"


def scope(**filters: Any) -> str:
    return cancel_scope(
        account_id="1234567",
        base_url="http://sandbox",
        filters=SmsFilters.model_validate(filters),
        cancel_all_pending=False,
    )


def test_joined_values_cannot_forge_another_selection() -> None:
    assert scope(callback_data="vip", text="Sale") != scope(callback_data="vip&text=Sale")
    assert scope(callback_data="a|b") != scope(callback_data=["a", "b"])
    assert scope(iso2=["DE", "AT"]) == scope(iso2=["AT", "DE"]), "the order of values does not matter"


TEXT = st.text(alphabet='ab&=|,[]{}":x ', min_size=1, max_size=8)


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["callback_data", "text", "sender_id"]), TEXT, max_size=3), st.data())
def test_no_two_different_selections_share_a_scope(first: dict[str, str], data: st.DataObject) -> None:
    second: dict[str, str] = data.draw(st.dictionaries(st.sampled_from(["callback_data", "text", "sender_id"]), TEXT))
    a, b = SmsFilters.model_validate(first), SmsFilters.model_validate(second)
    same_selection = sorted(a.to_query()) == sorted(b.to_query())
    assert (scope(**first) == scope(**second)) == same_selection
    assert json.loads(scope(**first))["filters"] == [list(p) for p in sorted(a.to_query())]


def schedule(state: SandboxState, count: int, tag: str, *, created_ago: int = 60) -> list[str]:
    return schedule_pending(state, count, tag, first_phone=53000000, text="Visit {}", created_ago=created_ago)


@pytest.mark.anyio
async def test_a_yes_to_a_question_whose_selection_changed_is_asked_again_never_applied() -> None:
    """Between the rounds one SMS leaves and a new one joins: the count is the same, the selection is not."""
    state = SandboxState(seed_demo_data=False)
    uuids = schedule(state, 3, "rm")
    questions: list[str] = []

    async def answer(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        del context
        assert isinstance(params, ElicitRequestFormParams)
        questions.append(params.message)
        if len(questions) == 1:  # the world changes while the user reads the first question
            state.store.cancel_sms("uuid = ?", [uuids[0]])  # stopped elsewhere: it leaves the selection
            joined = state.add_sms(
                phone="+4915153999999",
                text="Visit new",
                delivery_at=int(time.time()) + 3600,
                callback_data="rm",
                created_at=int(time.time()) - 5,
            )
            uuids.append(joined["uuid"])
        return ElicitResult(action="accept", content={"confirm": True})

    settings_ = Settings(api_token=SecretStr(DEMO_TOKEN), base_url="http://x", secret=SecretStr(SECRET))
    with SandboxServer(state) as sandbox:
        server = create_server(settings_.model_copy(update={"base_url": sandbox.url}), sandbox=True)
        async with Client(server, elicitation_callback=answer) as client:
            result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "rm"}))
        assert len(questions) == 2, "the first yes was for another selection: the user is asked again"
        assert (
            questions[0] != questions[1] and questions[0].startswith("Cancel 3") and questions[1].startswith("Cancel 3")
        )
        assert result["status"] == "cancelled" and result["cancelled"] == 3
        assert [state.sms(u)["status_code"] for u in uuids] == [6000] * 4


@pytest.mark.anyio
async def test_a_host_clock_ahead_of_lox24_never_stretches_the_cancel_past_the_preview() -> None:
    state = SandboxState(seed_demo_data=False)
    schedule(state, 3, "skew")
    settings_ = Settings(api_token=SecretStr(DEMO_TOKEN), base_url="http://x", secret=SecretStr(SECRET))
    with SandboxServer(state) as sandbox:
        server = create_server(
            settings_.model_copy(update={"base_url": sandbox.url}), sandbox=True, clock=lambda: time.time() + 3600
        )
        async with Client(server) as client:
            preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "skew"}))
            assert preview["matched"] == 3
            # Created after the preview (by LOX24's clock), though before this host's clock.
            late = state.add_sms(
                phone="+4915153888888",
                text="late",
                delivery_at=int(time.time()) + 7200,
                callback_data="skew",
                created_at=int(time.time()) + 30,
            )
            done = await client.call_tool(
                "cancel_pending_sms", {"callback_data": "skew", "confirmation_token": preview["confirmation_token"]}
            )
        assert data_of(done)["cancelled"] == 3, text_of(done)
        assert state.sms(late["uuid"])["status_code"] == 0, "an SMS created after the preview is never cancelled"
