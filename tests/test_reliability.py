"""Reliability and security under faults: every contact accounted for, no invented cancel counts,
unforgeable confirmation tokens, a secret that never shows, and an HTTP front door that stays shut.

Faults come from the sandbox (seeded, so every run draws the same sequence); every wait is bounded
with `anyio.fail_after`; nothing sleeps.
"""

from __future__ import annotations

import ast
import hmac
import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import anyio
import httpx2
import pytest
from conftest import FAST_RETRY, data_of, text_of
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.server import MCPServer
from mcp.shared.dispatcher import ProgressFnT
from mcp.types import CallToolResult, ElicitRequestFormParams, ElicitRequestParams, ElicitResult, TextContent
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lox24_mcp.config import Settings
from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.models import PhoneEntry, SmsFilters
from lox24_mcp.mcp.app import AppState, create_server
from lox24_mcp.mcp.http import BearerAuth, BindRefusedError, build_http_app, is_loopback
from lox24_mcp.mcp.results import ImportResult
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.ops.confirm import TokenSigner
from lox24_mcp.ops.importer import ImportReport, import_phones
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState

pytestmark = pytest.mark.anyio

SECRET = "reliability-test-secret-0123456789abcdef"
ACCOUNT = DEMO_TOKEN.partition(":")[0]
TAG = "spring-sale"
CANCEL_PATH = "/sms/ops/batch_cancel"
#: The client gives up after this long; slow faults answer later than that (and then do nothing).
CLIENT_TIMEOUT = 0.5
SLOW = 1.0
#: Hypothesis runs each example through `anyio.run`, so fixtures stay plain and the runs are bounded.
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# ----------------------------------------------------------------------------- helpers


def make_settings(url: str, *, token: str = DEMO_TOKEN, **overrides: Any) -> Settings:
    return Settings(api_token=SecretStr(token), base_url=url, secret=SecretStr(SECRET), **overrides)


def elicit(answer: bool, seen: list[str] | None = None) -> ElicitationFnT:
    async def callback(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        del context
        assert isinstance(params, ElicitRequestFormParams)
        if seen is not None:
            seen.append(params.message)
        return ElicitResult(action="accept", content={"confirm": answer})

    return callback


def schedule(state: SandboxState, count: int, *, tag: str = TAG) -> list[str]:
    """`count` pending SMS created a minute ago with callback_data `tag`."""
    now = int(time.time())
    return [
        state.add_sms(
            phone=f"+49151{31000000 + i}",
            text=f"Reminder {i}",
            delivery_at=now + 86_400,
            iso2="DE",
            callback_data=tag,
            created_at=now - 60,
        )["uuid"]
        for i in range(count)
    ]


def statuses(state: SandboxState) -> dict[str, int]:
    return {s["uuid"]: s["status_code"] for s in state.all_sms()}


def cancel_posts(state: SandboxState) -> list[int]:
    """The status of every batch_cancel the sandbox received (0 = it never answered)."""
    return [r.status for r in state.requests if r.method == "POST" and r.path == CANCEL_PATH]


def mint(url: str, filters: SmsFilters, *, key: bytes = SECRET.encode(), age: int = 5, ttl: int = 600) -> str:
    """A token as the server would mint it for `filters`, previewed `age` seconds ago."""
    scope = cancel_scope(account_id=ACCOUNT, base_url=url, filters=filters, cancel_all_pending=False)
    token, _ = TokenSigner(key, ttl=ttl).mint(scope=scope, preview_time=int(time.time()) - age, matched=1)
    return token


@dataclass
class Built:
    """What `create_server` built while a test ran (through the patched factories of `built`)."""

    clients: list[Lox24Client] = field(default_factory=list)
    states: list[AppState] = field(default_factory=list)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Built:
    """Give the server's LOX24 client the fast retry policy, and keep every client and AppState it creates.

    `create_server` takes only an httpx2 client, and its default policy backs off 1.75 s over four 503s;
    this keeps the fault tests fast and lets the secret tests inspect the objects.
    """
    seen = Built()
    real_client, real_state = Lox24Client, AppState

    def client_factory(*args: Any, **kwargs: Any) -> Lox24Client:
        kwargs.setdefault("retry", FAST_RETRY)
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


# ----------------------------------------------------------------------------- import under faults

VALID = 1980
INVALID_AT = [5 + 199 * k for k in range(10)]
DUPLICATE_AT = [11 + 197 * k for k in range(10)]


def contacts() -> tuple[list[PhoneEntry], set[str]]:
    """2,000 entries: 1,980 distinct valid numbers, 10 invalid ones and 10 national repeats of earlier numbers."""
    numbers = [f"+49151{20000000 + i}" for i in range(VALID)]
    entries = [PhoneEntry(phone=n, a=f"contact {i}") for i, n in enumerate(numbers)]
    for k, at in enumerate(INVALID_AT):
        entries.insert(at, PhoneEntry(phone=f"12{k}"))
    for k, at in enumerate(DUPLICATE_AT):
        entries.insert(at + 1, PhoneEntry(phone=f"0151 {20000000 + k}"))  # same as +49151{20000000+k}, earlier
    assert len(entries) == 2000
    return entries, set(numbers)


def positions(entries: list[PhoneEntry], prefix: str) -> set[int]:
    return {i for i, e in enumerate(entries) if e.phone.startswith(prefix)}


def batches(state: SandboxState, group: int) -> dict[tuple[str, ...], list[int]]:
    """Every phone batch the sandbox received, by its numbers, with the status of each attempt in arrival order."""
    seen: dict[tuple[str, ...], list[int]] = {}
    for r in state.requests:
        if r.method == "POST" and r.path == f"/groups/{group}/phones/batch":
            batch = tuple(item["phone"] for item in json.loads(r.body))
            seen.setdefault(batch, []).append(r.status)
    return seen


def wire_outcomes(sent: dict[tuple[str, ...], list[int]]) -> tuple[set[str], set[str], set[str]]:
    """The numbers LOX24 processed, those whose outcome the client cannot know, and those refused.

    Checks the rule on the way: a POST batch goes out exactly once. Any 5xx or a lost answer means
    LOX24 may or may not have done the work, so it is never resent.
    """
    processed: set[str] = set()
    unknown: set[str] = set()
    rejected: set[str] = set()
    for batch, tries in sent.items():
        assert len(tries) == 1, f"a batch was sent more than once: {tries}"
        (status,) = tries
        if status == 201:
            processed.update(batch)
        elif status == 0 or status >= 500:
            unknown.update(batch)
        else:
            rejected.update(batch)
    return processed, unknown, rejected


def check_import(
    result: ImportReport, state: SandboxState, group: int, entries: list[PhoneEntry], valid: set[str]
) -> None:
    """The import's report, the API's side, and the wire agree on what happened to every entry."""
    accounted = result.created + result.rejected + result.invalid + result.duplicates + result.unknown
    assert accounted == result.requested and result.already_in_group == 0, result
    assert result.problems_total == result.requested - result.created
    assert len(result.problems) == min(50, result.problems_total)
    assert [p.index for p in result.problems] == sorted(p.index for p in result.problems)

    stored_list = [p["phone"] for p in state.group_phones(group)]
    stored = set(stored_list)
    assert len(stored_list) == len(stored), "a contact was created twice"
    assert stored <= valid
    assert result.created == len(stored), "created must be what LOX24 holds, no more and no less"

    sent = batches(state, group)
    every_number = [n for batch in sent for n in batch]
    assert len(every_number) == len(set(every_number)), "the same number went out in two different batches"
    assert set(every_number) == valid, "every valid, distinct number is sent (once)"
    processed, unknown, rejected = wire_outcomes(sent)
    assert stored == processed, "exactly the batches LOX24 answered 201 are in the group"
    assert not (unknown & stored), "a batch reported unknown was created after all"
    assert result.unknown == len(unknown)
    assert result.rejected == len(rejected)
    assert result.invalid == len(INVALID_AT) and result.duplicates == len(DUPLICATE_AT)
    for problem in result.problems:
        if problem.outcome in ("unknown", "rejected"):
            assert problem.phone not in stored, problem
        elif problem.outcome == "invalid":
            assert problem.index in positions(entries, "12"), problem
        else:
            assert problem.index in positions(entries, "0151 ") and "same number as entry" in problem.reason


FAULT_CASES: dict[str, dict[str, Any]] = {
    "503": {"error_rate": 0.2, "seed": 11},
    "drop": {"drop_rate": 0.2, "seed": 12},
    "slow": {"slow_rate": 0.2, "slow_seconds": SLOW, "seed": 13},
    "mixed": {"error_rate": 0.1, "drop_rate": 0.1, "slow_rate": 0.1, "slow_seconds": SLOW, "seed": 14},
}


@pytest.mark.parametrize("case", list(FAULT_CASES))
async def test_a_2000_contact_import_under_faults_accounts_for_every_contact(case: str) -> None:
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Faulty import")
    state.faults = Faults(**FAULT_CASES[case], only_paths=(f"/groups/{group}/phones",))
    entries, valid = contacts()
    with SandboxServer(state) as sandbox:
        async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            client = Lox24Client(SecretStr(DEMO_TOKEN), base_url=sandbox.url, http_client=http, retry=FAST_RETRY)
            with anyio.fail_after(30):
                result = await import_phones(client, group, entries, default_region="DE", chunk_size=100)
    # The sandbox has stopped: every request has been answered (or abandoned) for good.
    check_import(result, state, group, entries, valid)
    tries = [s for statuses_ in batches(state, group).values() for s in statuses_]
    if "error_rate" in FAULT_CASES[case]:
        assert 503 in tries, "the 503 fault never fired: this run tested nothing"
    if "drop_rate" in FAULT_CASES[case] or "slow_rate" in FAULT_CASES[case]:
        assert result.unknown > 0, "no batch went unanswered: this run tested nothing"
    assert result.created > VALID // 2, "most batches get through"


async def test_an_import_through_the_mcp_tool_under_faults_matches_the_api_side(built: Built) -> None:
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
            server = create_server(make_settings(sandbox.url), http_client=http, sandbox=True)
            with anyio.fail_after(30):
                async with Client(server) as client:
                    result = await client.call_tool(
                        "add_phones_to_group", {"group_id": group, "phones": phones}, progress_callback=on_progress
                    )
                    assert not (await client.call_tool("list_groups", {})).is_error, "the session survives the faults"
    data = ImportResult.model_validate(data_of(result))
    assert data.requested == 1402 and data.invalid == 1 and data.duplicates == 1
    stored_list = [p["phone"] for p in state.group_phones(group)]
    stored = set(stored_list)
    assert len(stored) == len(stored_list) and stored <= set(numbers)
    sent = batches(state, group)
    processed, unknown, rejected = wire_outcomes(sent)
    assert stored == processed and not (unknown & stored)
    assert (data.created, data.unknown, data.rejected) == (len(stored), len(unknown), len(rejected))
    assert data.problems_total == 1402 - data.created
    assert any(s != 201 for tries in sent.values() for s in tries), "no fault fired: this run tested nothing"
    assert reported and reported[-1] == 1402 and reported == sorted(reported)


async def test_a_fatal_error_after_an_unanswered_batch_still_accounts_for_it() -> None:
    # Seed 8 draws: the first request is dropped (outcome unknown), the second is answered 403 (fatal).
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Unknown, then forbidden")
    state.faults = Faults(
        drop_rate=0.5, error_rate=0.5, error_status=403, seed=8, only_paths=(f"/groups/{group}/phones",)
    )
    entries = [PhoneEntry(phone=f"+49151{20000000 + i}") for i in range(200)]
    with SandboxServer(state) as sandbox:
        async with httpx2.AsyncClient(timeout=5) as http:
            client = Lox24Client(SecretStr(DEMO_TOKEN), base_url=sandbox.url, http_client=http, retry=FAST_RETRY)
            with anyio.fail_after(20):
                result = await import_phones(client, group, entries, chunk_size=100, concurrency=1)
    assert [r.status for r in state.requests] == [200, 0, 403], "the group's numbers are read first (one request)"
    assert (result.created, result.unknown, result.rejected) == (0, 100, 100)


# ----------------------------------------------------------------------------- cancel under faults


CANCEL_FAULTS: dict[str, tuple[dict[str, Any], list[int], str]] = {
    # name: (faults on batch_cancel only, statuses the sandbox should record, words the error must contain)
    "503": ({"error_rate": 1.0}, [503], "HTTP 503"),
    "500": ({"error_rate": 1.0, "error_status": 500}, [500], "HTTP 500"),
    "504": ({"error_rate": 1.0, "error_status": 504}, [504], "may have cancelled"),
    "drop": ({"drop_rate": 1.0}, [0], "may or may not"),
    "timeout": ({"slow_rate": 1.0, "slow_seconds": SLOW}, [0], "may or may not"),
}


async def confirm_cancel(client: Client, flow: str, args: dict[str, Any]) -> CallToolResult:
    """The user's yes, by token (preview first) or by dialog."""
    if flow == "token":
        preview = data_of(await client.call_tool("cancel_pending_sms", args))
        assert preview["status"] == "confirmation_required"
        return await client.call_tool(
            "cancel_pending_sms", {**args, "confirmation_token": preview["confirmation_token"]}
        )
    return await client.call_tool("cancel_pending_sms", args)


@pytest.mark.parametrize("flow", ["token", "dialog"])
@pytest.mark.parametrize("case", list(CANCEL_FAULTS))
async def test_a_failed_cancel_reports_an_error_and_never_a_count(built: Built, case: str, flow: str) -> None:
    fault, expected_tries, words = CANCEL_FAULTS[case]
    state = SandboxState(seed_demo_data=False)
    uuids = schedule(state, 4)
    with SandboxServer(state) as sandbox:
        async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            server = create_server(make_settings(sandbox.url), http_client=http, sandbox=True)
            callback = elicit(True) if flow == "dialog" else None
            with anyio.fail_after(30):
                async with Client(server, elicitation_callback=callback) as client:
                    state.faults = Faults(only_paths=(CANCEL_PATH,), seed=1, **fault)
                    failed = await confirm_cancel(client, flow, {"callback_data": TAG})
                    tries = cancel_posts(state)
                    # The gateway recovers: the same request now reports what LOX24 really did.
                    state.faults = Faults()
                    before = statuses(state)
                    recovered = data_of(await confirm_cancel(client, flow, {"callback_data": TAG}))
    assert failed.is_error, text_of(failed)
    assert failed.structured_content is None, "a failed cancel carries no result object, so no count"
    text = text_of(failed)
    assert words in text and "Error executing tool cancel_pending_sms: " in text
    assert "LOX24 cancelled" not in text and not re.search(r"cancelled\D{0,3}\d", text)
    assert tries == expected_tries, "a cancel POST goes out once: a 5xx or a lost answer is never resent"
    assert "search_sms" in text, "the model is told how to see the current state"
    assert all(before[u] == 0 for u in uuids), "the faults hit before processing: nothing was cancelled"
    assert recovered["status"] == "cancelled" and recovered["cancelled"] == 4
    assert statuses(state) == {**before, **dict.fromkeys(uuids, 6000)}


async def test_the_cancelled_count_is_lox24s_not_the_previews(built: Built) -> None:
    """Two of five previewed SMS are stopped elsewhere before the user confirms: the result says 3, not 5."""
    state = SandboxState(seed_demo_data=False)
    uuids = schedule(state, 5)
    with SandboxServer(state) as sandbox:
        async with Client(create_server(make_settings(sandbox.url), sandbox=True)) as client:
            preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": TAG}))
            async with httpx2.AsyncClient(timeout=5) as http:
                elsewhere = await http.post(
                    f"{sandbox.url}{CANCEL_PATH}",
                    params=[("uuid[]", uuids[0]), ("uuid[]", uuids[1])],
                    headers={"X-LOX24-AUTH-TOKEN": DEMO_TOKEN, "Accept": "application/json"},
                )
            assert elsewhere.json() == {"deleted_sms_count": 2}
            before = statuses(state)
            done = data_of(
                await client.call_tool(
                    "cancel_pending_sms", {"callback_data": TAG, "confirmation_token": preview["confirmation_token"]}
                )
            )
    after = statuses(state)
    moved = [u for u in after if before[u] == 0 and after[u] == 6000]
    assert done["matched"] == 5, "matched is what the user saw in the preview"
    assert done["cancelled"] == len(moved) == 3, "cancelled is what LOX24 reported and did"
    assert "LOX24 cancelled 3 SMS" in done["message"]


@pytest.mark.parametrize(
    "args", [{"callback_data": TAG}, {"iso2": ["DE", "AT"]}, {"cancel_all_pending": True}], ids=["tag", "iso2", "all"]
)
async def test_on_demo_data_the_cancelled_count_equals_the_sms_that_changed(
    sandbox: SandboxServer, args: dict[str, Any]
) -> None:
    before = statuses(sandbox.state)
    seen: list[str] = []
    async with Client(
        create_server(make_settings(sandbox.url), sandbox=True), elicitation_callback=elicit(True, seen)
    ) as c:
        done = data_of(await c.call_tool("cancel_pending_sms", args))
    after = statuses(sandbox.state)
    changed = {u for u in after if after[u] != before[u]}
    assert done["status"] == "cancelled" and done["cancelled"] == len(changed) > 0
    assert all(before[u] == 0 and after[u] == 6000 for u in changed), "only pending SMS move, and only to 6000"
    assert len(seen) == 1 and seen[0].startswith(f"Cancel {done['matched']} scheduled SMS")
    assert cancel_posts(sandbox.state) == [200]


# ----------------------------------------------------------------------------- confirmation tokens


@pytest.fixture
def token_sandbox() -> Iterator[tuple[SandboxServer, list[str]]]:
    state = SandboxState(seed_demo_data=False)
    uuids = schedule(state, 3)
    with SandboxServer(state) as server:
        yield server, uuids


async def try_token(server: SandboxServer, args: dict[str, Any]) -> CallToolResult:
    """One cancel attempt from a client without dialogs; asserts that nothing was cancelled or sent."""
    before = statuses(server.state)
    server.state.reset_requests()
    with anyio.fail_after(20):
        async with Client(create_server(make_settings(server.url), sandbox=True)) as client:
            result = await client.call_tool("cancel_pending_sms", args)
    assert result.is_error or data_of(result)["status"] != "cancelled", args
    assert cancel_posts(server.state) == [], f"a cancel went out for {args}"
    assert statuses(server.state) == before
    return result


_TOKEN_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \t\n%é\x00")


@st.composite
def mutated(draw: st.DrawFn, token: str) -> str:
    """`token` after 1–3 edits: replace, insert, delete, truncate, swap or duplicate segments, change case."""
    text = token
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap", "double", "case", "drop"]))
        i = draw(st.integers(0, max(0, len(text) - 1)))
        parts = text.split(".")
        if op == "replace" and text:
            text = text[:i] + draw(_TOKEN_CHARS) + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + draw(_TOKEN_CHARS) + text[i:]
        elif op == "delete" and text:
            text = text[:i] + text[i + 1 :]
        elif op == "truncate":
            text = text[:i]
        elif op == "swap" and len(parts) == 3:
            text = ".".join([parts[0], parts[2], parts[1]])
        elif op == "double":
            text = text + "." + text
        elif op == "case":
            text = text.swapcase()
        elif op == "drop" and len(parts) > 1:
            del parts[draw(st.integers(0, len(parts) - 1))]
            text = ".".join(parts)
    return text


def test_mutated_tokens_never_cancel(token_sandbox: tuple[SandboxServer, list[str]]) -> None:
    server, _ = token_sandbox
    valid = mint(server.url, SmsFilters(callback_data=TAG))

    @PROPERTY
    @given(mutated(valid))
    def run(token: str) -> None:
        assume(token.strip() != valid)  # surrounding whitespace is forgiven on purpose

        async def check() -> None:
            result = await try_token(server, {"callback_data": TAG, "confirmation_token": token})
            if result.is_error:
                assert "Nothing was cancelled" in text_of(result), text_of(result)
            else:  # an empty token is no token: a fresh preview
                assert token.strip() == "" and data_of(result)["status"] == "confirmation_required"

        anyio.run(check)

    run()
    # The control: the same token, unmutated, does cancel (so the refusals above mean something).
    done = anyio.run(_cancel_with, server, {"callback_data": TAG, "confirmation_token": valid})
    assert done["status"] == "cancelled" and done["cancelled"] == 3


async def _cancel_with(server: SandboxServer, args: dict[str, Any]) -> dict[str, Any]:
    async with Client(create_server(make_settings(server.url), sandbox=True)) as client:
        return data_of(await client.call_tool("cancel_pending_sms", args))


_OTHER_FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "callback_data": st.sampled_from([TAG, "Spring-Sale", "spring-sale ", "other", "spring"])
        | st.lists(st.sampled_from([TAG, "other"]), min_size=1, max_size=3),
        "iso2": st.sampled_from(["DE", "AT", "de"]) | st.lists(st.sampled_from(["DE", "AT"]), min_size=1, max_size=2),
        "status_code": st.sampled_from([0, 100, 6000]),
        "text": st.sampled_from(["Reminder", "r"]),
        "delivery_at": st.fixed_dictionaries({"gte": st.integers(0, 2_000_000_000)}),
        "created_at": st.fixed_dictionaries({"lt": st.integers(1, 2_000_000_000)}),
        "cancel_all_pending": st.booleans(),
        "order_by": st.just("created_at"),
    },
)


def test_a_valid_token_on_any_other_selection_never_cancels(token_sandbox: tuple[SandboxServer, list[str]]) -> None:
    server, _ = token_sandbox
    confirmed = SmsFilters(callback_data=TAG)
    valid = mint(server.url, confirmed)

    @PROPERTY
    @given(_OTHER_FILTERS)
    def run(args: dict[str, Any]) -> None:
        filters = {k: v for k, v in args.items() if k != "cancel_all_pending"}
        try:
            same = SmsFilters.model_validate(filters).canonical() == confirmed.canonical()
        except ValueError:
            same = False
        assume(not (same and not args.get("cancel_all_pending")))

        async def check() -> None:
            result = await try_token(server, {**args, "confirmation_token": valid})
            assert result.is_error, text_of(result)
            assert server.state.requests == [], "a refused token sends nothing at all, not even a search"

        anyio.run(check)

    run()


def test_expired_tokens_and_tokens_from_other_secrets_never_cancel(
    token_sandbox: tuple[SandboxServer, list[str]],
) -> None:
    server, _ = token_sandbox
    filters = SmsFilters(callback_data=TAG)

    @PROPERTY
    @given(
        st.one_of(
            st.tuples(st.just("expired"), st.integers(600, 10**7).map(lambda age: mint(server.url, filters, age=age))),
            st.tuples(
                st.just("different filters"),
                st.binary(min_size=16, max_size=64)
                .filter(lambda key: key != SECRET.encode())
                .map(lambda key: mint(server.url, filters, key=key)),
            ),
        )
    )
    def run(case: tuple[str, str]) -> None:
        reason, token = case

        async def check() -> None:
            result = await try_token(server, {"callback_data": TAG, "confirmation_token": token})
            assert result.is_error and reason in text_of(result), text_of(result)

        anyio.run(check)

    run()


async def test_a_token_with_a_non_ascii_mac_cancels_nothing(token_sandbox: tuple[SandboxServer, list[str]]) -> None:
    server, _ = token_sandbox
    valid = mint(server.url, SmsFilters(callback_data=TAG))
    result = await try_token(server, {"callback_data": TAG, "confirmation_token": valid[:-1] + "é"})
    assert result.is_error


async def test_a_token_with_a_non_ascii_mac_is_refused_with_a_clear_message(
    token_sandbox: tuple[SandboxServer, list[str]],
) -> None:
    server, _ = token_sandbox
    valid = mint(server.url, SmsFilters(callback_data=TAG))
    result = await try_token(server, {"callback_data": TAG, "confirmation_token": valid[:-1] + "é"})
    assert "Nothing was cancelled" in text_of(result), text_of(result)


# ----------------------------------------------------------------------------- secrets

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
            async with Client(self.server, elicitation_callback=elicit(True, self.texts) if dialog else None) as c:
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
            server = create_server(settings_, http_client=http, sandbox=True)
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


# ----------------------------------------------------------------------------- HTTP front door

HTTP_TOKEN = "front-door-token-0123456789abcdef"


async def asgi_call(app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP request straight into an ASGI app: status, headers, body."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start.get("headers", [])), body


@dataclass
class Inner:
    """A stand-in for the MCP app: counts who got through."""

    calls: list[Scope] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        del receive
        self.calls.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"inner"})


def test_the_bearer_check_uses_hmac_compare_digest_and_no_plain_comparison() -> None:
    tree = ast.parse(inspect.getsource(BearerAuth))
    calls = [ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert "hmac.compare_digest" in calls
    compares = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert not [c for c in compares if "expected" in c or "given" in c], compares


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"",
        b"Bearer ",
        b"Bearer " + b"x" * len(HTTP_TOKEN),  # same length
        b"Bearer " + HTTP_TOKEN[:-1].encode() + b"X",  # same length, last byte differs
        b"Bearer " + HTTP_TOKEN[:-1].encode(),  # a prefix
        b"Bearer " + HTTP_TOKEN.encode() + b"0",  # longer
        b"Bearer " + HTTP_TOKEN.encode() + b" ",
        b"Basic " + HTTP_TOKEN.encode(),
        HTTP_TOKEN.encode(),
        b"Bearer " + HTTP_TOKEN.upper().encode(),
        b"Bearer x",
    ],
    ids=lambda h: "missing" if h is None else repr(h[:12] + b"..")[:20],
)
async def test_every_wrong_bearer_gets_401_and_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, header: bytes | None
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("lox24_mcp.mcp.http.hmac", SimpleNamespace(compare_digest=spy))
    inner = Inner()
    headers = [] if header is None else [(b"authorization", header)]
    status, response_headers, body = await asgi_call(BearerAuth(inner, SecretStr(HTTP_TOKEN)), headers)
    assert status == 401 and inner.calls == []
    assert response_headers[b"www-authenticate"].startswith(b"Bearer")
    assert HTTP_TOKEN.encode() not in body
    assert len(compared) == 1, "every wrong token, of any length, goes through compare_digest"


async def test_the_right_bearer_gets_through_and_other_scopes_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    inner = Inner()
    app = BearerAuth(inner, SecretStr(HTTP_TOKEN))
    status, _, body = await asgi_call(app, [(b"authorization", f"Bearer {HTTP_TOKEN}".encode())])
    assert (status, body) == (200, b"inner") and len(inner.calls) == 1
    assert HTTP_TOKEN not in repr(app)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        del message

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [s["type"] for s in inner.calls] == ["http", "lifespan"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "127.255.255.254", "::1", "[::1]", "localhost"])
def test_loopback_spellings_count_as_loopback(host: str) -> None:
    assert is_loopback(host)
    settings_ = Settings(api_token=SecretStr(DEMO_TOKEN))
    build_http_app(create_server(settings_), host=host, http_token=None)  # no BindRefusedError


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",  # noqa: S104
        "::",
        "[::]",
        "192.168.1.1",
        "10.0.0.1",
        "8.8.8.8",
        "",
        "example.com",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "::ffff:192.168.1.1",
    ],
)
def test_other_binds_are_not_loopback_and_need_a_token(host: str) -> None:
    assert not is_loopback(host)
    settings_ = Settings(api_token=SecretStr(DEMO_TOKEN))
    with pytest.raises(BindRefusedError) as refused:
        build_http_app(create_server(settings_), host=host, http_token=None)
    assert "LOX24_MCP_HTTP_TOKEN" in str(refused.value)
    build_http_app(create_server(settings_), host=host, http_token=SecretStr(HTTP_TOKEN))  # a token is enough


async def status_with_host(
    host: str,
    host_header: str,
    *,
    token: str | None = None,
    bearer: str | None = None,
    allowed_hosts: list[str] | None = None,
) -> int:
    """Run the real HTTP app (lifespan included) in memory and POST /mcp with the given Host header."""
    server = create_server(Settings(api_token=SecretStr(DEMO_TOKEN)))
    app = build_http_app(server, host=host, http_token=SecretStr(token) if token else None, allowed_hosts=allowed_hosts)
    to_app, app_inbox = anyio.create_memory_object_stream[Message](4)
    app_outbox, from_app = anyio.create_memory_object_stream[Message](4)

    async def receive() -> Message:
        return await app_inbox.receive()

    async def send(message: Message) -> None:
        await app_outbox.send(message)

    async def run_lifespan() -> None:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    headers = {"Host": host_header, "Accept": "application/json, text/event-stream"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg, to_app, from_app, app_inbox, app_outbox:
            tg.start_soon(run_lifespan)
            await to_app.send({"type": "lifespan.startup"})
            assert (await from_app.receive())["type"] == "lifespan.startup.complete"
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://mcp.test") as http:
                response = await http.post("/mcp", json={}, headers=headers)
            await to_app.send({"type": "lifespan.shutdown"})
            assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"
    return response.status_code


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
async def test_a_loopback_bind_refuses_a_foreign_host_header(host: str) -> None:
    assert await status_with_host(host, "evil.example") == 421
    assert await status_with_host(host, "evil.example:8000") == 421
    assert await status_with_host(host, "localhost:8000") != 421


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]"])
async def test_every_loopback_spelling_refuses_a_foreign_host_header(host: str) -> None:
    assert await status_with_host(host, "evil.example") == 421


async def test_a_public_bind_with_allowed_hosts_checks_the_bearer_first_then_the_host() -> None:
    public = "0.0.0.0"  # noqa: S104
    allowed = ["mcp.example.com"]

    async def door(host_header: str, bearer: str | None) -> int:
        return await status_with_host(public, host_header, token=HTTP_TOKEN, bearer=bearer, allowed_hosts=allowed)

    assert await door("evil.example", None) == 401
    assert await door("mcp.example.com", "wrong") == 401
    assert await door("evil.example", HTTP_TOKEN) == 421
    assert await door("mcp.example.com", HTTP_TOKEN) not in (401, 421)
    assert await door("mcp.example.com:443", HTTP_TOKEN) not in (401, 421)
