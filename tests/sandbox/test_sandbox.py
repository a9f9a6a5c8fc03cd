"""The LOX24 sandbox API over real loopback HTTP: auth, formats, filters, batch operations and faults."""

from __future__ import annotations

import gc
import logging
import re
import sqlite3
import ssl
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lox24_mcp.sandbox import DEMO_TOKEN, Faults, RecordedRequest, SandboxServer, SandboxState
from lox24_mcp.sandbox.filters import QueryError, parse_sms_query

AUTH = {"X-LOX24-AUTH-TOKEN": DEMO_TOKEN}
LD = {"Accept": "application/ld+json"}
NOW = 1_700_000_000
ERROR_TYPE = "https://tools.ietf.org/html/rfc2616#section-10"
#: Built once: loading the CA bundle for every new client costs more than the requests themselves.
TLS = ssl.create_default_context()


class FakeClock:
    """A settable clock for the auth lock-out."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def api(server: SandboxServer, **headers: str) -> httpx2.Client:
    return httpx2.Client(base_url=server.url, headers={**AUTH, **headers}, timeout=5.0, verify=TLS)


def labels(items: list[dict[str, Any]]) -> set[str]:
    """The catalog's SMS are told apart by the label before the colon in their text."""
    return {item["text"].split(":", 1)[0] for item in items}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    """A fresh seeded sandbox, for tests that change data."""
    with SandboxServer(SandboxState()) as running:
        yield running


@pytest.fixture
def blank() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(seed_demo_data=False)) as running:
        yield running


@pytest.fixture(scope="module")
def catalog() -> Iterator[SandboxServer]:
    """Five SMS with distinct attributes, read-only, for the filter tests.

    A pending DE, B sent AT, C pending unicode CH, D sent two-part FR (DLR 16), E cancelled ES.
    """
    state = SandboxState(seed_demo_data=False, clock=FakeClock())
    state.add_sms(
        phone="+4915100000001",
        text="A: Hello Anna",
        sender_id="Shop",
        delivery_at=NOW + 3600,
        callback_data="c1",
        bulk_id="b1",
        source=1,
        key_id=1,
        ip="10.0.0.1",
        created_at=NOW - 300,
    )
    state.add_sms(
        phone="+436640000002",
        text="B: hello Bert Müller",
        sender_id="Other",
        callback_data="c2",
        bulk_id="b1",
        source=2,
        key_id=2,
        ip="10.0.0.2",
        created_at=NOW - 200,
    )
    state.add_sms(phone="+41790000003", text="C: Grüße 🎉", delivery_at=NOW + 7200, source=3, created_at=NOW - 100)
    state.add_sms(phone="+33600000004", text="D: " + "x" * 197, dlr_code=16, created_at=NOW - 100)
    state.add_sms(phone="+34600000005", text="E: gone", status_code=6000, delivery_at=NOW - 50, created_at=NOW - 400)
    with SandboxServer(state) as running:
        yield running


@pytest.fixture(scope="module")
def catalog_http(catalog: SandboxServer) -> Iterator[httpx2.Client]:
    """One client for the many catalog cases: building an httpx2 client costs more than a request."""
    with api(catalog) as http:
        yield http


# --------------------------------------------------------------------------- server, auth, headers


def test_start_is_bounded_and_stop_is_idempotent() -> None:
    sandbox = SandboxServer(SandboxState(seed_demo_data=False))
    assert sandbox.start() is sandbox and re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.url)
    with api(sandbox) as http:
        assert http.get("/groups").json() == []
    sandbox.stop()
    sandbox.stop()
    with pytest.raises(httpx2.ConnectError), api(sandbox) as http:
        http.get("/groups")


def test_whoever_creates_a_state_closes_it_and_nothing_is_left_for_the_collector() -> None:
    """The SQLite connection is closed by whoever created the state, not by the garbage collector (on 3.13 an
    unclosed connection is a ResourceWarning, and the suite turns warnings into errors)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        own = SandboxServer()  # creates its state, so closes it
        with own:
            assert own.state.all_sms(), "served and readable while running"
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            own.state.all_sms()
        own.stop()  # idempotent, closed store and all
        with SandboxState(seed_demo_data=False) as given:
            with SandboxServer(given) as server:
                server.state.add_group("G")
            assert [g["name"] for g in given.groups()] == ["G"], "a state passed in outlives its server"
            with SandboxServer(given) as again:
                assert again.state.groups(), "and can be served again"
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            given.groups()
        del own, server, again, given
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_a_server_that_cannot_bind_closes_the_state_it_created() -> None:
    with SandboxServer() as first:
        port = int(first.url.rsplit(":", 1)[1])
        second = SandboxServer(port=port)
        with pytest.raises(OSError, match="in use"):
            second.start()
        with pytest.raises(sqlite3.ProgrammingError):
            second.state.groups()


def test_every_answer_carries_a_32_character_request_id(catalog: SandboxServer) -> None:
    with api(catalog) as http:
        answers = [http.get("/sms"), http.get("/nowhere"), http.get("/sms", headers={"X-LOX24-AUTH-TOKEN": "1:x"})]
    assert [a.status_code for a in answers] == [200, 404, 401]
    ids = [a.headers["X-LOX24-REQUEST-ID"] for a in answers]
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", i) for i in ids) and len(set(ids)) == 3


def test_a_bad_or_missing_token_is_401_in_both_formats(blank: SandboxServer) -> None:
    with httpx2.Client(base_url=blank.url, timeout=5.0, verify=TLS) as http:
        missing = http.get("/groups")
        wrong = http.get("/groups", headers={"X-LOX24-AUTH-TOKEN": "1000001:nope", **LD})
        legacy = http.get(
            "/groups", headers={"X-LOX24-CLIENT-ID": "1000001", "X-LOX24-AUTH-TOKEN": DEMO_TOKEN.split(":", 1)[1]}
        )
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/json"
    assert missing.json()["type"] == ERROR_TYPE and "API key" in missing.json()["detail"]
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/ld+json"
    assert wrong.json()["@type"] == "hydra:Error" and "API key" in wrong.json()["hydra:description"]
    assert legacy.status_code == 200, "the legacy two-header form is accepted"


def test_four_failed_logins_within_a_minute_block_the_ip_for_ten_minutes() -> None:
    clock = FakeClock()
    with SandboxServer(SandboxState(seed_demo_data=False, clock=clock)) as sandbox, api(sandbox) as http:
        bad = {"X-LOX24-AUTH-TOKEN": "1000001:wrong"}
        assert [http.get("/groups", headers=bad).status_code for _ in range(4)] == [401] * 4
        blocked = http.get("/groups")
        assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "600"
        assert "blocked" in blocked.json()["detail"]
        clock.now += 599
        assert http.get("/groups").status_code == 429
        assert http.get("/groups").headers["Retry-After"] == "1"
        clock.now += 1
        assert http.get("/groups").status_code == 200


def test_failed_logins_spread_over_more_than_a_minute_do_not_block() -> None:
    clock = FakeClock()
    with SandboxServer(SandboxState(seed_demo_data=False, clock=clock)) as sandbox, api(sandbox) as http:
        bad = {"X-LOX24-AUTH-TOKEN": "1000001:wrong"}
        for _ in range(3):
            assert http.get("/groups", headers=bad).status_code == 401
        clock.now += 61
        assert http.get("/groups", headers=bad).status_code == 401
        assert http.get("/groups").status_code == 200


# --------------------------------------------------------------------------- formats


def test_json_is_a_bare_array_and_json_ld_a_hydra_collection(catalog: SandboxServer) -> None:
    with api(catalog) as http:
        plain = http.get("/sms")
        linked = http.get("/sms", headers=LD)
    assert plain.headers["content-type"] == "application/json"
    assert isinstance(plain.json(), list) and len(plain.json()) == 5
    first = plain.json()[0]
    assert first["requests"] == f"/sms/{first['uuid']}/requests" and first["clicks"] == f"/sms/{first['uuid']}/clicks"
    data = linked.json()
    assert linked.headers["content-type"] == "application/ld+json"
    assert (data["@context"], data["@id"], data["@type"]) == ("/contexts/sms", "/sms", "hydra:Collection")
    assert data["hydra:totalItems"] == 5 and len(data["hydra:member"]) == 5
    member = data["hydra:member"][0]
    assert member["@id"] == f"/sms/{member['uuid']}" and member["@type"] == "sms"
    assert {k: v for k, v in member.items() if not k.startswith("@")} == first


def test_json_ld_without_the_hydra_prefix_uses_api_platform_3_keys() -> None:
    state = SandboxState(hydra_prefix=False)
    with SandboxServer(state) as sandbox, api(sandbox, Accept="application/ld+json") as http:
        sms = http.get("/sms").json()
        groups = http.get("/groups").json()
        error = http.get("/sms?nope=1").json()
        stored = len(state.all_sms())
    assert "hydra:member" not in sms and sms["totalItems"] == stored == len(sms["member"])
    assert sms["@type"] == "Collection" and sms["view"]["first"] == "/sms?page=1"
    assert [g["name"] for g in groups["member"]] == ["VIP customers", "Newsletter", "Staff"]
    assert error["@type"] == "Error" and error["description"].startswith("nope:")


def test_sms_fields_are_derived_like_lox24(catalog: SandboxServer) -> None:
    with api(catalog) as http:
        items = {s["text"].split(":")[0]: s for s in http.get("/sms").json()}
    a, b, c, d, e = (items[k] for k in "ABCDE")
    assert (a["iso2"], b["iso2"], c["iso2"], d["iso2"], e["iso2"]) == ("DE", "AT", "CH", "FR", "ES")
    assert (a["is_sent"], a["status_code"], a["dlr_code"], a["gateway_sent_at"]) == (False, 0, 0, 0)
    assert (b["is_sent"], b["status_code"], b["dlr_code"], b["gateway_sent_at"]) == (True, 100, 1, NOW - 200)
    assert c["is_unicode"] is True and a["is_unicode"] is False and b["is_unicode"] is False
    assert (d["chars_count"], d["parts_count"], d["price"]) == (200, 2, 0.112)
    assert (e["status_code"], e["is_sent"]) == (6000, False)
    assert a["service_code"] == "direct" and a["voice_lang"] is None and a["is_text_deleted"] is False


# --------------------------------------------------------------------------- filters

ALL = {"A", "B", "C", "D", "E"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL),
        ("iso2=DE", {"A"}),
        ("iso2[]=DE&iso2[]=AT", {"A", "B"}),
        ("iso2%5B%5D=DE&iso2%5B%5D=CH", {"A", "C"}),
        ("dlr_code=1", {"B"}),
        ("dlr_code[]=1&dlr_code[]=16", {"B", "D"}),
        ("status_code=6000", {"E"}),
        ("status_code[]=0&status_code[]=6000", {"A", "C", "E"}),
        ("bulk=b1", {"A", "B"}),
        ("source=2", {"B"}),
        ("source[]=1&source[]=3", {"A", "C"}),
        ("key_id=2", {"B"}),
        ("key_id%5B%5D=1&key_id%5B%5D=2", ALL),
        ("callback_data=c1", {"A"}),
        ("callback_data[]=c1&callback_data[]=c2", {"A", "B"}),
        (f"created_at={NOW - 100}", {"C", "D"}),
        (f"created_at[]={NOW - 100}&created_at[]={NOW - 400}", {"C", "D", "E"}),
        (f"delivery_at={NOW + 3600}", {"A"}),
        (f"gateway_sent_at={NOW - 200}", {"B"}),
        ("chars_count=200", {"D"}),
        ("parts_count=2", {"D"}),
        (f"created_at[gt]={NOW - 200}", {"C", "D"}),
        (f"created_at[gte]={NOW - 200}", {"B", "C", "D"}),
        (f"created_at[lt]={NOW - 300}", {"E"}),
        (f"created_at[lte]={NOW - 300}", {"A", "E"}),
        (f"created_at[between]={NOW - 300}..{NOW - 200}", {"A", "B"}),
        (f"created_at%5Bbetween%5D={NOW - 300}..{NOW - 200}", {"A", "B"}),
        (f"created_at[gte]={NOW - 300}&created_at[lt]={NOW - 100}", {"A", "B"}),
        (f"delivery_at[gt]={NOW}", {"A", "C"}),
        ("gateway_sent_at[gt]=0", {"B", "D"}),
        ("chars_count[gt]=160", {"D"}),
        ("parts_count[lte]=1", {"A", "B", "C", "E"}),
        ("source[between]=2..3", {"B", "C"}),
        ("text=hello", {"A", "B"}),
        ("text=M%C3%9CLLER", {"B"}),
        ("text=gr%C3%BC%C3%9Fe", {"C"}),
        ("phone=6640000", {"B"}),
        ("phone=%2B4915", {"A"}),
        ("sender_id=SHOP", {"A"}),
        ("ip=10.0.0", {"A", "B"}),
        ("is_sent=true", {"B", "D"}),
        ("is_sent=1", {"B", "D"}),
        ("is_sent=false", {"A", "C", "E"}),
        ("is_sent=0", {"A", "C", "E"}),
        ("is_unicode=1", {"C"}),
        ("is_unicode=FALSE", {"A", "B", "D", "E"}),
        ("is_sent=0&status_code=0&iso2[]=DE&iso2[]=CH&iso2[]=ES", {"A", "C"}),
        ("text=hello&key_id=1", {"A"}),
        ("callback_data=nothing", set()),
    ],
)
def test_filters_select_the_right_sms(catalog_http: httpx2.Client, query: str, expected: set[str]) -> None:
    answer = catalog_http.get(f"/sms?{query}" if query else "/sms")
    assert answer.status_code == 200, answer.text
    assert labels(answer.json()) == expected


def test_uuid_filters_take_one_or_several(catalog: SandboxServer) -> None:
    by_label = {s["text"].split(":")[0]: s["uuid"] for s in catalog.state.all_sms()}
    with api(catalog) as http:
        one = http.get("/sms", params={"uuid": by_label["C"]}).json()
        several = http.get("/sms", params=[("uuid[]", by_label["A"]), ("uuid[]", by_label["E"])]).json()
    assert labels(one) == {"C"} and labels(several) == {"A", "E"}


def test_literal_and_encoded_brackets_reach_the_sandbox_as_sent(catalog: SandboxServer) -> None:
    catalog.state.reset_requests()
    with api(catalog) as http:
        literal = http.get("/sms?iso2[]=DE&iso2[]=AT").json()
        encoded = http.get("/sms?iso2%5B%5D=DE&iso2%5B%5D=AT").json()
    assert labels(literal) == labels(encoded) == {"A", "B"}
    assert [r.query for r in catalog.state.requests] == ["iso2[]=DE&iso2[]=AT", "iso2%5B%5D=DE&iso2%5B%5D=AT"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("phone_country=DE", "phone_country"),
        ("dlr_status[]=1", "dlr_status[]"),
        ("text_length[gt]=3", "text_length[gt]"),
        ("bulk_id=b1", "bulk_id"),
        ("foo=1", "foo"),
        ("iso2=DE&iso2=AT", "iso2"),
        ("iso2=DE&iso2[]=AT", "iso2[]"),
        ("iso2=de", "iso2"),
        ("iso2=", "iso2"),
        ("dlr_code=abc", "dlr_code"),
        ("dlr_code[]=1&dlr_code[]=x", "dlr_code[]"),
        ("created_at[gte]=yesterday", "created_at[gte]"),
        ("created_at[gte]=2024-05-01", "created_at[gte]"),
        ("created_at[gte]=99999999999999999999", "created_at[gte]"),
        ("created_at[gte]=1&created_at[gte]=2", "created_at[gte]"),
        ("created_at[before]=1", "created_at[before]"),
        ("created_at[between]=1-2", "created_at[between]"),
        ("created_at[between]=1..x", "created_at[between]"),
        ("iso2[gt]=DE", "iso2[gt]"),
        ("key_id[gte]=1", "key_id[gte]"),
        ("status_code[between]=0..100", "status_code[between]"),
        ("is_sent=yes", "is_sent"),
        ("is_sent[]=1", "is_sent[]"),
        ("text[]=a", "text[]"),
        ("text=", "text"),
        ("_order[created_at]=up", "_order[created_at]"),
        ("_order[delivery_at]=asc", "_order[delivery_at]"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("page=1&page=2", "page"),
    ],
)
def test_malformed_or_unknown_parameters_are_400_naming_the_parameter(
    catalog_http: httpx2.Client, query: str, parameter: str
) -> None:
    answer = catalog_http.get(f"/sms?{query}")
    linked = catalog_http.get(f"/sms?{query}", headers=LD)
    assert answer.status_code == 400
    assert answer.json()["title"] == "An error occurred"
    assert answer.json()["detail"].startswith(f"{parameter}: "), answer.json()["detail"]
    assert linked.status_code == 400 and linked.json()["hydra:description"] == answer.json()["detail"]


def test_hints_point_to_the_real_lox24_names(catalog: SandboxServer) -> None:
    with api(catalog) as http:
        detail = http.get("/sms?phone_country=DE").json()["detail"]
    assert "iso2" in detail


@pytest.mark.hypothesis
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="=&[]%5BDabcdeirstu_0123456789.-+gtl", max_size=40))
def test_the_query_parser_only_ever_refuses_with_a_query_error(raw: str) -> None:
    try:
        query = parse_sms_query(raw, allow_page=True)
    except QueryError as exc:
        detail, parameter = exc.detail, exc.parameter
    else:
        assert query.where.count("?") == len(query.params) and query.page >= 1
        return
    assert detail.startswith(f"{parameter}: ")


# --------------------------------------------------------------------------- ordering and paging


@pytest.fixture
def paged() -> Iterator[SandboxServer]:
    """Five sent SMS, 1–5, created in that order with gateway times in the reverse order; two per page."""
    clock = FakeClock()
    state = SandboxState(seed_demo_data=False, clock=clock, page_size=2)
    for i in range(1, 6):
        state.add_sms(phone=f"+491510000000{i}", text=f"{i}: hi", created_at=NOW - 100 + i, delivery_at=NOW - i)
    with SandboxServer(state) as running:
        yield running


def _order(http: httpx2.Client, query: str) -> list[str]:
    return [s["text"].split(":")[0] for s in http.get(f"/sms?{query}").json()]


def test_ordering_defaults_to_newest_first_and_follows_order_parameters(paged: SandboxServer) -> None:
    with api(paged) as http:
        assert _order(http, "") == ["5", "4"]
        assert _order(http, "_order[created_at]=asc") == ["1", "2"]
        assert _order(http, "_order%5Bcreated_at%5D=DESC") == ["5", "4"]
        assert _order(http, "_order[gateway_sent_at]=desc") == ["1", "2"]
        assert _order(http, "_order[gateway_sent_at]=asc&page=3") == ["1"]


def test_pages_cover_everything_once_and_json_ld_links_them(paged: SandboxServer) -> None:
    with api(paged) as http:
        pages = [_order(http, f"_order[created_at]=asc&page={n}") for n in (1, 2, 3, 4)]
        view = http.get("/sms?is_sent=1&page=2", headers=LD).json()
    assert pages == [["1", "2"], ["3", "4"], ["5"], []]
    assert view["hydra:totalItems"] == 5 and len(view["hydra:member"]) == 2
    links = view["hydra:view"]
    assert links["@id"] == "/sms?is_sent=1&page=2"
    assert (links["hydra:first"], links["hydra:last"]) == ("/sms?is_sent=1&page=1", "/sms?is_sent=1&page=3")
    assert (links["hydra:previous"], links["hydra:next"]) == ("/sms?is_sent=1&page=1", "/sms?is_sent=1&page=3")


def test_equal_creation_times_are_ordered_by_uuid(blank: SandboxServer) -> None:
    for i in range(6):
        blank.state.add_sms(phone="+4915100000001", text=f"{i}: same second", created_at=NOW)
    with api(blank) as http:
        uuids = [s["uuid"] for s in http.get("/sms").json()]
    assert uuids == sorted(uuids)


# --------------------------------------------------------------------------- batch cancel


def test_batch_cancel_touches_only_unsent_matching_sms_and_sets_6000(server: SandboxServer) -> None:
    state = server.state
    before = {s["uuid"]: s for s in state.all_sms()}
    campaign = {u for u, s in before.items() if s["callback_data"] == "spring-sale" and not s["is_sent"]}
    sent_with_tag = {u for u, s in before.items() if s["callback_data"] == "spring-sale" and s["is_sent"]}
    assert len(campaign) == 5 and len(sent_with_tag) == 1
    with api(server, Accept="application/ld+json") as http:
        first = http.post("/sms/ops/batch_cancel", params={"callback_data": "spring-sale"})
        again = http.post("/sms/ops/batch_cancel", params={"callback_data": "spring-sale"})
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.json() == {"deleted_sms_count": 5} and again.json() == {"deleted_sms_count": 0}
    after = {s["uuid"]: s for s in state.all_sms()}
    assert all(after[u]["status_code"] == 6000 and after[u]["is_sent"] is False for u in campaign)
    assert {u: s for u, s in after.items() if u not in campaign} == {
        u: s for u, s in before.items() if u not in campaign
    }


def test_batch_cancel_with_filters_in_list_and_range_form(server: SandboxServer) -> None:
    state = server.state
    now = state.now()
    with api(server) as http:
        answer = http.post(
            "/sms/ops/batch_cancel",
            params=[("iso2[]", "AT"), ("iso2[]", "CH"), ("is_sent", "0"), ("created_at[lte]", str(now))],
        )
    cancelled = [s for s in state.all_sms() if s["status_code"] == 6000 and s["iso2"] in ("AT", "CH")]
    assert answer.json()["deleted_sms_count"] == len(cancelled) > 0


def test_batch_cancel_without_filters_cancels_every_pending_sms(server: SandboxServer) -> None:
    pending = [s for s in server.state.all_sms() if not s["is_sent"] and s["status_code"] == 0]
    with api(server) as http:
        answer = http.post("/sms/ops/batch_cancel")
    assert answer.json() == {"deleted_sms_count": len(pending)} and len(pending) == 12
    assert not [s for s in server.state.all_sms() if s["status_code"] == 0]


@pytest.mark.parametrize("query", ["page=1", "callback_data=spring-sale&phone_country=DE", "is_sent=maybe"])
def test_a_refused_batch_cancel_cancels_nothing(server: SandboxServer, query: str) -> None:
    before = server.state.all_sms()
    with api(server) as http:
        answer = http.post(f"/sms/ops/batch_cancel?{query}")
    assert answer.status_code == 400 and server.state.all_sms() == before


def test_batch_cancel_refuses_filters_in_the_body(server: SandboxServer) -> None:
    before = server.state.all_sms()
    with api(server) as http:
        answer = http.post("/sms/ops/batch_cancel", json={"callback_data": "spring-sale"})
    assert answer.status_code == 400 and "query string" in answer.json()["detail"]
    assert server.state.all_sms() == before


# --------------------------------------------------------------------------- sending SMS


def test_post_sms_sends_now_or_schedules(blank: SandboxServer) -> None:
    later = blank.state.now() + 3600
    with api(blank) as http:
        sent = http.post("/sms", json={"sender_id": "Shop", "text": "now", "phone": "+4915112345678"})
        scheduled = http.post(
            "/sms",
            json={"sender_id": "Shop", "text": "Ça va? 👋", "phone": "+33612345678", "delivery_at": later},
            headers=LD,
        )
    assert sent.status_code == 201 and sent.json()["is_sent"] is True and sent.json()["status_code"] == 100
    assert sent.json()["gateway_sent_at"] > 0 and sent.json()["ip"] == "127.0.0.1"
    body = scheduled.json()
    assert scheduled.status_code == 201 and body["@context"] == "/contexts/sms" and body["@type"] == "sms"
    assert (body["is_sent"], body["status_code"], body["gateway_sent_at"], body["iso2"]) == (False, 0, 0, "FR")
    assert body["is_unicode"] is True and blank.state.sms(body["uuid"])["delivery_at"] == later


def test_post_sms_validation(blank: SandboxServer) -> None:
    with api(blank) as http:
        invalid = http.post("/sms", json={"sender_id": "Shop", "text": "", "phone": "0151", "callback_data": "x" * 37})
        typed = http.post(
            "/sms", json={"sender_id": "Shop", "text": "hi", "phone": "+4915112345678", "delivery_at": "1"}
        )
        extra = http.post("/sms", json={"sender_id": "Shop", "text": "hi", "phone": "+4915112345678", "to": "x"})
        garbage = http.post("/sms", content=b"{nope", headers={"Content-Type": "application/json"})
    assert invalid.status_code == 422
    paths = [v["propertyPath"] for v in invalid.json()["violations"]]
    assert paths == ["text", "phone", "callback_data"]
    assert all(re.fullmatch(r"[0-9a-f-]{36}", v["code"]) for v in invalid.json()["violations"])
    assert typed.status_code == 400 and "delivery_at" in typed.json()["detail"]
    assert extra.status_code == 400 and '"to"' in extra.json()["detail"]
    assert garbage.status_code == 400
    assert blank.state.all_sms() == []


# --------------------------------------------------------------------------- groups and phones


def test_groups_in_both_formats_and_creation(server: SandboxServer) -> None:
    with api(server) as http:
        plain = http.get("/groups").json()
        created = http.post("/groups", json={"name": "Trial", "description": "from the test"})
        blank_name = http.post("/groups", json={"name": ""})
        linked = http.get("/groups", headers=LD).json()
    assert [(g["name"], g["count_items"]) for g in plain] == [("VIP customers", 4), ("Newsletter", 8), ("Staff", 0)]
    assert set(plain[0]) == {"id", "name", "description", "name_a", "name_b", "name_c", "name_d", "name_e"} | {
        "count_items",
        "deleted_at",
    }
    assert created.status_code == 201 and created.json()["name"] == "Trial" and created.json()["count_items"] == 0
    assert blank_name.status_code == 422 and blank_name.json()["violations"][0]["propertyPath"] == "name"
    assert linked["hydra:totalItems"] == 4 and linked["hydra:member"][-1]["@id"] == f"/groups/{created.json()['id']}"


def test_group_phones_list_in_both_formats_with_pages(server: SandboxServer) -> None:
    newsletter = next(g["id"] for g in server.state.groups() if g["name"] == "Newsletter")
    server.state.page_size = 5
    with api(server) as http:
        first = http.get(f"/groups/{newsletter}/phones").json()
        second = http.get(f"/groups/{newsletter}/phones?page=2").json()
        linked = http.get(f"/groups/{newsletter}/phones", headers=LD).json()
        missing = http.get("/groups/999/phones")
        bad_page = http.get(f"/groups/{newsletter}/phones?page=0")
    assert len(first) == 5 and len(second) == 3
    assert all(isinstance(p["id"], str) for p in first + second)
    assert set(first[0]) == {"id", "phone", "a", "b", "c", "d", "e", "callback_data"} | {
        "subscribed_at",
        "unsubscribed_at",
        "unsubscribe_reason",
    }
    assert linked["hydra:totalItems"] == 8 and linked["hydra:member"][0]["@type"] == "phones"
    assert missing.status_code == 404 and "999" in missing.json()["detail"]
    assert bad_page.status_code == 400


def test_phone_batch_reports_each_item_in_input_order(blank: SandboxServer) -> None:
    group = blank.state.add_group("VIP")
    blank.state.add_phones(group, [{"phone": "+4915100000009"}])
    items: list[Any] = [
        {"phone": "+4915112345678", "a": "Frau", "b": "Müller", "callback_data": "import-1"},  # 0 created
        {"phone": "0151 1234 5679"},  # 1 not E.164
        {"phone": "+4915100000009"},  # 2 already in the group
        {"phone": "+4915112345678"},  # 3 duplicate of 0
        {"phone": "+436641234567", "email": "x@example.com"},  # 4 unknown key
        {"a": "no phone"},  # 5 missing phone
        {"phone": "+4915112345670", "b": "x" * 1531},  # 6 too long
        {"phone": "+4915112345671", "callback_data": None, "e": None},  # 7 created, explicit nulls
        "+4915112345672",  # 8 not an object
    ]
    with api(blank) as http:
        answer = http.post(f"/groups/{group}/phones/batch", json=items)
    assert answer.status_code == 201
    results = answer.json()
    assert [r["status"] for r in results] == [201, 400, 422, 422, 400, 400, 400, 201, 400]
    assert results[0]["body"]["phone"] == "+4915112345678" and isinstance(results[0]["body"]["id"], str)
    assert results[0]["body"]["b"] == "Müller" and results[0]["body"]["callback_data"] == "import-1"
    errors = {i: results[i]["body"] for i in (1, 2, 4, 5, 6)}
    assert all(e["type"] == ERROR_TYPE and e["title"] == "An error occurred" for e in errors.values())
    assert errors[1]["detail"] == "phone: This value is not a valid phone number."
    assert errors[2]["detail"] == "phone: This phone number already exists in the group."
    assert errors[4]["detail"] == "email: This field was not expected."
    assert errors[5]["detail"] == "phone: This value should not be blank."
    assert errors[6]["detail"].startswith("b: This value is too long.")
    stored = {p["phone"]: p for p in blank.state.group_phones(group)}
    assert set(stored) == {"+4915100000009", "+4915112345678", "+4915112345671"}
    assert blank.state.groups()[0]["count_items"] == 3


def test_phone_batch_in_json_ld(blank: SandboxServer) -> None:
    group = blank.state.add_group("VIP")
    with api(blank, Accept="application/ld+json") as http:
        data = http.post(f"/groups/{group}/phones/batch", json=[{"phone": "+4915112345678"}, {"phone": "x"}]).json()
    assert data["@context"] == "/contexts/Batch" and data["@type"] == "hydra:Collection"
    assert data["hydra:totalItems"] == 2
    created, invalid = data["hydra:member"]
    assert created["status"] == 201 and created["body"]["@type"] == "phones" and created["body"]["phone"]
    assert invalid["status"] == 400
    assert invalid["body"] == {
        "@context": "/contexts/Error",
        "@type": "hydra:Error",
        "hydra:title": "An error occurred",
        "hydra:description": "phone: This value is not a valid phone number.",
    }


def test_phone_batch_whole_request_errors(blank: SandboxServer) -> None:
    blank.state.max_batch_items = 3
    group = blank.state.add_group("VIP")
    with api(blank) as http:
        unknown = http.post("/groups/4242/phones/batch", json=[{"phone": "+4915112345678"}])
        not_array = http.post(f"/groups/{group}/phones/batch", json={"phone": "+4915112345678"})
        too_many = http.post(f"/groups/{group}/phones/batch", json=[{"phone": f"+491511234567{i}"} for i in range(4)])
        not_json = http.post(
            f"/groups/{group}/phones/batch", content=b"[{", headers={"Content-Type": "application/json"}
        )
        wrong_method = http.get(f"/groups/{group}/phones/batch")
        not_a_number = http.post("/groups/abc/phones/batch", json=[])
    assert unknown.status_code == 404 and "4242" in unknown.json()["detail"]
    assert not_array.status_code == 400 and too_many.status_code == 413 and not_json.status_code == 400
    assert wrong_method.status_code == 405 and not_a_number.status_code == 404
    assert blank.state.group_phones(group) == []


def test_twenty_thousand_contacts_in_batches_of_500_are_quick(blank: SandboxServer) -> None:
    group = blank.state.add_group("Big")
    started = time.perf_counter()
    with api(blank) as http:
        for batch in range(40):
            chunk = [{"phone": f"+4915{batch:03d}{i:05d}", "a": "Name"} for i in range(500)]
            answer = http.post(f"/groups/{group}/phones/batch", json=chunk)
            assert answer.status_code == 201 and {r["status"] for r in answer.json()} == {201}
        count = http.get("/groups").json()[0]["count_items"]
    assert count == 20_000
    assert time.perf_counter() - started < 8.0


# --------------------------------------------------------------------------- faults


def test_error_fault_answers_before_any_processing(server: SandboxServer) -> None:
    before = server.state.all_sms()
    server.state.faults = Faults(error_rate=1.0)
    with api(server) as http:
        answer = http.post("/sms/ops/batch_cancel", params={"callback_data": "spring-sale"})
        unauthenticated = http.get("/groups", headers={"X-LOX24-AUTH-TOKEN": "bad"})
    assert answer.status_code == 503 and answer.json()["type"] == ERROR_TYPE
    assert "X-LOX24-REQUEST-ID" in answer.headers
    assert unauthenticated.status_code == 503, "faults come before auth"
    assert server.state.all_sms() == before
    assert [r.status for r in server.state.requests[-2:]] == [503, 503]


def test_drop_fault_closes_the_connection_and_processes_nothing(blank: SandboxServer) -> None:
    group = blank.state.add_group("VIP")
    blank.state.faults.drop_rate = 1.0
    with api(blank) as http, pytest.raises(httpx2.TransportError):
        http.post(f"/groups/{group}/phones/batch", json=[{"phone": "+4915112345678"}])
    assert blank.state.wait_idle(5.0)
    assert blank.state.group_phones(group) == []
    recorded = blank.state.requests[-1]
    assert recorded.status == 0 and recorded.path == f"/groups/{group}/phones/batch"
    blank.state.faults.drop_rate = 0.0
    with api(blank) as http:
        assert http.get("/groups").status_code == 200, "the server survives dropped connections"


def test_latency_delays_every_answer(blank: SandboxServer) -> None:
    blank.state.faults.latency = 0.15
    with api(blank) as http:
        started = time.perf_counter()
        answer = http.get("/groups")
        elapsed = time.perf_counter() - started
    assert answer.status_code == 200 and elapsed >= 0.15


def test_a_slow_request_whose_client_gave_up_is_not_processed(server: SandboxServer) -> None:
    before = server.state.all_sms()
    server.state.faults = Faults(slow_rate=1.0, slow_seconds=5.0)
    started = time.perf_counter()
    with (
        httpx2.Client(base_url=server.url, headers=AUTH, timeout=0.2, verify=TLS) as http,
        pytest.raises(httpx2.TimeoutException),
    ):
        http.post("/sms/ops/batch_cancel", params={"callback_data": "spring-sale"})
    assert server.state.wait_idle(5.0)
    assert time.perf_counter() - started < 4.0, "the sandbox notices the disconnect before slow_seconds"
    assert server.state.all_sms() == before and server.state.requests[-1].status == 0


def test_stopping_drops_requests_held_by_faults_without_errors(caplog: pytest.LogCaptureFixture) -> None:
    sandbox = SandboxServer(SandboxState(seed_demo_data=False, faults=Faults(latency=30.0))).start()
    try:
        with (
            httpx2.Client(base_url=sandbox.url, headers=AUTH, timeout=0.2, verify=TLS) as http,
            pytest.raises(httpx2.TimeoutException),
        ):
            http.get("/groups")
    finally:
        started = time.perf_counter()
        sandbox.stop()
    assert time.perf_counter() - started < 1.5, "held requests are dropped, not waited for"
    assert sandbox.state.requests[-1].status == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_slow_request_whose_client_waits_is_processed(server: SandboxServer) -> None:
    server.state.faults = Faults(slow_rate=1.0, slow_seconds=0.1)
    with api(server) as http:
        answer = http.post("/sms/ops/batch_cancel", params={"callback_data": "spring-sale"})
    assert answer.json() == {"deleted_sms_count": 5}


def test_faults_are_deterministic_per_seed_and_limited_to_only_paths() -> None:
    def statuses(faults: Faults, paths: list[str]) -> list[int]:
        with SandboxServer(SandboxState(seed_demo_data=False, faults=faults)) as sandbox, api(sandbox) as http:
            return [http.get(p).status_code for p in paths]

    paths = ["/sms"] * 12
    first = statuses(Faults(error_rate=0.5, seed=7), paths)
    assert first == statuses(Faults(error_rate=0.5, seed=7), paths)
    assert set(first) == {200, 503}
    mixed = statuses(Faults(error_rate=1.0, error_status=502, only_paths=("/sms",)), ["/groups", "/sms", "/sms/x"])
    assert mixed == [200, 502, 502]


# --------------------------------------------------------------------------- recorded requests


def test_requests_are_recorded_raw_and_in_order(blank: SandboxServer) -> None:
    group = blank.state.add_group("VIP")
    blank.state.reset_requests()
    with api(blank) as http:
        http.get("/sms?iso2%5B%5D=DE&text=a+b%26c")
        http.post(f"/groups/{group}/phones/batch", json=[{"phone": "+4915112345678"}])
        http.get("/nowhere")
    first, second, third = blank.state.requests
    assert first == RecordedRequest(
        method="GET",
        path="/sms",
        query="iso2%5B%5D=DE&text=a+b%26c",
        headers=first.headers,
        body=b"",
        status=200,
    )
    assert first.headers["x-lox24-auth-token"] == DEMO_TOKEN
    assert (second.method, second.path, second.status) == ("POST", f"/groups/{group}/phones/batch", 201)
    assert second.body == b'[{"phone":"+4915112345678"}]' and second.query == ""
    assert third.status == 404
    blank.state.reset_requests()
    assert blank.state.requests == []


# --------------------------------------------------------------------------- seed data and direct state access


def test_seed_data_is_relative_to_the_clock() -> None:
    with SandboxState(clock=FakeClock()) as state:
        sms = state.all_sms()
        pending = [s for s in sms if not s["is_sent"] and s["status_code"] == 0]
        campaign = [s for s in pending if s["callback_data"] == "spring-sale"]
        assert len(pending) == 12 and len(campaign) == 5 and len({s["bulk_id"] for s in campaign}) == 1
        assert {s["iso2"] for s in pending} >= {"DE", "AT", "CH", "ES", "FR"}
        assert all(s["delivery_at"] > NOW for s in pending)
        assert len([s for s in sms if s["is_sent"]]) == 6 and [s["status_code"] for s in sms].count(6000) == 1
        assert all(s["created_at"] <= NOW for s in sms)
        assert [g["name"] for g in state.groups()] == ["VIP customers", "Newsletter", "Staff"]


def test_state_helpers_raise_key_error_for_unknown_ids() -> None:
    with SandboxState(seed_demo_data=False) as state:
        with pytest.raises(KeyError):
            state.sms("00000000-0000-0000-0000-000000000000")
        with pytest.raises(KeyError):
            state.group_phones(1)
