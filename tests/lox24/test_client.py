"""`Lox24Client` against the real sandbox API over loopback HTTP, and against `httpx2.MockTransport` for what the
sandbox cannot produce. Assertions are on what the server received and on the exceptions callers see."""

from __future__ import annotations

import collections
import json
import logging
import re
import socket
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from lox24_mcp.lox24.client import NO_RETRY, Lox24Client, RetryPolicy
from lox24_mcp.lox24.errors import (
    AuthCooldownError,
    AuthenticationError,
    BadRequestError,
    Lox24APIStatusError,
    Lox24ConnectionError,
    Lox24Error,
    Lox24OutcomeUnknownError,
    Lox24ResponseError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
)
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, RecordedRequest, SandboxServer, SandboxState
from tests.helpers import (
    FAST_RETRY,
    NEEDLES,
    REQUEST_ID,
    assert_actionable,
    assert_clean,
    assert_exception_clean,
    mocked,
    ok_page,
    sequence,
    status,
)
from tests.helpers import (
    PLANTED as SECRET,
)

pytestmark = pytest.mark.anyio

WRONG_TOKEN = "1000001:not-the-sandbox-key"
NOW = 1_795_503_600
ONE_DAY = 86_400


# ----------------------------------------------------------------------------- helpers


@contextmanager
def serve(**options: Any) -> Iterator[SandboxServer]:
    """A sandbox of our own on a free loopback port, for state options the shared fixtures do not set."""
    with SandboxServer(SandboxState(**options)) as server:
        yield server


@asynccontextmanager
async def lox24(
    url: str,
    *,
    token: str = DEMO_TOKEN,
    retry: RetryPolicy = FAST_RETRY,
    http_timeout: float = 5.0,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[Lox24Client]:
    """A client that owns its HTTP connection pool (closed on exit)."""
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    async with Lox24Client(SecretStr(token), base_url=url, retry=retry, timeout=http_timeout, **extra) as client:
        yield client


def pairs(request: RecordedRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.query, keep_blank_values=True)


def sent(server: SandboxServer, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
    return [
        r
        for r in server.state.requests
        if (method is None or r.method == method) and (path is None or r.path.startswith(path))
    ]


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def pending(server: SandboxServer, count: int, *, tag: str, iso2: str = "DE") -> list[str]:
    """`count` SMS scheduled for tomorrow (pending) with callback_data `tag`; their uuids."""
    now = server.state.now()
    return [
        server.state.add_sms(
            phone=f"+49151{1_234_000 + i}",
            text=f"Reminder {i}",
            delivery_at=now + ONE_DAY,
            iso2=iso2,
            callback_data=tag,
            created_at=now - 60,
        )["uuid"]
        for i in range(count)
    ]


# ----------------------------------------------------------------------------- what the server receives


async def test_search_sends_get_sms_with_exactly_the_filter_pairs_and_page(
    sandbox: SandboxServer, client: Lox24Client
) -> None:
    filters = SmsFilters.model_validate(
        {
            "iso2": ["DE", "AT"],
            "created_at": {"gte": "2026-11-24T08:00:00+01:00", "lt": NOW + 3600},
            "is_sent": False,
            "callback_data": "spring sale & more",
            "order_by": "created_at",
            "order": "asc",
        }
    )
    sandbox.state.reset_requests()
    await client.search_sms(filters, page=3)
    (request,) = sandbox.state.requests
    assert (request.method, request.path) == ("GET", "/sms")
    assert pairs(request) == [
        ("callback_data", "spring sale & more"),
        ("iso2[]", "DE"),
        ("iso2[]", "AT"),
        ("created_at[gte]", str(NOW)),
        ("created_at[lt]", str(NOW + 3600)),
        ("is_sent", "0"),
        ("_order[created_at]", "asc"),
        ("page", "3"),
    ]
    assert "iso2%5B%5D=DE" in request.query or "iso2[]=DE" in request.query
    assert "created_at%5Bgte%5D=" in request.query or "created_at[gte]=" in request.query
    assert request.headers["x-lox24-auth-token"] == DEMO_TOKEN
    assert request.headers["accept"] == "application/ld+json"
    assert request.body == b""


async def test_search_without_filters_sends_only_the_page(sandbox: SandboxServer, client: Lox24Client) -> None:
    sandbox.state.reset_requests()
    await client.search_sms(SmsFilters())
    assert [pairs(r) for r in sandbox.state.requests] == [[("page", "1")]]


async def test_search_refuses_page_zero_without_sending(sandbox: SandboxServer, client: Lox24Client) -> None:
    sandbox.state.reset_requests()
    with pytest.raises(ValueError, match="page"):
        await client.search_sms(SmsFilters(), page=0)
    assert sandbox.state.requests == []


async def test_cancel_posts_the_filters_in_the_query_with_no_page_and_no_body(
    sandbox: SandboxServer, client: Lox24Client
) -> None:
    sandbox.state.reset_requests()
    await client.cancel_sms(SmsFilters.model_validate({"callback_data": "x", "status_code": [0, 100]}))
    (request,) = sandbox.state.requests
    assert (request.method, request.path) == ("POST", "/sms/ops/batch_cancel")
    assert pairs(request) == [("callback_data", "x"), ("status_code[]", "0"), ("status_code[]", "100")]
    assert request.headers["x-lox24-auth-token"] == DEMO_TOKEN
    assert request.headers["accept"] == "application/json"
    assert request.body == b""


async def test_add_phones_posts_the_entries_as_a_json_array(empty_sandbox: SandboxServer) -> None:
    group = empty_sandbox.state.add_group("Customers")
    entries = [{"phone": "+4915112345678", "a": "Mr.", "b": "Smith"}, {"phone": "+4915112345679"}]
    async with lox24(empty_sandbox.url) as client:
        await client.add_phones(group, entries)
    (request,) = empty_sandbox.state.requests
    assert (request.method, request.path) == ("POST", f"/groups/{group}/phones/batch")
    assert request.query == ""
    assert json.loads(request.body) == entries
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["x-lox24-auth-token"] == DEMO_TOKEN


async def test_list_groups_asks_for_json_ld_pages(empty_sandbox: SandboxServer) -> None:
    empty_sandbox.state.add_group("Only")
    async with lox24(empty_sandbox.url) as client:
        groups = await client.list_groups()
    assert [g.name for g in groups] == ["Only"]
    (request,) = empty_sandbox.state.requests
    assert (request.method, request.path, pairs(request)) == ("GET", "/groups", [("page", "1")])
    assert request.headers["accept"] == "application/ld+json"


# ----------------------------------------------------------------------------- reading answers


@pytest.mark.parametrize("hydra_prefix", [True, False], ids=["hydra-prefix", "no-prefix"])
async def test_search_reads_json_ld_pages_and_the_total_count(hydra_prefix: bool) -> None:
    with serve(seed_demo_data=False, page_size=2, hydra_prefix=hydra_prefix) as server:
        tagged = pending(server, 5, tag="reminder")
        pending(server, 2, tag="other")
        async with lox24(server.url) as client:
            first = await client.search_sms(SmsFilters(callback_data="reminder"))
            last = await client.search_sms(SmsFilters(callback_data="reminder"), page=3)
            beyond = await client.search_sms(SmsFilters(callback_data="reminder"), page=4)
        stored = server.state.sms(first.items[0].uuid)
    assert (first.total, first.page, len(first.items)) == (5, 1, 2)
    assert (last.total, last.page, len(last.items)) == (5, 3, 1)
    assert (beyond.total, beyond.items) == (5, [])
    assert {s.callback_data for s in first.items + last.items} == {"reminder"}
    assert {s.uuid for s in first.items} <= set(tagged)
    item = first.items[0]
    assert (item.phone, item.text, item.status_code, item.is_sent, item.delivery_at) == (
        stored["phone"],
        stored["text"],
        0,
        False,
        stored["delivery_at"],
    )


async def test_search_total_counts_only_matching_sms(sandbox: SandboxServer, client: Lox24Client) -> None:
    pending(sandbox, 3, tag="only-these-three", iso2="AT")
    page = await client.search_sms(SmsFilters(callback_data="only-these-three", iso2="AT"))
    assert page.total == 3
    assert len(page.items) == 3
    missing = await client.search_sms(SmsFilters(callback_data="only-these-three", iso2="CH"))
    assert (missing.total, missing.items) == (0, [])


@pytest.mark.parametrize("hydra_prefix", [True, False], ids=["hydra-prefix", "no-prefix"])
async def test_list_groups_collects_every_page(hydra_prefix: bool) -> None:
    with serve(seed_demo_data=False, page_size=2, hydra_prefix=hydra_prefix) as server:
        ids = [server.state.add_group(f"Group {i}", description=f"d{i}") for i in range(5)]
        server.state.add_phones(ids[1], [{"phone": "+4915112345678"}, {"phone": "+4915112345679"}])
        async with lox24(server.url) as client:
            groups = await client.list_groups()
        pages = [pairs(r) for r in sent(server, "GET", "/groups")]
    assert [g.id for g in groups] == ids
    assert [g.name for g in groups] == [f"Group {i}" for i in range(5)]
    assert groups[0].description == "d0"
    assert [g.count_items for g in groups] == [0, 2, 0, 0, 0]
    assert pages == [[("page", "1")], [("page", "2")], [("page", "3")]]


async def test_list_groups_of_an_empty_account_is_empty_after_one_request(empty_sandbox: SandboxServer) -> None:
    async with lox24(empty_sandbox.url) as client:
        assert await client.list_groups() == []
    assert len(sent(empty_sandbox, "GET", "/groups")) == 1


async def test_list_groups_stops_at_an_exact_page_boundary() -> None:
    with serve(seed_demo_data=False, page_size=2) as server:
        for i in range(4):
            server.state.add_group(f"G{i}")
        async with lox24(server.url) as client:
            groups = await client.list_groups()
        assert len(groups) == 4
        assert len(sent(server, "GET", "/groups")) == 2


async def test_collections_as_bare_json_arrays_are_read_too() -> None:
    handler, seen = sequence(httpx2.Response(200, json=[{"id": 1, "name": "A"}, {"id": 2, "name": "B"}]))
    async with mocked(handler) as client:
        groups = await client.list_groups()
    assert [g.name for g in groups] == ["A", "B"]
    assert len(seen) == 1


async def test_cancel_returns_lox24s_count_and_stops_only_matching_unsent_sms(
    sandbox: SandboxServer, client: Lox24Client
) -> None:
    now = sandbox.state.now()
    targets = pending(sandbox, 3, tag="black-friday")
    already_sent = sandbox.state.add_sms(
        phone="+4915100000001", text="sent", callback_data="black-friday", created_at=now - 3600
    )["uuid"]
    stopped_earlier = sandbox.state.add_sms(
        phone="+4915100000002",
        text="stopped",
        callback_data="black-friday",
        delivery_at=now + ONE_DAY,
        status_code=410,
        is_sent=False,
    )["uuid"]
    bystanders = pending(sandbox, 2, tag="keep-me")
    count = await client.cancel_sms(SmsFilters(callback_data="black-friday"))
    assert count == 3
    assert [sandbox.state.sms(u)["status_code"] for u in targets] == [6000, 6000, 6000]
    assert sandbox.state.sms(already_sent)["status_code"] == 100
    assert sandbox.state.sms(stopped_earlier)["status_code"] == 410
    assert [sandbox.state.sms(u)["status_code"] for u in bystanders] == [0, 0]
    assert await client.cancel_sms(SmsFilters(callback_data="black-friday")) == 0


@pytest.mark.parametrize("filters", [SmsFilters(), SmsFilters(order_by="created_at")], ids=["none", "order-only"])
async def test_cancel_refuses_an_empty_filter_and_sends_nothing(
    sandbox: SandboxServer, client: Lox24Client, filters: SmsFilters
) -> None:
    before = sandbox.state.all_sms()
    sandbox.state.reset_requests()
    with pytest.raises(ValueError, match="allow_all"):
        await client.cancel_sms(filters)
    assert sandbox.state.requests == []
    assert sandbox.state.all_sms() == before


async def test_cancel_with_allow_all_stops_every_pending_sms(empty_sandbox: SandboxServer) -> None:
    uuids = pending(empty_sandbox, 2, tag="a") + pending(empty_sandbox, 1, tag="b")
    async with lox24(empty_sandbox.url) as client:
        assert await client.cancel_sms(SmsFilters(), allow_all=True) == 3
    (request,) = empty_sandbox.state.requests
    assert (request.method, request.path, request.query) == ("POST", "/sms/ops/batch_cancel", "")
    assert {empty_sandbox.state.sms(u)["status_code"] for u in uuids} == {6000}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"deleted_sms_count": 7}, 7),
        ({"canceled_sms_count": 4}, 4),
        ({"cancelled_sms_count": 0}, 0),
    ],
)
async def test_cancel_reads_the_count_under_each_known_key(body: dict[str, int], expected: int) -> None:
    handler, _ = sequence(httpx2.Response(200, json=body))
    async with mocked(handler) as client:
        assert await client.cancel_sms(SmsFilters(iso2="DE")) == expected


@pytest.mark.parametrize(
    "body",
    [{}, {"deleted_sms_count": True}, {"deleted_sms_count": "3"}, [], {"count": 3}],
    ids=["empty", "bool", "string", "array", "other-key"],
)
async def test_cancel_without_a_readable_count_raises_response_error(body: Any) -> None:
    handler, seen = sequence(status(200, body))
    async with mocked(handler) as client:
        with pytest.raises(Lox24ResponseError) as info:
            await client.cancel_sms(SmsFilters(iso2="DE"))
    assert info.value.request_id == REQUEST_ID
    assert "deleted_sms_count" in str(info.value)
    assert len(seen) == 1


async def test_add_phones_returns_one_result_per_entry_in_input_order(empty_sandbox: SandboxServer) -> None:
    state = empty_sandbox.state
    group = state.add_group("Customers")
    state.add_phones(group, [{"phone": "+4915100000000"}])
    entries = [
        {"phone": "+4915112345678", "a": "Mr.", "b": "Smith"},
        {"phone": "not a number"},
        {"phone": "+4915100000000"},  # already in the group
        {"phone": "+4915112345679", "callback_data": "x" * 37},
        {"phone": "+4915112345679"},
    ]
    async with lox24(empty_sandbox.url) as client:
        results = await client.add_phones(group, entries)
    assert len(results) == len(entries)
    created, invalid, duplicate, too_long, second = results
    assert created.ok and second.ok
    assert (created.status, second.status) == (201, 201)
    assert not invalid.ok and 400 <= invalid.status < 500
    assert not duplicate.ok and 400 <= duplicate.status < 500
    assert not too_long.ok and 400 <= too_long.status < 500
    assert invalid.detail and "phone" in invalid.detail
    assert too_long.detail and "callback_data" in too_long.detail
    assert duplicate.detail and "already exists" in duplicate.detail
    stored = state.group_phones(group)
    assert [p["phone"] for p in stored] == ["+4915100000000", "+4915112345678", "+4915112345679"]
    assert created.phone_id == stored[1]["id"]
    assert second.phone_id == stored[2]["id"]
    assert (stored[1]["a"], stored[1]["b"]) == ("Mr.", "Smith")


async def test_add_phones_answer_that_does_not_account_for_every_entry_is_an_error() -> None:
    handler, _ = sequence(status(201, [{"status": 201, "body": {"id": "1"}}]))
    async with mocked(handler) as client:
        with pytest.raises(Lox24ResponseError) as info:
            await client.add_phones(1, [{"phone": "+4915112345678"}, {"phone": "+4915112345679"}])
    assert "1 results for a batch of 2" in str(info.value)
    assert info.value.request_id == REQUEST_ID


async def test_add_phones_reads_items_without_status_and_json_ld_error_bodies() -> None:
    body = {
        "hydra:member": [
            {"status": 201, "body": {"id": 17}},
            {"status": 422, "body": {"@type": "hydra:Error", "hydra:description": "phone: invalid number"}},
            {"body": {}},
            {"status": 409, "body": None},
        ],
        "hydra:totalItems": 4,
    }
    handler, _ = sequence(status(201, body))
    async with mocked(handler) as client:
        results = await client.add_phones(1, [{"phone": str(i)} for i in range(4)])
    assert [(r.status, r.phone_id, r.detail) for r in results] == [
        (201, "17", None),
        (422, None, "phone: invalid number"),
        (0, None, "LOX24 gave no status for this entry"),
        (409, None, "rejected with HTTP 409"),
    ]


# ----------------------------------------------------------------------------- error mapping: the sandbox


async def test_wrong_token_is_authentication_error_with_request_id(sandbox: SandboxServer) -> None:
    async with lox24(sandbox.url, token=WRONG_TOKEN) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.search_sms(SmsFilters())
    assert type(info.value) is AuthenticationError
    assert_actionable(info.value, 401)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", info.value.request_id or "")
    assert "LOX24_API_TOKEN" in str(info.value)


async def test_unknown_group_is_not_found_error(empty_sandbox: SandboxServer) -> None:
    async with lox24(empty_sandbox.url) as client:
        with pytest.raises(NotFoundError) as info:
            await client.add_phones(424242, [{"phone": "+4915112345678"}])
    assert_actionable(info.value, 404)
    assert "adding phones to group 424242" in str(info.value)
    assert len(empty_sandbox.state.requests) == 1


async def test_filter_the_api_refuses_is_bad_request_error_naming_the_parameter(
    sandbox: SandboxServer, client: Lox24Client
) -> None:
    # Bypass validation to get a value only the API can refuse.
    unchecked = SmsFilters.model_construct(iso2="de")
    sandbox.state.reset_requests()
    with pytest.raises(BadRequestError) as info:
        await client.search_sms(unchecked)
    assert_actionable(info.value, 400)
    assert info.value.detail is not None and "iso2" in info.value.detail
    assert "iso2" in str(info.value)
    assert len(sandbox.state.requests) == 1  # not retried


async def test_batch_over_the_size_limit_is_payload_too_large_error() -> None:
    with serve(seed_demo_data=False, max_batch_items=3) as server:
        group = server.state.add_group("Small")
        async with lox24(server.url) as client:
            with pytest.raises(PayloadTooLargeError) as info:
                await client.add_phones(group, [{"phone": f"+49151123456{i:02d}"} for i in range(4)])
            assert server.state.group_phones(group) == []
            assert len(server.state.requests) == 1
    assert_actionable(info.value, 413)


async def test_ip_lockout_after_repeated_bad_logins_is_rate_limit_error(sandbox: SandboxServer) -> None:
    # Separate clients: each one cools down after its own 401, so each sends exactly one request.
    for _ in range(4):
        async with lox24(sandbox.url, token=WRONG_TOKEN) as client:
            with pytest.raises(AuthenticationError):
                await client.list_groups()
    async with lox24(sandbox.url) as client:  # even the right token is locked out now
        with pytest.raises(RateLimitError) as info:
            await client.list_groups()
    assert_actionable(info.value, 429)
    assert len(sandbox.state.requests) == 5


# ----------------------------------------------------------------------------- error mapping: mocked statuses


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"", b"{not json"])
async def test_success_with_a_body_that_is_not_json_is_response_error(body: bytes) -> None:
    handler, seen = sequence(httpx2.Response(200, content=body, headers={"X-LOX24-REQUEST-ID": REQUEST_ID}))
    async with mocked(handler) as client:
        with pytest.raises(Lox24ResponseError) as info:
            await client.search_sms(SmsFilters())
    assert info.value.request_id == REQUEST_ID
    assert "not JSON" in str(info.value)
    assert len(seen) == 1


@pytest.mark.parametrize("body", [{"items": []}, {"hydra:member": "x"}, "text", 42])
async def test_success_with_an_unexpected_shape_is_response_error(body: Any) -> None:
    handler, _ = sequence(status(200, body))
    async with mocked(handler) as client:
        with pytest.raises(Lox24ResponseError) as info:
            await client.search_sms(SmsFilters())
    assert "unexpected shape" in str(info.value)
    assert info.value.request_id == REQUEST_ID


# ----------------------------------------------------------------------------- retries


async def test_503_is_retried_until_it_succeeds() -> None:
    handler, seen = sequence(status(503), status(503), ok_page({"uuid": "u1"}, total=9))
    async with mocked(handler) as client:
        page = await client.search_sms(SmsFilters(iso2="DE"))
    assert (page.total, [s.uuid for s in page.items]) == (9, ["u1"])
    assert len(seen) == 3
    assert len({str(r.url) for r in seen}) == 1  # the same request each time


async def test_a_429_on_post_is_retried_because_lox24_refused_it_before_any_work() -> None:
    handler, seen = sequence(status(429), httpx2.Response(200, json={"deleted_sms_count": 2}))
    async with mocked(handler) as client:
        assert await client.cancel_sms(SmsFilters(iso2="DE")) == 2
    assert len(seen) == 2


@pytest.mark.parametrize("code", [500, 502, 503, 504])
async def test_any_5xx_to_a_post_is_an_unknown_outcome_and_never_resent(code: int) -> None:
    """A gateway answers 502/504 when LOX24 may already have done the work."""
    handler, seen = sequence(status(code), status(code), httpx2.Response(200, json={"deleted_sms_count": 2}))
    async with mocked(handler) as client:
        with pytest.raises(Lox24OutcomeUnknownError, match=f"HTTP {code}.*not resent") as info:
            await client.cancel_sms(SmsFilters(iso2="DE"))
        with pytest.raises(Lox24OutcomeUnknownError):
            await client.add_phones(7, [{"phone": "+4915112345678"}])
    assert len(seen) == 2, "each POST went out exactly once"
    assert info.value.request_id is not None


async def test_sandbox_work_then_502_is_reported_unknown_and_the_work_is_really_done() -> None:
    with serve(seed_demo_data=False, faults=Faults(after_rate=1.0, only_paths=("/sms/ops",))) as server:
        pending(server, 3, tag="gw")
        async with lox24(server.url) as client:
            with pytest.raises(Lox24OutcomeUnknownError):
                await client.cancel_sms(SmsFilters(callback_data="gw"))
            assert [r.method for r in server.state.requests].count("POST") == 1
            server.state.faults = Faults()
            left = await client.search_sms(SmsFilters(callback_data="gw", status_code=0, is_sent=False))
        assert left.total == 0, "the sandbox carried the cancel out before answering 502"


async def test_a_collection_without_total_reports_none_not_the_page_size() -> None:
    with SandboxServer(SandboxState(seed_demo_data=False, omit_totals=True, page_size=2)) as server:
        pending(server, 5, tag="nt")
        async with lox24(server.url) as client:
            first = await client.search_sms(SmsFilters(callback_data="nt"))
        assert first.total is None and len(first.items) == 2 and first.has_next is True


async def test_sandbox_503s_are_retried_and_attempts_are_bounded() -> None:
    with serve(faults=Faults(error_rate=1.0)) as server:
        async with lox24(server.url) as client:
            with pytest.raises(ServerError) as info:
                await client.list_groups()
            assert len(server.state.requests) == FAST_RETRY.attempts
            assert info.value.status_code == 503
            server.state.faults.error_rate = 0.0
            assert await client.list_groups()
        assert len(server.state.requests) == FAST_RETRY.attempts + 1


async def test_sandbox_occasional_503s_are_absorbed_by_retries() -> None:
    faults = Faults(error_rate=0.5, seed=7, only_paths=("/sms",))
    with serve(seed_demo_data=False, faults=faults) as server:
        pending(server, 3, tag="t")
        retry = RetryPolicy(attempts=20, total_time=5.0, backoff=0.001, max_backoff=0.002)
        async with lox24(server.url, retry=retry) as client:
            for _ in range(5):
                assert (await client.search_sms(SmsFilters(callback_data="t"))).total == 3
        sent_count = len(server.state.requests)
    # Seeded faults: some of the searches needed more than one attempt, and none needed more than 20.
    assert 5 < sent_count < 5 * retry.attempts


@pytest.mark.parametrize("attempts", [1, 2, 5])
async def test_attempts_bound_the_number_of_requests(attempts: int) -> None:
    handler, seen = sequence(status(503))
    retry = RetryPolicy(attempts=attempts, total_time=5.0, backoff=0.001, max_backoff=0.001)
    async with mocked(handler, retry=retry) as client:
        with pytest.raises(ServerError):
            await client.search_sms(SmsFilters())
    assert len(seen) == attempts


@pytest.mark.parametrize("code", [400, 402, 403, 404, 409, 413, 422, 500])
async def test_other_error_statuses_are_not_retried(code: int) -> None:
    handler, seen = sequence(status(code, {"detail": "no"}), ok_page())
    async with mocked(handler) as client:
        with pytest.raises(Lox24APIStatusError) as info:
            await client.search_sms(SmsFilters())
    assert info.value.status_code == code
    assert len(seen) == 1


async def test_sandbox_400_404_and_500_are_not_retried() -> None:
    with serve(seed_demo_data=False, faults=Faults(error_rate=1.0, error_status=500)) as server:
        async with lox24(server.url) as client:
            with pytest.raises(ServerError):
                await client.list_groups()
            assert len(server.state.requests) == 1
            server.state.faults = Faults()
            with pytest.raises(NotFoundError):
                await client.add_phones(999, [{"phone": "+4915112345678"}])
            with pytest.raises(BadRequestError):
                await client.search_sms(SmsFilters.model_construct(text=""))
        assert [r.path for r in server.state.requests] == ["/groups", "/groups/999/phones/batch", "/sms"]


async def test_401_is_not_retried_and_the_cooldown_sends_nothing_until_it_ends(sandbox: SandboxServer) -> None:
    clock = FakeClock()
    async with lox24(sandbox.url, token=WRONG_TOKEN, clock=clock) as client:
        with pytest.raises(AuthenticationError) as first:
            await client.search_sms(SmsFilters())
        assert len(sandbox.state.requests) == 1
        request_id = first.value.request_id
        assert request_id

        clock.now += FAST_RETRY.auth_cooldown - 1
        calls: list[Callable[[], Awaitable[object]]] = [
            client.list_groups,
            lambda: client.search_sms(SmsFilters()),
            lambda: client.cancel_sms(SmsFilters(iso2="DE")),
            lambda: client.add_phones(1, [{"phone": "+4915112345678"}]),
        ]
        for call in calls:
            with pytest.raises(AuthCooldownError) as cooling:
                await call()
            assert isinstance(cooling.value, AuthenticationError)
            assert cooling.value.status_code == 401
            assert cooling.value.request_id == request_id
            assert 0 < cooling.value.seconds_left <= 1
            assert request_id in str(cooling.value)
        assert len(sandbox.state.requests) == 1

        clock.now += 1
        with pytest.raises(AuthenticationError) as again:
            await client.search_sms(SmsFilters())
        assert type(again.value) is AuthenticationError
        assert len(sandbox.state.requests) == 2


async def test_calls_go_out_again_after_the_cooldown() -> None:
    clock = FakeClock()
    handler, seen = sequence(status(401, {"detail": "Invalid credentials"}), ok_page({"id": 1, "name": "G"}))
    async with mocked(handler, clock=clock) as client:
        with pytest.raises(AuthenticationError):
            await client.list_groups()
        with pytest.raises(AuthCooldownError) as cooling:
            await client.list_groups()
        assert cooling.value.seconds_left == pytest.approx(FAST_RETRY.auth_cooldown)
        assert "60 s" in str(cooling.value)
        assert len(seen) == 1
        clock.now += FAST_RETRY.auth_cooldown
        assert [g.name for g in await client.list_groups()] == ["G"]
    assert len(seen) == 2


async def test_cooldown_length_follows_the_policy() -> None:
    clock = FakeClock()
    handler, seen = sequence(status(401), ok_page())
    retry = RetryPolicy(attempts=3, backoff=0.001, auth_cooldown=5.0)
    async with mocked(handler, retry=retry, clock=clock) as client:
        with pytest.raises(AuthenticationError):
            await client.list_groups()
        clock.now += 4.9
        with pytest.raises(AuthCooldownError):
            await client.list_groups()
        clock.now += 0.1
        assert await client.list_groups() == []
    assert len(seen) == 2


async def test_dropped_connection_on_get_is_retried() -> None:
    with serve(seed_demo_data=False, faults=Faults(drop_rate=1.0)) as server:
        async with lox24(server.url) as client:
            with anyio.fail_after(10):
                with pytest.raises(Lox24ConnectionError) as info:
                    await client.list_groups()
            assert type(info.value) is Lox24ConnectionError
            assert len(server.state.requests) == FAST_RETRY.attempts
            server.state.faults.drop_rate = 0.0
            with anyio.fail_after(10):
                assert await client.list_groups() == []


async def test_dropped_connection_on_get_then_success_returns_the_answer() -> None:
    handler, seen = sequence(httpx2.RemoteProtocolError("Server disconnected"), ok_page({"id": 3, "name": "C"}))
    async with mocked(handler) as client:
        assert [g.id for g in await client.list_groups()] == [3]
    assert len(seen) == 2


@pytest.mark.parametrize("operation", ["cancel", "add_phones"])
async def test_dropped_connection_on_post_is_outcome_unknown_after_exactly_one_request(operation: str) -> None:
    with serve(seed_demo_data=False, faults=Faults(drop_rate=1.0)) as server:
        group = server.state.add_group("G")
        async with lox24(server.url) as client:
            call = (
                client.cancel_sms(SmsFilters(iso2="DE"))
                if operation == "cancel"
                else client.add_phones(group, [{"phone": "+4915112345678"}])
            )
            with anyio.fail_after(10), pytest.raises(Lox24OutcomeUnknownError) as info:
                await call
        assert len(server.state.requests) == 1
    assert "not resent" in str(info.value) or "was not resent" in str(info.value)


async def test_read_timeout_on_post_is_outcome_unknown_and_not_resent() -> None:
    faults = Faults(slow_rate=1.0, slow_seconds=2.0)
    with serve(seed_demo_data=False, faults=faults) as server:
        uuids = pending(server, 2, tag="slow")
        async with lox24(server.url, http_timeout=0.3) as client:
            with anyio.fail_after(10), pytest.raises(Lox24OutcomeUnknownError) as info:
                await client.cancel_sms(SmsFilters(callback_data="slow"))
        assert [r.path for r in server.state.requests] == ["/sms/ops/batch_cancel"]
        # The sandbox drops the work of a request whose client has gone, as a slow gateway would.
        assert {server.state.sms(u)["status_code"] for u in uuids} == {0}
    assert isinstance(info.value.__cause__, httpx2.TimeoutException)
    assert "may or may not have been carried out" in str(info.value)


@pytest.mark.parametrize(
    "error",
    [httpx2.ReadTimeout("slow"), httpx2.ReadError("reset"), httpx2.RemoteProtocolError("gone")],
    ids=["read-timeout", "read-error", "protocol-error"],
)
async def test_unanswered_get_is_retried_and_unanswered_post_is_not(error: Exception) -> None:
    handler, seen = sequence(error)
    async with mocked(handler) as client:
        with pytest.raises(Lox24ConnectionError) as info:
            await client.search_sms(SmsFilters())
        assert type(info.value) is Lox24ConnectionError
        assert len(seen) == FAST_RETRY.attempts
        seen.clear()
        with pytest.raises(Lox24OutcomeUnknownError):
            await client.cancel_sms(SmsFilters(iso2="DE"))
        assert len(seen) == 1


@pytest.mark.parametrize(
    "error",
    [httpx2.ConnectError("refused"), httpx2.ConnectTimeout("slow connect"), httpx2.PoolTimeout("pool")],
    ids=["connect-error", "connect-timeout", "pool-timeout"],
)
async def test_failures_before_sending_are_retried_even_for_post(error: Exception) -> None:
    handler, seen = sequence(error, error, httpx2.Response(200, json={"deleted_sms_count": 1}))
    async with mocked(handler) as client:
        assert await client.cancel_sms(SmsFilters(iso2="DE")) == 1
    assert len(seen) == 3


async def test_connection_refused_is_connection_error_and_nothing_is_sent() -> None:
    server = SandboxServer(SandboxState(seed_demo_data=False))
    server.start()
    url, state = server.url, server.state
    server.stop()
    async with lox24(url) as client:
        with anyio.fail_after(10):
            with pytest.raises(Lox24ConnectionError) as info:
                await client.cancel_sms(SmsFilters(iso2="DE"))
    assert type(info.value) is Lox24ConnectionError
    assert "nothing was sent" in str(info.value)
    assert url in str(info.value)
    assert state.requests == []


async def test_a_closed_port_is_connection_error_naming_the_cause() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with lox24(f"http://127.0.0.1:{port}", retry=NO_RETRY) as client:
        with anyio.fail_after(10), pytest.raises(Lox24ConnectionError) as info:
            await client.add_phones(1, [{"phone": "+4915112345678"}])
    assert "ConnectError" in str(info.value)
    assert "nothing was sent" in str(info.value)


async def test_retry_after_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("lox24_mcp.lox24.client.anyio.sleep", fake_sleep)
    handler, seen = sequence(
        status(429, headers={"Retry-After": "3"}), status(503, headers={"Retry-After": "2"}), ok_page()
    )
    async with mocked(handler) as client:
        await client.search_sms(SmsFilters())
    assert len(seen) == 3
    assert waits == [3.0, 2.0]


async def test_retry_after_beyond_the_total_time_gives_up_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("lox24_mcp.lox24.client.anyio.sleep", fake_sleep)
    handler, seen = sequence(status(503, headers={"Retry-After": "6"}), ok_page())
    async with mocked(handler) as client:  # total_time = 5 s
        with pytest.raises(ServerError) as info:
            await client.search_sms(SmsFilters())
    assert len(seen) == 1
    assert waits == []
    assert info.value.request_id == REQUEST_ID


async def test_backoff_grows_and_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("lox24_mcp.lox24.client.anyio.sleep", fake_sleep)
    handler, seen = sequence(status(503))
    retry = RetryPolicy(attempts=6, total_time=100.0, backoff=1.0, max_backoff=4.0)
    async with mocked(handler, retry=retry) as client:
        with pytest.raises(ServerError):
            await client.list_groups()
    assert len(seen) == 6
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0]


async def test_total_time_bounds_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()

    async def fake_sleep(seconds: float) -> None:
        clock.now += seconds

    monkeypatch.setattr("lox24_mcp.lox24.client.anyio.sleep", fake_sleep)
    handler, seen = sequence(status(503))
    retry = RetryPolicy(attempts=100, total_time=10.0, backoff=1.0, max_backoff=4.0)
    async with mocked(handler, retry=retry, clock=clock) as client:
        with pytest.raises(ServerError):
            await client.list_groups()
    # Waits 1 + 2 + 4 = 7 s, then another 4 s would pass the 10 s deadline.
    assert len(seen) == 4
    assert clock.now - 1000.0 == pytest.approx(7.0)


def test_retry_policy_wait_takes_the_larger_of_backoff_and_retry_after() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=3.0)
    assert [policy.wait(n, None) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert policy.wait(1, 2.0) == 2.0
    assert policy.wait(4, 1.0) == 3.0


async def test_client_created_http_pool_is_closed_but_an_injected_one_is_not() -> None:
    handler, _ = sequence(ok_page())
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        async with Lox24Client(SecretStr(DEMO_TOKEN), base_url="http://x", http_client=http) as client:
            await client.list_groups()
        assert not http.is_closed
        assert await Lox24Client(SecretStr(DEMO_TOKEN), base_url="http://x", http_client=http).list_groups() == []
    async with Lox24Client(SecretStr(DEMO_TOKEN), base_url="http://x") as owner:
        assert owner._pool._http is None, "the pool is created on first use, not at start-up"
        own_pool = owner._pool.get()
        assert owner._pool.get() is own_pool
        was_open = not own_pool.is_closed
    assert was_open and own_pool.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        owner._pool.get()


async def test_base_url_loses_its_trailing_slash_and_account_id_is_the_client_id() -> None:
    handler, seen = sequence(ok_page())
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = Lox24Client(SecretStr("7654321:key"), base_url="http://sandbox.test/api/", http_client=http)
        assert client.base_url == "http://sandbox.test/api"
        assert client.account_id == "7654321"
        await client.list_groups()
    assert str(seen[0].url) == "http://sandbox.test/api/groups?page=1"


def corrupt_gzip(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200, content=b"not gzip at all", headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )


async def test_an_answer_that_cannot_be_decoded_on_get_is_a_lox24_error() -> None:
    async with mocked(corrupt_gzip) as client:
        with pytest.raises(Lox24Error):
            await client.list_groups()


async def test_an_answer_that_cannot_be_decoded_on_post_is_outcome_unknown() -> None:
    async with mocked(corrupt_gzip) as client:
        with pytest.raises(Lox24OutcomeUnknownError):
            await client.cancel_sms(SmsFilters(iso2="DE"))


async def test_a_401_on_one_account_does_not_pause_another_sharing_the_pool(sandbox: SandboxServer) -> None:
    """Two accounts through one pool: account A's wrong key pauses A only; B goes on being served."""
    clock = FakeClock()
    async with httpx2.AsyncClient(timeout=5.0) as http:
        root = Lox24Client(None, base_url=sandbox.url, http_client=http, retry=FAST_RETRY, clock=clock)
        wrong = root.with_credentials(SecretStr("1111111:not-the-key"))
        right = root.with_credentials(SecretStr(DEMO_TOKEN))
        with pytest.raises(AuthenticationError):
            await wrong.list_groups()
        with pytest.raises(AuthCooldownError):
            await wrong.list_groups()
        before = len(sandbox.state.requests)
        assert await right.list_groups(), "the other account is served during A's cool-down"
        assert len(sandbox.state.requests) == before + 1
        with pytest.raises(AuthCooldownError):
            await wrong.list_groups()
        await wrong.aclose()  # a view never closes the shared pool
        assert not http.is_closed
        assert await right.list_groups()
        clock.now += FAST_RETRY.auth_cooldown
        with pytest.raises(AuthenticationError) as again:
            await wrong.list_groups()
        assert not isinstance(again.value, AuthCooldownError), "A is tried again once its cool-down is over"


async def test_a_client_without_credentials_only_hands_out_views() -> None:
    async with Lox24Client(None, base_url="http://x") as root:
        with pytest.raises(RuntimeError, match="no credentials"):
            await root.list_groups()
        view = root.with_credentials(SecretStr("7654321:key"))
        assert view.account_id == "7654321"
        assert "key" not in repr(view)


# ----------------------------------------------------------------------------- the token never shows


@pytest.fixture
def secret_sandbox() -> Iterator[SandboxServer]:
    """A sandbox that accepts the planted secret; started before logs are captured (uvicorn configures logging)."""
    with SandboxServer(SandboxState(token=SECRET, seed_demo_data=False)) as server:
        yield server


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture, secret_sandbox: SandboxServer) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, including those that do not propagate to the root logger."""
    for name in ("lox24_mcp", "httpx2", "httpcore2", "uvicorn", "uvicorn.error", "uvicorn.access", "starlette"):
        logging.getLogger(name)
    caplog.set_level(logging.DEBUG)
    isolated: list[logging.Logger] = []
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            isolated.append(logger)
    try:
        yield caplog
    finally:
        for logger in isolated:
            logger.removeHandler(caplog.handler)


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        assert_clean(formatter.format(record), f"log record {record.name}")  # message, args, exc_info, stack
        assert_clean(repr(record.msg), f"log record {record.name} msg")
        assert_clean(repr(record.args), f"log record {record.name} args")
        assert_clean(repr(vars(record)), f"log record {record.name} attributes")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.anyio
async def test_secret_appears_in_no_log_repr_or_exception_on_any_path(
    secret_sandbox: SandboxServer, all_logs: pytest.LogCaptureFixture
) -> None:
    state = secret_sandbox.state
    group = state.add_group("Customers")
    raised: list[BaseException] = []

    async def expect(exc_type: type[Lox24Error], call: Callable[[], Awaitable[object]]) -> None:
        with pytest.raises(exc_type) as info:
            await call()
        raised.append(info.value)

    async with Lox24Client(SecretStr(SECRET), base_url=secret_sandbox.url, retry=FAST_RETRY, timeout=5.0) as client:
        assert_clean(repr(client), "repr(client)")
        assert_clean(str(client), "str(client)")
        assert client.account_id == "7654321"

        # Success: the secret really is what the server received.
        assert (await client.search_sms(SmsFilters(iso2="DE"))).total == 0
        assert await client.cancel_sms(SmsFilters(iso2="DE")) == 0
        assert [g.id for g in await client.list_groups()] == [group]
        assert (await client.add_phones(group, [{"phone": "+4915112345678"}]))[0].ok
        assert {r.headers["x-lox24-auth-token"] for r in state.requests} == {SECRET}

        # 404.
        await expect(NotFoundError, lambda: client.add_phones(group + 1, [{"phone": "+4915112345678"}]))
        # 503 until the attempts run out.
        state.faults = Faults(error_rate=1.0)
        await expect(ServerError, client.list_groups)
        # Dropped connection on a POST: outcome unknown.
        state.faults = Faults(drop_rate=1.0)
        await expect(Lox24OutcomeUnknownError, lambda: client.cancel_sms(SmsFilters(iso2="DE")))
        state.faults = Faults()
        # 401, then the cool-down.
        state.token = DEMO_TOKEN
        await expect(AuthenticationError, client.list_groups)
        await expect(AuthCooldownError, lambda: client.search_sms(SmsFilters()))
        assert_clean(repr(client), "repr(client) after failures")

    # Connection refused.
    async with Lox24Client(SecretStr(SECRET), base_url=closed_port_url(), retry=FAST_RETRY) as refused:
        await expect(Lox24ConnectionError, refused.list_groups)

    assert [type(e) for e in raised] == [
        NotFoundError,
        ServerError,
        Lox24OutcomeUnknownError,
        AuthenticationError,
        AuthCooldownError,
        Lox24ConnectionError,
    ]
    for exc in raised:
        assert_exception_clean(exc)

    # The net was wide enough to catch something from each layer.
    names = {r.name for r in all_logs.records}
    assert "lox24_mcp.lox24.client" in names
    assert "httpx2" in names
    assert any(n.startswith("httpcore2") for n in names)
    assert any(r.levelno == logging.DEBUG for r in all_logs.records)
    assert_logs_clean(all_logs)


@pytest.mark.anyio
async def test_secret_stays_out_of_mocked_error_answers_and_retries(all_logs: pytest.LogCaptureFixture) -> None:
    answers = iter(
        [
            httpx2.Response(429, headers={"Retry-After": "0"}),
            httpx2.Response(422, json={"detail": "bad", "violations": [{"propertyPath": "phone", "message": "x"}]}),
        ]
    )
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return next(answers)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = Lox24Client(SecretStr(SECRET), base_url="http://lox24.test", http_client=http, retry=FAST_RETRY)
        with pytest.raises(Lox24Error) as info:
            await client.add_phones(1, [{"phone": "+4915112345678"}])
    assert [r.headers["X-LOX24-AUTH-TOKEN"] for r in seen] == [SECRET, SECRET]
    assert_exception_clean(info.value)
    assert any("retrying" in r.getMessage() for r in all_logs.records)
    assert_logs_clean(all_logs)


@pytest.mark.anyio
@pytest.mark.parametrize("suffix", ["\n", "\r"], ids=["LF", "CR"])
async def test_a_token_with_a_line_break_fails_as_lox24_error_without_echoing_the_token(
    secret_sandbox: SandboxServer, suffix: str
) -> None:
    async with Lox24Client(SecretStr(SECRET + suffix), base_url=secret_sandbox.url, retry=FAST_RETRY) as client:
        with pytest.raises(Lox24Error) as info:
            await client.list_groups()
    assert_exception_clean(info.value)


class _CountingSecret(SecretStr):
    """A `SecretStr` that counts how often it is unwrapped."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.unwrapped = 0

    def get_secret_value(self) -> str:
        self.unwrapped += 1
        return super().get_secret_value()


def plain_copies(root: object, needles: tuple[str, ...]) -> list[str]:
    """Every path from `root` (attributes, containers) to a str or bytes that holds one of `needles`.

    `SecretStr` values are not opened: holding the token wrapped is the point.
    """
    found: list[str] = []
    seen: set[int] = set()
    todo: list[tuple[object, str, int]] = [(root, "client", 0)]
    while todo:
        obj, path, depth = todo.pop()
        if id(obj) in seen or depth > 12:
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes):
            text = obj.decode("latin-1") if isinstance(obj, bytes) else obj
            found += [path for needle in needles if needle in text]
            continue
        if isinstance(obj, SecretStr | type | types.ModuleType | types.FunctionType | types.MethodType):
            continue
        if isinstance(obj, dict):
            todo += [(k, f"{path}.key", depth + 1) for k in obj]
            todo += [(v, f"{path}[{k!r}]", depth + 1) for k, v in obj.items()]
            continue
        if isinstance(obj, list | tuple | set | frozenset | collections.deque):
            todo += [(v, f"{path}[]", depth + 1) for v in obj]
            continue
        attributes = dict(getattr(obj, "__dict__", {}))
        for slot in getattr(type(obj), "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                attributes[slot] = getattr(obj, slot)
        todo += [(v, f"{path}.{k}", depth + 1) for k, v in attributes.items()]
    return found


async def test_the_token_is_held_wrapped_and_unwrapped_only_to_send_each_request() -> None:
    """The client unwraps the token only while it sends a request and keeps no plain copy anywhere it can
    reach, before or after requests, in views sharing its pool too."""
    token, other = _CountingSecret(SECRET), _CountingSecret("7654322:OTHER-SECRET-def456")
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return ok_page()

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = Lox24Client(token, base_url="http://lox24.test", http_client=http, retry=FAST_RETRY)
        view = client.with_credentials(other)
        created = (token.unwrapped, other.unwrapped)  # reading the public account id may unwrap, keeping nothing
        for holder in (client, view):
            assert plain_copies(holder, (*NEEDLES, "OTHER-SECRET")) == []
        await client.list_groups()
        await client.search_sms(SmsFilters(iso2="DE"))
        await view.list_groups()
        sent = [r.headers["x-lox24-auth-token"] for r in seen]
        assert sent == [SECRET, SECRET, other.get_secret_value()]
        # At least once per request sent (and once by this test): the header comes from the wrapped token each
        # time, not from a plain copy made earlier.
        assert token.unwrapped >= created[0] + 2 and other.unwrapped >= created[1] + 2
        for holder in (client, view):
            assert plain_copies(holder, (*NEEDLES, "OTHER-SECRET")) == [], "no plain copy is kept after sending"
        assert plain_copies(seen[0], NEEDLES), "the control: the search does see a plain token where there is one"
