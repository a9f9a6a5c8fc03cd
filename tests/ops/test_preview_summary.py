"""Statuses, "pending", and previews that summarise, over the sandbox's demo data (Berlin time)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx2
import pytest
from pydantic import SecretStr

from lox24_mcp.lox24.client import NO_RETRY, Lox24Client
from lox24_mcp.lox24.errors import Lox24ConnectionError
from lox24_mcp.lox24.models import Sms, SmsFilters, SmsPage
from lox24_mcp.lox24.times import day_bounds, local_day, zone_override
from lox24_mcp.ops.cancel import pending_selection
from lox24_mcp.ops.confirm import TokenSigner
from lox24_mcp.ops.present import only_pending, status_word
from lox24_mcp.ops.summary import (
    collect,
    dialog_lines,
    excluded_by,
    lookalikes,
    sample_note,
    summarise,
    summary_lines,
)
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState
from lox24_mcp.sandbox.seed import SPRING_SALE_BULK_ID

pytestmark = pytest.mark.anyio

BERLIN = ZoneInfo("Europe/Berlin")
NOW = 1_796_036_400  # Mon 2026-11-30 14:40 Berlin: the demo data is seeded relative to it


@pytest.fixture(autouse=True)
def berlin() -> Iterator[None]:
    with zone_override(BERLIN):
        yield


@pytest.fixture
def small_pages() -> Iterator[SandboxServer]:
    """The demo data, three SMS to a page, on a fixed clock."""
    with SandboxServer(SandboxState(page_size=3, clock=lambda: NOW)) as server:
        yield server


@pytest.fixture
async def api(small_pages: SandboxServer) -> AsyncIterator[Lox24Client]:
    async with httpx2.AsyncClient(timeout=5.0) as http:
        yield Lox24Client(SecretStr(DEMO_TOKEN), base_url=small_pages.url, http_client=http, retry=NO_RETRY)


def tomorrow() -> dict[str, int]:
    start, end = day_bounds(local_day(NOW) + timedelta(days=1))
    return {"gte": start, "lt": end}


# ----------------------------------------------------------------------------- statuses and pending


def sms(**fields: object) -> Sms:
    return Sms.model_validate({"uuid": "u", **fields})


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"status_code": 0, "is_sent": False, "delivery_at": NOW + 60}, "scheduled"),
        ({"status_code": 0, "is_sent": False, "delivery_at": 0}, "sending"),
        ({"status_code": 0, "is_sent": False, "delivery_at": NOW - 60}, "sending"),
        ({"status_code": 100, "dlr_code": 0, "is_sent": True}, "sent"),
        ({"status_code": 100, "dlr_code": 4, "is_sent": True}, "sent"),
        ({"status_code": 100, "dlr_code": 1, "is_sent": True}, "delivered"),
        ({"status_code": 100, "dlr_code": 8, "is_sent": True}, "undelivered"),
        ({"status_code": 100, "dlr_code": 16, "is_sent": True}, "undelivered"),
        ({"status_code": 6000, "is_sent": False}, "cancelled"),
        ({"status_code": 410, "is_sent": False}, "cancelled"),
        ({"status_code": 3000, "is_sent": False}, "failed"),
        ({"status_code": 208}, "failed"),
        ({"status_code": 7777}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_each_status_code_and_delivery_report_reads_as_one_word(fields: dict[str, object], word: str) -> None:
    assert status_word(sms(**fields), NOW) == word


async def test_pending_is_one_definition_for_search_and_cancel(api: Lox24Client) -> None:
    not_sent = await api.search_sms(SmsFilters(is_sent=False))
    pending = await api.search_sms(only_pending(SmsFilters()))
    cancel_would = await api.search_sms(pending_selection(SmsFilters(), NOW + 1) or SmsFilters())
    # The demo data holds one SMS cancelled yesterday: not sent, but not pending either.
    assert (not_sent.total, pending.total) == (13, 12)
    assert cancel_would.total == pending.total == 12
    every = (await collect(api, SmsFilters())).items
    assert {s.uuid for s in (await collect(api, only_pending(SmsFilters()))).items} == {
        s.uuid for s in every if status_word(s, NOW) == "scheduled"
    }
    assert sorted({status_word(s, NOW) for s in every}) == ["cancelled", "delivered", "scheduled"]


# ----------------------------------------------------------------------------- collecting and counting


async def test_collect_reads_every_page_and_says_when_it_stopped_early(api: Lox24Client) -> None:
    everything = await collect(api, SmsFilters())
    assert len(everything.items) == everything.total == 19
    assert len({s.uuid for s in everything.items}) == 19
    assert not everything.partial
    some = await collect(api, SmsFilters(), limit=7)
    assert (len(some.items), some.total, some.partial) == (7, 19, True)


async def test_the_summary_counts_all_matched_sms_by_day_country_tag_and_text(api: Lox24Client) -> None:
    found = await collect(api, only_pending(SmsFilters()))
    summary = summarise(found.items, found.total)
    assert summary.by_day == {"Tue 2026-12-01": 9, "Mon 2026-12-07": 3}
    assert summary.by_hour is None
    assert summary.by_country == {"DE": 5, "AT": 2, "CH": 2, "FR": 2, "ES": 1}
    assert summary.by_callback_data["spring-sale"] == 5
    assert summary.by_callback_data["(none)"] == 3
    assert next(iter(summary.texts)).startswith("Spring sale: 20% off everything")
    assert summary.texts[next(iter(summary.texts))] == 5
    assert all(len(text) <= 60 for text in summary.texts)
    assert summary.span() == "from Tue 2026-12-01 09:00 +01:00 to Mon 2026-12-07 10:00 +01:00"
    assert summary_lines(summary)[0] == "12 SMS, from Tue 2026-12-01 09:00 +01:00 to Mon 2026-12-07 10:00 +01:00."


async def test_one_day_is_counted_by_hour(api: Lox24Client) -> None:
    found = await collect(api, only_pending(SmsFilters.model_validate({"delivery_at": tomorrow()})))
    summary = summarise(found.items, found.total)
    assert summary.by_hour == {"09:00": 7, "14:00": 2}
    assert summary.span() == "from Tue 2026-12-01 09:00 +01:00 to 14:00"
    assert "By hour: 09:00: 7, 14:00: 2." in summary_lines(summary)


def test_a_partial_summary_says_so_and_immediate_sends_are_not_1970() -> None:
    items = [sms(uuid=str(i), delivery_at=0, iso2="DE", text="Now!", status_code=0) for i in range(3)]
    summary = summarise(items, total=9000)
    assert summary.partial
    assert summary.by_day == {"immediately": 3}
    assert (
        summary_lines(summary)[0] == "9000 SMS, all to be sent immediately. (3 of 9000 read, so the counts are partial)"
    )
    assert sample_note(5, 6) == "sample: 5 of 6 shown"


# ----------------------------------------------------------------------------- look-alikes


async def test_a_tag_that_only_one_reminder_carries_is_noticed(api: Lox24Client) -> None:
    selection = SmsFilters(callback_data="reminder")
    found = await collect(api, only_pending(selection))
    assert found.total == 1
    assert await lookalikes(api, selection, found.items) == [
        "1 more pending SMS with the same text is not included (no callback_data)"
    ]


async def test_a_day_filter_that_leaves_out_part_of_a_campaign_is_noticed(api: Lox24Client) -> None:
    selection = SmsFilters.model_validate({"bulk": SPRING_SALE_BULK_ID, "iso2": ["DE", "AT"]})
    found = await collect(api, only_pending(selection))
    assert found.total == 3
    lines = await lookalikes(api, selection, found.items)
    assert lines == ["2 more pending SMS with the same text are not included (other country)"]


async def test_a_whole_campaign_leaves_no_look_alikes_and_sent_or_cancelled_sms_never_count(api: Lox24Client) -> None:
    # The spring-sale TEST message went out already with the same tag and nearly the same text.
    selection = SmsFilters(callback_data="spring-sale")
    found = await collect(api, only_pending(selection))
    assert await lookalikes(api, selection, found.items) == []


def test_excluded_by_names_the_filters_that_leave_an_sms_out() -> None:
    day = tomorrow()
    item = sms(delivery_at=day["lt"] + 3600, callback_data=None, iso2="AT", text="Hello there", phone="+4366400")
    selection = SmsFilters.model_validate({"delivery_at": day, "callback_data": "x", "iso2": "DE"})
    assert excluded_by(item, selection) == ("other delivery day", "no callback_data", "other country")
    assert excluded_by(item, SmsFilters(key_id=3)) == ("other filters",)


def test_the_dialog_is_short_deterministic_and_quotes_what_people_typed() -> None:
    items = [
        sms(uuid=str(i), delivery_at=NOW + 86_400, iso2="DE", text="Hi\u202e there " * 10, callback_data="t")
        for i in range(4)
    ]
    summary = summarise(items)
    question = f"Cancel {summary.total} scheduled SMS matching {SmsFilters(callback_data='t').summary()}?"
    first = dialog_lines(question, summary, ["1 more pending SMS with the same text is not included (other country)"])
    again = dialog_lines(question, summarise(list(reversed(items))), [first.splitlines()[-2]])
    assert first == again
    lines = first.splitlines()
    assert lines[0] == 'Cancel 4 scheduled SMS matching callback_data="t"?'
    assert lines[-1] == "They will not be sent. This cannot be undone."
    assert len(lines) <= 8
    assert all(len(line) <= 120 for line in lines)
    assert "\u202e" not in first, "a bidi override in an SMS text must not reorder the question"


@pytest.fixture
def no_totals() -> Iterator[SandboxServer]:
    """The demo data, three to a page, with collections that leave `totalItems` out (optional in LOX24's spec)."""
    with SandboxServer(SandboxState(page_size=3, clock=lambda: NOW, omit_totals=True)) as server:
        yield server


async def test_without_totals_collect_counts_the_pages_or_says_it_does_not_know(no_totals: SandboxServer) -> None:
    async with httpx2.AsyncClient(timeout=5.0) as http:
        api = Lox24Client(SecretStr(DEMO_TOKEN), base_url=no_totals.url, http_client=http, retry=NO_RETRY)
        everything = await collect(api, SmsFilters())
        some = await collect(api, SmsFilters(), limit=7)
    assert (len(everything.items), everything.total, everything.partial) == (19, 19, False)
    assert (len(some.items), some.total, some.partial) == (7, None, True)


def test_a_token_lives_its_full_ttl_on_the_host_clock_when_lox24s_clock_is_behind() -> None:
    host = NOW + 3600  # this host runs an hour ahead of LOX24, whose clock bounds the preview
    token, expires_at = TokenSigner(b"k" * 32, ttl=600, clock=lambda: host).mint(
        scope="s", preview_time=NOW, matched=1, valid_from=host
    )
    assert expires_at == host + 600
    assert TokenSigner(b"k" * 32, ttl=600, clock=lambda: host + 599).verify(token, scope="s").preview_time == NOW


async def test_a_failed_look_alike_search_is_said_and_does_not_block_the_preview(api: Lox24Client) -> None:
    real = api.search_sms

    async def failing_text_searches(filters: SmsFilters, *, page: int = 1) -> SmsPage:
        if filters.text is not None:
            raise Lox24ConnectionError("LOX24 could not be reached")
        return await real(filters, page=page)

    api.search_sms = failing_text_searches  # type: ignore[method-assign]
    selection = SmsFilters(callback_data="reminder")
    found = await collect(api, only_pending(selection))
    assert await lookalikes(api, selection, found.items) == [
        "look-alikes were not checked: LOX24 did not answer that search"
    ]
