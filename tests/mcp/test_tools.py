"""The tools end to end: the official `mcp.Client` in memory, in both protocol eras, over the sandbox.

Also: an import under faults through the tool, and the API token that never shows in logs, results,
dialogs, errors or reprs on any path.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import (
    CallToolResult,
    PromptReference,
    TextContent,
)
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.mcp.app import AppState, create_server
from lox24_mcp.mcp.results import ImportResult
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.ops.confirm import TokenSigner
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState
from tests.helpers import (
    FAST_RETRY,
    SECRET,
    batches,
    data_of,
    elicit,
    make_settings,
    mint,
    schedule_pending,
    text_of,
    wire_outcomes,
)

pytestmark = pytest.mark.anyio

MODES = ["2026-07-28", "legacy"]
TAG = "spring-sale"
#: The client gives up after this long; slow faults answer later than that (and then do nothing).
CLIENT_TIMEOUT = 0.5
SLOW = 1.0


def make_server(sandbox: SandboxServer, **overrides: Any) -> MCPServer[AppState]:
    return create_server(make_settings(sandbox.url, **overrides), sandbox=True)


def schedule(sandbox: SandboxServer, count: int, *, tag: str = "spring-sale", iso2: str = "DE") -> list[str]:
    """`count` pending SMS created a minute ago, plus one already-sent SMS with the same tag."""
    uuids = schedule_pending(sandbox.state, count, tag, first_phone=1234000, text="Spring sale {}: 20% off", iso2=iso2)
    now = int(time.time())
    sandbox.state.add_sms(phone="+4915199999999", text="sent already", callback_data=tag, created_at=now - 3600)
    return uuids


def statuses(sandbox: SandboxServer, uuids: list[str]) -> list[int]:
    return [sandbox.state.sms(u)["status_code"] for u in uuids]


def posts(sandbox: SandboxServer) -> list[str]:
    return [r.path for r in sandbox.state.requests if r.method == "POST"]


# --------------------------------------------------------------------------- schema


# --------------------------------------------------------------------------- cancel: refusals


@pytest.mark.parametrize("mode", MODES)
async def test_cancel_without_any_filter_is_refused_and_sends_nothing(empty_sandbox: SandboxServer, mode: str) -> None:
    schedule(empty_sandbox, 2)
    empty_sandbox.state.reset_requests()
    async with Client(make_server(empty_sandbox), mode=mode, elicitation_callback=elicit("accept")) as client:
        result = await client.call_tool("cancel_pending_sms", {})
    assert result.is_error
    assert "No filter given" in text_of(result) and "cancel_all_pending" in text_of(result)
    assert empty_sandbox.state.requests == []


async def test_cancel_all_pending_still_needs_confirmation(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 3)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"cancel_all_pending": True}))
        assert preview["status"] == "confirmation_required" and preview["matched"] == 3
        assert statuses(empty_sandbox, uuids) == [0, 0, 0]
        done = data_of(
            await client.call_tool(
                "cancel_pending_sms", {"cancel_all_pending": True, "confirmation_token": preview["confirmation_token"]}
            )
        )
    assert done["status"] == "cancelled" and done["cancelled"] == 3
    assert statuses(empty_sandbox, uuids) == [6000, 6000, 6000]


async def test_invalid_filter_values_are_rejected_before_anything_is_sent(empty_sandbox: SandboxServer) -> None:
    async with Client(make_server(empty_sandbox)) as client:
        for bad in ({"iso2": "ZZ"}, {"dlr_code": 3}, {"created_at": "yesterday"}, {"uuid": "nope"}, {"x": 1}):
            result = await client.call_tool("cancel_pending_sms", bad)
            assert result.is_error, bad
    assert empty_sandbox.state.requests == []


# --------------------------------------------------------------------------- cancel: token flow


@pytest.mark.parametrize("mode", MODES)
async def test_preview_then_token_cancels_exactly_the_previewed_sms(empty_sandbox: SandboxServer, mode: str) -> None:
    uuids = schedule(empty_sandbox, 4)
    other = schedule(empty_sandbox, 2, tag="other-campaign")
    async with Client(make_server(empty_sandbox), mode=mode) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
        assert preview["status"] == "confirmation_required"
        assert preview["matched"] == 4 and preview["cancelled"] == 0 and preview["sandbox"] is True
        assert len(preview["sample"]) == 4
        assert all("•" in s["phone"] for s in preview["sample"]), "phones in previews are masked"
        assert preview["expires_at"] > time.time()
        assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)
        result = data_of(
            await client.call_tool(
                "cancel_pending_sms",
                {"callback_data": "spring-sale", "confirmation_token": preview["confirmation_token"]},
            )
        )
    assert result["status"] == "cancelled" and result["cancelled"] == 4 and result["matched"] == 4
    assert statuses(empty_sandbox, uuids) == [6000] * 4
    assert statuses(empty_sandbox, other) == [0, 0]
    sent = [s for s in empty_sandbox.state.all_sms() if s["is_sent"]]
    assert sent and all(s["status_code"] == 100 for s in sent), "sent SMS are never touched"


async def test_the_cancel_request_is_bounded_to_pending_sms_created_before_the_preview(
    empty_sandbox: SandboxServer,
) -> None:
    schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"iso2": "DE"}))
        late = empty_sandbox.state.add_sms(
            phone="+4915187654321",
            text="scheduled after the preview",
            delivery_at=int(time.time()) + 86_400,
            iso2="DE",
            created_at=int(time.time()) + 5,
        )
        result = data_of(
            await client.call_tool(
                "cancel_pending_sms", {"iso2": "DE", "confirmation_token": preview["confirmation_token"]}
            )
        )
    assert result["cancelled"] == 2
    assert empty_sandbox.state.sms(late["uuid"])["status_code"] == 0, "an SMS created after the preview survives"
    cancel = [r for r in empty_sandbox.state.requests if r.path == "/sms/ops/batch_cancel"][-1]
    assert "is_sent=0" in cancel.query and "status_code=0" in cancel.query
    assert re.search(r"created_at(%5B|\[)lt(%5D|\])=\d+", cancel.query)


async def test_a_token_for_other_filters_is_refused_and_nothing_is_cancelled(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
        token = preview["confirmation_token"]
        for args in (
            {"iso2": "DE", "confirmation_token": token},
            {"callback_data": "spring-sale", "iso2": "DE", "confirmation_token": token},
            {"callback_data": "spring-sale", "cancel_all_pending": True, "confirmation_token": token},
        ):
            result = await client.call_tool("cancel_pending_sms", args)
            assert result.is_error and "different filters" in text_of(result), args
    assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)
    assert statuses(empty_sandbox, uuids) == [0, 0]


async def test_the_same_selection_written_differently_accepts_the_token(empty_sandbox: SandboxServer) -> None:
    schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"iso2": ["AT", "DE", "DE"]}))
        result = data_of(
            await client.call_tool(
                "cancel_pending_sms", {"iso2": ["de", "at"], "confirmation_token": preview["confirmation_token"]}
            )
        )
    assert result["status"] == "cancelled" and result["cancelled"] == 2


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),
        lambda t: t[: len(t) // 2],
        lambda t: "c1.e30." + t.split(".")[2],
        lambda _t: "",
        lambda _t: "not-a-token",
        lambda t: t + "." + t,
    ],
    ids=["tampered-mac", "truncated", "swapped-payload", "empty", "garbage", "doubled"],
)
async def test_forged_tokens_are_refused(empty_sandbox: SandboxServer, forge: Callable[[str], str]) -> None:
    uuids = schedule(empty_sandbox, 1)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
        forged = forge(preview["confirmation_token"])
        result = await client.call_tool(
            "cancel_pending_sms", {"callback_data": "spring-sale", "confirmation_token": forged}
        )
    if forged == "":
        # An empty token counts as no token: a fresh preview, never a cancel.
        assert data_of(result)["status"] == "confirmation_required"
    else:
        assert result.is_error and "Nothing was cancelled" in text_of(result)
    assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)
    assert statuses(empty_sandbox, uuids) == [0]


async def test_expired_tokens_and_tokens_from_another_secret_are_refused(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 1)
    filters = SmsFilters(callback_data="spring-sale")
    scope = cancel_scope(
        account_id=DEMO_TOKEN.split(":")[0], base_url=empty_sandbox.url, filters=filters, cancel_all_pending=False
    )
    now = int(time.time())
    expired, _ = TokenSigner(SECRET.encode(), ttl=600).mint(scope=scope, preview_time=now - 601, matched=1)
    foreign, _ = TokenSigner(b"another-secret-0123456789abcdef", ttl=600).mint(scope=scope, preview_time=now, matched=1)
    valid, _ = TokenSigner(SECRET.encode(), ttl=600).mint(scope=scope, preview_time=now, matched=1)
    async with Client(make_server(empty_sandbox)) as client:
        for token, reason in ((expired, "expired"), (foreign, "different filters")):
            result = await client.call_tool(
                "cancel_pending_sms", {"callback_data": "spring-sale", "confirmation_token": token}
            )
            assert result.is_error and reason in text_of(result)
        assert statuses(empty_sandbox, uuids) == [0]
        ok = data_of(
            await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale", "confirmation_token": valid})
        )
    assert ok["status"] == "cancelled", "the control token, minted the same way, works"


async def test_nothing_to_cancel_sends_no_cancel(empty_sandbox: SandboxServer) -> None:
    schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox)) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "no-such-campaign"}))
    assert result["status"] == "nothing_to_cancel" and result["matched"] == 0
    assert result["confirmation_token"] is None
    assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)


# --------------------------------------------------------------------------- cancel: elicitation


@pytest.mark.parametrize("mode", MODES)
async def test_elicitation_yes_cancels_in_the_same_call(empty_sandbox: SandboxServer, mode: str) -> None:
    uuids = schedule(empty_sandbox, 3)
    seen: list[str] = []
    async with Client(
        make_server(empty_sandbox), mode=mode, elicitation_callback=elicit("accept", True, seen)
    ) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
    assert result["status"] == "cancelled" and result["cancelled"] == 3
    assert len(seen) == 1, "asked exactly once"
    assert seen[0].startswith('Cancel 3 scheduled SMS matching callback_data="spring-sale" (the newest created ')
    assert "cannot be undone" in seen[0] and "By country: DE: 3." in seen[0] and "+49" not in seen[0]
    assert statuses(empty_sandbox, uuids) == [6000] * 3
    assert posts(empty_sandbox).count("/sms/ops/batch_cancel") == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("action", "confirm"), [("decline", True), ("cancel", True), ("accept", False)])
async def test_elicitation_decline_cancel_or_no_cancels_nothing(
    empty_sandbox: SandboxServer, mode: str, action: Literal["accept", "decline", "cancel"], confirm: bool
) -> None:
    uuids = schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox), mode=mode, elicitation_callback=elicit(action, confirm)) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
    assert result["status"] == "declined" and result["cancelled"] == 0 and result["matched"] == 2
    assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)
    assert statuses(empty_sandbox, uuids) == [0, 0]


async def test_confirm_policy_elicit_refuses_clients_without_elicitation(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 1)
    async with Client(make_server(empty_sandbox, confirm="elicit")) as client:
        result = await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"})
    assert result.is_error and "LOX24_MCP_CONFIRM=elicit" in text_of(result)
    assert statuses(empty_sandbox, uuids) == [0]


async def test_confirm_policy_token_uses_the_token_flow_even_when_the_client_can_elicit(
    empty_sandbox: SandboxServer,
) -> None:
    schedule(empty_sandbox, 1)
    seen: list[str] = []
    async with Client(
        make_server(empty_sandbox, confirm="token"), elicitation_callback=elicit("accept", True, seen)
    ) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
    assert result["status"] == "confirmation_required" and seen == []


async def test_confirm_policy_off_cancels_without_asking(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox, confirm="off")) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
    assert result["status"] == "cancelled" and result["cancelled"] == 2
    assert statuses(empty_sandbox, uuids) == [6000, 6000]


# --------------------------------------------------------------------------- add_phones_to_group


async def test_import_normalises_dedupes_and_accounts_for_every_entry(empty_sandbox: SandboxServer) -> None:
    group = empty_sandbox.state.add_group("VIP customers")
    empty_sandbox.state.add_group("Other")
    phones: list[dict[str, Any]] = [
        {"phone": "+4915112345678", "a": "Frau", "b": "Müller"},  # 0 created
        {"phone": "0151 1234 5679", "callback_data": "import-1"},  # 1 national → +4915112345679
        {"phone": "not a number"},  # 2 invalid
        {"phone": "+49 151 12345678"},  # 3 duplicate of 0
        {"phone": "0043 664 1234567"},  # 4 00-prefix → +436641234567
        {"phone": "12"},  # 5 invalid
    ]
    async with Client(make_server(empty_sandbox)) as client:
        first = data_of(
            await client.call_tool("add_phones_to_group", {"group_id": group, "phones": phones, "default_region": "DE"})
        )
        again = data_of(
            await client.call_tool("add_phones_to_group", {"group_id": group, "phones": [{"phone": "+4915112345678"}]})
        )
    assert (first["requested"], first["created"], first["invalid"], first["duplicates"]) == (6, 3, 2, 1)
    assert first["rejected"] == 0 and first["unknown"] == 0
    assert [(p["index"], p["outcome"]) for p in first["problems"]] == [(2, "invalid"), (3, "duplicate"), (5, "invalid")]
    assert "entry 0" in first["problems"][1]["reason"]
    stored = {p["phone"]: p for p in empty_sandbox.state.group_phones(group)}
    assert set(stored) == {"+4915112345678", "+4915112345679", "+436641234567"}
    assert stored["+4915112345678"]["b"] == "Müller" and stored["+4915112345679"]["callback_data"] == "import-1"
    assert (again["created"], again["already_in_group"], again["rejected"]) == (0, 1, 0), "checked, not sent"
    assert again["problems"] == [] and again["contacts"] == [
        "+4915112345678 → +4915112345678: already in the group, not sent"
    ]


async def test_import_reports_progress_per_chunk_and_keeps_the_result_small(empty_sandbox: SandboxServer) -> None:
    group = empty_sandbox.state.add_group("Newsletter")
    phones = [{"phone": f"+49151{20000000 + i}"} for i in range(1200)] + [{"phone": "bad"}] * 60
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(make_server(empty_sandbox)) as client:
        result = await client.call_tool(
            "add_phones_to_group", {"group_id": group, "phones": phones}, progress_callback=on_progress
        )
    data = data_of(result)
    assert data["created"] == 1200 and data["invalid"] == 60 and data["requested"] == 1260
    assert len(data["problems"]) == 50 and data["problems_total"] == 60
    assert len(text_of(result)) < 8000
    batches = [r for r in empty_sandbox.state.requests if r.path.endswith("/phones/batch")]
    assert len(batches) == 3, "1200 valid contacts go out in chunks of 500"
    progress = [p for p, _, _ in seen]
    assert progress == sorted(progress) and progress[-1] == 1260 and len(seen) >= 3
    assert all(total == 1260 for _, total, _ in seen)


async def test_import_into_an_unknown_group_names_the_group_and_points_to_list_groups(
    empty_sandbox: SandboxServer,
) -> None:
    async with Client(make_server(empty_sandbox)) as client:
        result = await client.call_tool(
            "add_phones_to_group", {"group_id": 424242, "phones": [{"phone": "+4915112345678"}]}
        )
    assert result.is_error
    assert "424242" in text_of(result) and "list_groups" in text_of(result) and "HTTP 404" in text_of(result)


async def test_import_rejects_unknown_phone_fields_before_sending(empty_sandbox: SandboxServer) -> None:
    group = empty_sandbox.state.add_group("VIP")
    empty_sandbox.state.reset_requests()
    async with Client(make_server(empty_sandbox)) as client:
        result = await client.call_tool(
            "add_phones_to_group", {"group_id": group, "phones": [{"phone": "+4915112345678", "email": "x@y.z"}]}
        )
    assert result.is_error and "email" in text_of(result)
    assert empty_sandbox.state.requests == []


# --------------------------------------------------------------------------- read-only tools, errors, prompts


async def test_list_groups_and_search_sms_read_the_sandbox(shared_sandbox: SandboxServer) -> None:
    async with Client(make_server(shared_sandbox)) as client:
        groups = data_of(await client.call_tool("list_groups", {}))
        found = data_of(await client.call_tool("search_sms", {"is_sent": False, "callback_data": "spring-sale"}))
        full = data_of(await client.call_tool("search_sms", {"callback_data": "spring-sale", "show_full_phone": True}))
    names = {g["name"] for g in groups["groups"]}
    assert {"VIP customers", "Newsletter"} <= names and groups["sandbox"] is True
    assert found["total"] == len(found["items"]) > 0
    assert all("•" in item["phone"] for item in found["items"])
    assert all(re.fullmatch(r"\+\d+", item["phone"]) for item in full["items"])


async def test_lox24_errors_reach_the_model_as_actionable_tool_errors(empty_sandbox: SandboxServer) -> None:
    settings = Settings(api_token=SecretStr("1000001:wrong-key"), base_url=empty_sandbox.url)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("list_groups", {})
        again = await client.call_tool("search_sms", {"iso2": "DE"})
    assert result.is_error
    text = text_of(result)
    assert "HTTP 401" in text and "LOX24 request id" in text and "LOX24_API_TOKEN" in text
    assert "wrong-key" not in text
    assert again.is_error and "no further calls" in text_of(again)
    assert len(empty_sandbox.state.requests) == 1, "the cool-down keeps the second call off the wire"


async def test_prompts_are_listed_rendered_and_group_names_complete(shared_sandbox: SandboxServer) -> None:
    async with Client(make_server(shared_sandbox)) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {"cancel_campaign", "import_contacts", "review_scheduled"} <= set(prompts)
        rendered = await client.get_prompt("cancel_campaign", {"campaign": "spring-sale"})
        content = rendered.messages[0].content
        assert isinstance(content, TextContent) and 'callback_data="spring-sale"' in content.text
        completion = await client.complete(
            ref=PromptReference(type="ref/prompt", name="import_contacts"), argument={"name": "group", "value": "vi"}
        )
    assert completion.completion.values == ["VIP customers"]


async def test_logging_set_level_is_answered_for_2025_clients(empty_sandbox: SandboxServer) -> None:
    package_logger = logging.getLogger("lox24_mcp")
    before = package_logger.level
    try:
        async with Client(make_server(empty_sandbox), mode="legacy") as client:
            assert client.server_capabilities.logging is not None
            with pytest.warns(MCPDeprecationWarning):
                await client.set_logging_level("debug")
            assert package_logger.level == before, "one client cannot change every session's stderr logging"
            tools = await client.list_tools()
        assert tools.tools, "the session keeps working after setLevel"
    finally:
        package_logger.setLevel(before)


async def test_an_import_through_the_mcp_tool_under_faults_matches_the_api_side() -> None:
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Faulty import over MCP")
    state.faults = Faults(
        error_rate=0.25,
        drop_rate=0.15,
        slow_rate=0.15,
        slow_seconds=SLOW,
        seed=3,
        only_paths=(f"/groups/{group}/phones",),
    )
    numbers = [f"+43664{1000000 + i}" for i in range(1400)]
    phones: list[dict[str, Any]] = [{"phone": n} for n in numbers] + [{"phone": "bad"}, {"phone": numbers[0]}]
    reported: list[float] = []

    async def record(progress: float, total: float | None, message: str | None) -> None:
        del total, message
        reported.append(progress)

    on_progress: ProgressFnT = record

    with SandboxServer(state) as sandbox:
        async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            server = create_server(make_settings(sandbox.url), http_client=http, retry=FAST_RETRY, sandbox=True)
            with anyio.fail_after(30):
                async with Client(server) as client:
                    result = await client.call_tool(
                        "add_phones_to_group", {"group_id": group, "phones": phones}, progress_callback=on_progress
                    )
                    assert not (await client.call_tool("list_groups", {})).is_error, "the session survives the faults"
        assert state.wait_idle(10), "the sandbox is still handling requests"
        stored_list = [p["phone"] for p in state.group_phones(group)]
        sent = batches(state, group)
    data = ImportResult.model_validate(data_of(result))
    assert data.requested == 1402 and data.invalid == 1 and data.duplicates == 1
    stored = set(stored_list)
    assert len(stored) == len(stored_list) and stored <= set(numbers)
    processed, unknown, rejected = wire_outcomes(sent)
    assert stored == processed and not (unknown & stored)
    assert (data.created, data.unknown, data.rejected) == (len(stored), len(unknown), len(rejected))
    assert data.problems_total == 1402 - data.created
    assert any(s != 201 for tries in sent.values() for s in tries), "no fault fired: this run tested nothing"
    assert reported and reported[-1] == 1402 and reported == sorted(reported)


@dataclass
class Built:
    """What `create_server` built while a test ran (through the patched factories of `built`)."""

    clients: list[Lox24Client] = field(default_factory=list)
    states: list[AppState] = field(default_factory=list)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Built:
    """Keep every LOX24 client and AppState the server creates, so that their reprs can be searched."""
    seen = Built()
    real_client, real_state = Lox24Client, AppState

    def client_factory(*args: Any, **kwargs: Any) -> Lox24Client:
        made = real_client(*args, **kwargs)
        seen.clients.append(made)
        return made

    def state_factory(*args: Any, **kwargs: Any) -> AppState:
        made = real_state(*args, **kwargs)
        seen.states.append(made)
        return made

    monkeypatch.setattr("lox24_mcp.mcp.app.Lox24Client", client_factory)
    monkeypatch.setattr("lox24_mcp.mcp.app.AppState", state_factory)
    return seen


# ----------------------------------------------------------------------------- the API token never shows

PLANTED = "1000001:FAKE-SECRET-xyz987"

PLANTED_KEY = PLANTED.partition(":")[2]


class _Lines(logging.Handler):
    """Every record, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + repr(record.args))


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[_Lines]:
    """DEBUG on every logger, captured even from loggers that do not propagate (uvicorn's)."""
    handler = _Lines()
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        caplog.set_level(logging.DEBUG, logger=logger.name)
    attached = [logging.getLogger(), *[lg for lg in loggers if not lg.propagate]]
    for logger in attached:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in attached:
            logger.removeHandler(handler)


@dataclass
class Exposure:
    """Everything a user, a model or an operator can see."""

    server: MCPServer[AppState]
    texts: list[str] = field(default_factory=list)

    async def call(self, name: str, args: dict[str, Any], *, dialog: bool = False) -> CallToolResult:
        async def record(progress: float, total: float | None, message: str | None) -> None:
            self.texts.append(f"{progress} {total} {message}")

        on_progress: ProgressFnT = record

        with anyio.fail_after(20):
            async with Client(
                self.server, elicitation_callback=elicit("accept", True, self.texts) if dialog else None
            ) as c:
                result = await c.call_tool(name, args, progress_callback=on_progress)
        self.texts.extend(b.text for b in result.content if isinstance(b, TextContent))
        self.texts.append(json.dumps(result.structured_content))
        return result


async def _success(run: Exposure, url: str) -> list[str]:
    groups = data_of(await run.call("list_groups", {}))["groups"]
    await run.call("search_sms", {"is_sent": False, "show_full_phone": True})
    data_of(
        await run.call("add_phones_to_group", {"group_id": groups[0]["id"], "phones": [{"phone": "+4915122223333"}]})
    )
    assert data_of(await run.call("cancel_pending_sms", {"callback_data": TAG}, dialog=True))["status"] == "cancelled"
    preview = data_of(await run.call("cancel_pending_sms", {"iso2": "DE"}))
    token = preview["confirmation_token"]
    assert data_of(await run.call("cancel_pending_sms", {"iso2": "DE", "confirmation_token": token}))["cancelled"] > 0
    return []


async def _wrong_token(run: Exposure, url: str) -> list[str]:
    first, second = await run.call("list_groups", {}), await run.call("search_sms", {"iso2": "DE"})
    assert first.is_error and second.is_error
    return ["HTTP 401"]


async def _not_found(run: Exposure, url: str) -> list[str]:
    result = await run.call("add_phones_to_group", {"group_id": 424242, "phones": [{"phone": "+4915122223333"}]})
    assert result.is_error
    return ["HTTP 404"]


async def _unavailable(run: Exposure, url: str) -> list[str]:
    assert (await run.call("list_groups", {})).is_error
    assert (await run.call("cancel_pending_sms", {"callback_data": TAG})).is_error
    data_of(await run.call("add_phones_to_group", {"group_id": 1, "phones": [{"phone": "+4915122223333"}]}))
    return ["HTTP 503"]


async def _dropped(run: Exposure, url: str) -> list[str]:
    assert (await run.call("search_sms", {"iso2": "DE"})).is_error
    data = data_of(await run.call("add_phones_to_group", {"group_id": 1, "phones": [{"phone": "+4915122223333"}]}))
    assert data["unknown"] == 1
    return ["did not answer"]


async def _timeout(run: Exposure, url: str) -> list[str]:
    data = data_of(await run.call("add_phones_to_group", {"group_id": 1, "phones": [{"phone": "+4915122223333"}]}))
    assert data["unknown"] == 1
    return ["ReadTimeout"]


async def _bad_confirmation(run: Exposure, url: str) -> list[str]:
    forged = mint(url, SmsFilters(callback_data=TAG), key=b"not-the-server-secret-0123456789")
    expired = mint(url, SmsFilters(callback_data=TAG), age=10_000)
    for token in (forged, expired, "c1.garbage", forged[:-1] + "é"):
        assert (await run.call("cancel_pending_sms", {"callback_data": TAG, "confirmation_token": token})).is_error
    return ["Nothing was cancelled"]


SECRET_PATHS: dict[str, tuple[Callable[[Exposure, str], Awaitable[list[str]]], dict[str, Any], str]] = {
    # name: (scenario, faults, the token the sandbox accepts)
    "success": (_success, {}, PLANTED),
    "wrong-token-401": (_wrong_token, {}, "1000001:the-right-key-is-another"),
    "unknown-group-404": (_not_found, {}, PLANTED),
    "unavailable-503": (_unavailable, {"error_rate": 1.0}, PLANTED),
    "dropped": (_dropped, {"drop_rate": 1.0}, PLANTED),
    "timeout": (_timeout, {"slow_rate": 1.0, "slow_seconds": SLOW}, PLANTED),
    "invalid-confirmation-token": (_bad_confirmation, {}, PLANTED),
}


@pytest.mark.parametrize("path", list(SECRET_PATHS))
async def test_the_api_token_never_shows_in_logs_results_dialogs_errors_or_reprs(
    built: Built, every_log: _Lines, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    scenario, fault, accepted = SECRET_PATHS[path]
    # The import's first step, reading the group, is spared: the faults are meant for its batches.
    state = SandboxState(token=accepted, faults=Faults(seed=5, skip_paths=("/groups/1/file/",), **fault))
    with SandboxServer(state) as sandbox:
        async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            settings_ = make_settings(sandbox.url, token=PLANTED, log_level="DEBUG")
            server = create_server(settings_, http_client=http, retry=FAST_RETRY, sandbox=True)
            run = Exposure(server)
            markers = await scenario(run, sandbox.url)
    seen = [
        *run.texts,
        *every_log.lines,
        caplog.text,
        repr(settings_),
        str(settings_),
        settings_.model_dump_json(),
        repr(settings_.model_dump()),
        repr(server),
        repr(vars(server)),
    ]
    for app_state in built.states:
        seen += [repr(app_state), repr(vars(app_state.client)), repr(app_state.signer)]
    for client in built.clients:
        seen += [repr(client), str(client)]
    for text in seen:
        assert PLANTED_KEY not in text and PLANTED not in text, f"the API token leaked: {text[:400]!r}"
        assert SECRET not in text, f"the confirmation-token key leaked: {text[:400]!r}"
    replies = " ".join(run.texts)
    for marker in markers:
        assert marker in replies, f"the {path} path was not exercised ({marker!r} missing)"
    assert built.states, "the server's state was inspected"
    if any(r.status for r in state.requests):
        assert any(line.startswith("lox24_mcp.lox24.client DEBUG") for line in every_log.lines), "DEBUG logs were read"
    if path != "invalid-confirmation-token":
        assert any(r.headers.get("x-lox24-auth-token") == PLANTED for r in state.requests), "the token was used"
