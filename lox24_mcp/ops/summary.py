"""Previews that summarise: what a selection of SMS holds, and which look-alikes it leaves out.

A cancel preview that shows five SMS out of 400 hides what matters: that they go out over three days,
that one country dominates, that two different texts are mixed in. `collect` pages through everything
that matched (bounded by `MAX_COUNTED`), `summarise` counts it by local delivery day (and hour, when all
go out on one day), country, `callback_data` and text, and `lookalikes` finds pending SMS the selection
leaves out that look like the same campaign: the same text start, the same bulk or the same
`callback_data`. That is how a model notices that only one of three reminders carried the tag.

Plain code: no `mcp`. The MCP layer renders `Summary` into its results and `dialog_lines` into a question.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import ValidationError

from lox24_mcp.lox24 import times
from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import Lox24Error
from lox24_mcp.lox24.models import MAX_LIST, Sms, SmsFilters, SmsPage, TimeRange
from lox24_mcp.ops.present import is_pending, only_pending, printable, short_text

logger = logging.getLogger(__name__)

#: At most this many matched SMS are read for a summary; beyond it the summary says it is partial.
MAX_COUNTED = 5_000
#: Pages read at once while collecting.
CONCURRENT_PAGES = 4
#: Characters of a text that make "the same text start" (long enough to tell campaigns apart).
TEXT_START = 30
#: A shorter text start (e.g. "Hi") says nothing about a campaign.
MIN_TEXT_START = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: At most this many look-alike SMS are read per criterion.
MAX_LOOKALIKES = 500
#: The first characters of each text a summary lists.
TEXT_SHOWN = 60
NO_TAG = "(none)"


@dataclass(frozen=True)
class Collected:
    """The SMS that matched, as far as they were read."""

    items: tuple[Sms, ...]
    #: LOX24's count; without one from LOX24, the count of all pages read, or None if `limit` stopped the reading.
    total: int | None

    @property
    def partial(self) -> bool:
        """True when more matched than were read (or nobody knows how many matched)."""
        return self.total is None or len(self.items) < self.total


async def collect(
    client: Lox24Client, filters: SmsFilters, *, limit: int = MAX_COUNTED, first: SmsPage | None = None
) -> Collected:
    """Every SMS matching `filters`, up to `limit`, paging through `GET /sms` a few pages at a time.

    LOX24's page size is not documented, so the first page tells it (`first`: page 1, if the caller
    has read it already). SMS that appear on two pages (the postbox changed while paging) are counted
    once. Where LOX24 gives no total (optional in its spec), pages are read one after another until
    the last; `total` is then their count, or None when `limit` stopped the reading first.

    Raises:
        Lox24Error: a page could not be read.
    """
    if first is None:
        first = await client.search_sms(filters, page=1)
    items: dict[str, Sms] = {s.uuid: s for s in first.items}
    size = len(first.items)
    if first.total is None:
        return await _collect_uncounted(client, filters, first, items, limit)
    wanted = min(first.total, limit)
    if size == 0 or len(items) >= wanted:
        return Collected(tuple(list(items.values())[:limit]), first.total)
    last_page = -(-wanted // size)
    pages: dict[int, list[Sms]] = {}
    limiter = anyio.Semaphore(CONCURRENT_PAGES)

    async def read(number: int) -> None:
        async with limiter:
            pages[number] = (await client.search_sms(filters, page=number)).items

    async with anyio.create_task_group() as group:
        for number in range(2, last_page + 1):
            group.start_soon(read, number)
    for number in sorted(pages):
        for sms in pages[number]:
            items.setdefault(sms.uuid, sms)
    return Collected(tuple(list(items.values())[:limit]), first.total)


async def _collect_uncounted(
    client: Lox24Client, filters: SmsFilters, first: SmsPage, items: dict[str, Sms], limit: int
) -> Collected:
    page, number = first, 1

    def more(page: SmsPage) -> bool:
        return bool(page.items) and (
            page.has_next if page.has_next is not None else len(page.items) >= len(first.items)
        )

    while more(page):
        if len(items) >= limit:
            return Collected(tuple(list(items.values())[:limit]), None)
        number += 1
        page = await client.search_sms(filters, page=number)
        for sms in page.items:
            items.setdefault(sms.uuid, sms)
    return Collected(tuple(items.values()), len(items))


# ----------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Summary:
    """What a selection holds. Counts are over `counted` SMS; `total` is LOX24's count."""

    total: int
    counted: int
    by_day: dict[str, int]
    by_hour: dict[str, int] | None
    by_country: dict[str, int]
    by_callback_data: dict[str, int]
    texts: dict[str, int]
    first_delivery: int | None
    last_delivery: int | None
    immediate: int = 0

    @property
    def partial(self) -> bool:
        return self.counted < self.total

    def span(self) -> str:
        """`"Tue 2026-12-01 09:00 +01:00 to 14:00"`-style time span of the scheduled sends."""
        if self.first_delivery is None or self.last_delivery is None:
            return "all to be sent immediately" if self.immediate else "no send times"
        first = times.format_local(self.first_delivery)
        if self.first_delivery == self.last_delivery:
            text = f"at {first}"
        else:
            last = times.format_local(self.last_delivery)
            same_day = first[:14] == last[:14]
            text = f"from {first} to {last[15:20] if same_day else last}"
        return text + (f" ({self.immediate} immediately)" if self.immediate else "")


def _ranked(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def summarise(items: Sequence[Sms], total: int | None = None) -> Summary:
    """Count `items` by local delivery day (hour, when one day), country, callback_data and text start.

    Send time 0 ("immediately") counts as its own day, `immediately`.
    """
    days: Counter[str] = Counter()
    hours: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    texts: Counter[str] = Counter()
    scheduled = [s.delivery_at for s in items if s.delivery_at]
    for sms in items:
        if sms.delivery_at:
            stamp = times.format_local(sms.delivery_at)
            days[stamp[:14]] += 1
            hours[stamp[15:18] + "00"] += 1
        else:
            days["immediately"] += 1
        countries[sms.iso2 or "?"] += 1
        tags[sms.callback_data or NO_TAG] += 1
        texts[short_text(sms.text, TEXT_SHOWN)] += 1
    return Summary(
        total=len(items) if total is None else total,
        counted=len(items),
        by_day=_ranked(days),
        by_hour=dict(sorted(hours.items())) if len(days) == 1 and scheduled else None,
        by_country=_ranked(countries),
        by_callback_data=_ranked(tags),
        texts=_ranked(texts),
        first_delivery=min(scheduled) if scheduled else None,
        last_delivery=max(scheduled) if scheduled else None,
        immediate=len(items) - len(scheduled),
    )


def sample_note(shown: int, total: int) -> str:
    """`"sample: 5 of 6 shown"`."""
    return f"sample: {shown} of {total} shown"


def _quote(text: str, limit: int = 50) -> str:
    return '"' + short_text(printable(text), limit) + '"'


def summary_lines(summary: Summary, *, groups: int = 3) -> list[str]:
    """The summary as a few sentences: how many, over what time, and the largest groups."""
    lines = []
    counted = f"{summary.counted} of {summary.total} read, so the counts are partial" if summary.partial else ""
    lines.append(f"{summary.total} SMS, {summary.span()}." + (f" ({counted})" if counted else ""))

    def top(label: str, counts: dict[str, int], quote: bool = False) -> None:
        if not counts:
            return
        shown = [f"{_quote(k) if quote else k}: {v}" for k, v in list(counts.items())[:groups]]
        more = len(counts) - groups
        lines.append(f"{label}: " + ", ".join(shown) + (f" (+{more} more)" if more > 0 else "") + ".")

    if summary.by_hour and len(summary.by_hour) > 1:
        top("By hour", summary.by_hour)
    elif not summary.by_hour:
        top("By day", summary.by_day)
    top("By country", summary.by_country)
    if set(summary.by_callback_data) != {NO_TAG}:
        top("By callback_data", summary.by_callback_data, quote=True)
    top("Texts", summary.texts, quote=True)
    return lines


# ----------------------------------------------------------------------------- look-alikes


@dataclass
class _Left:
    relation: str
    reasons: tuple[str, ...]
    uuids: set[str] = field(default_factory=set)


def _in_time(value: int | None, wanted: int | list[int] | TimeRange) -> bool:
    if value is None:
        return False
    if isinstance(wanted, TimeRange):
        return all(
            {"gt": value > b, "gte": value >= b, "lt": value < b, "lte": value <= b}[op] for op, b in wanted.bounds()
        )
    return value in (wanted if isinstance(wanted, list) else [wanted])


def _one_of(value: Any, wanted: Any) -> bool:
    values = wanted if isinstance(wanted, list) else [wanted]
    return value is not None and str(value).upper() in {str(v).upper() for v in values}


def excluded_by(sms: Sms, filters: SmsFilters) -> tuple[str, ...]:
    """Why `filters` leave `sms` out, as far as the fields LOX24 returns tell; `("other filters",)` if not."""
    reasons: list[str] = []
    if filters.delivery_at is not None and not _in_time(sms.delivery_at, filters.delivery_at):
        reasons.append("other delivery day" if isinstance(filters.delivery_at, TimeRange) else "other send time")
    if filters.callback_data is not None and not _one_of(sms.callback_data, filters.callback_data):
        reasons.append("no callback_data" if not sms.callback_data else "other callback_data")
    if filters.iso2 is not None and not _one_of(sms.iso2, filters.iso2):
        reasons.append("other country")
    if filters.bulk is not None and not _one_of(sms.bulk_id, filters.bulk):
        reasons.append("other bulk")
    if filters.uuid is not None and not _one_of(sms.uuid, filters.uuid):
        reasons.append("not among the uuids")
    if filters.text is not None and filters.text.casefold() not in sms.text.casefold():
        reasons.append("other text")
    if filters.phone is not None and filters.phone not in sms.phone:
        reasons.append("other number")
    if filters.sender_id is not None and filters.sender_id.casefold() not in (sms.sender_id or "").casefold():
        reasons.append("other sender")
    if filters.created_at is not None and not _in_time(sms.created_at, filters.created_at):
        reasons.append("other creation time")
    return tuple(reasons) or ("other filters",)


def _alike(sms: Sms, criterion: SmsFilters) -> bool:
    """LOX24 matches text anywhere; a look-alike starts the same way (and is not matched by accident)."""
    if criterion.text is not None:
        return sms.text.startswith(criterion.text)
    if criterion.bulk is not None:
        return _one_of(sms.bulk_id, criterion.bulk)
    return _one_of(sms.callback_data, criterion.callback_data)


async def lookalikes(
    client: Lox24Client,
    selection: SmsFilters,
    matched: Sequence[Sms],
    *,
    max_texts: int = 3,
) -> list[str]:
    """One line per kind of pending SMS the selection leaves out that look like the same campaign.

    "Look like": the same text start (first `TEXT_START` characters), the same bulk, or the same
    callback_data as SMS in `matched`. E.g. `3 more pending SMS with the same text are not included
    (other delivery day)`. A few requests: one per distinct text start (at most `max_texts`), one for the
    bulks, one for the callback_data values.

    A search that fails gives one line saying look-alikes were not checked (the preview still stands).
    """
    seen = {s.uuid for s in matched}
    starts = Counter(_CONTROL.split(s.text[:TEXT_START])[0] for s in matched)
    bulks = sorted({s.bulk_id for s in matched if s.bulk_id})[:MAX_LIST]
    tags = sorted({s.callback_data for s in matched if s.callback_data})[:MAX_LIST]
    candidates: list[tuple[str, dict[str, Any]]] = [
        ("with the same text", {"text": start})
        for start, _ in starts.most_common(max_texts)
        if len(start.strip()) >= MIN_TEXT_START
    ]
    if bulks:
        candidates.append(("of the same bulk", {"bulk": bulks}))
    if tags:
        candidates.append(("with the same callback_data", {"callback_data": tags}))
    searches: list[tuple[str, SmsFilters]] = []
    for relation, values in candidates:
        try:
            searches.append((relation, SmsFilters.model_validate(values)))
        except ValidationError:
            continue  # a value LOX24 stored but would not take back as a filter (e.g. a 40-character tag)
    groups: dict[tuple[str, tuple[str, ...]], _Left] = {}
    for relation, criterion in searches:
        try:
            found = await collect(client, only_pending(criterion), limit=MAX_LOOKALIKES)
        except Lox24Error:
            # A hint, not the count the user approves: a failed look-up must not block the preview.
            logger.warning("look-alike search failed", exc_info=True)
            return ["look-alikes were not checked: LOX24 did not answer that search"]
        for sms in found.items:
            if sms.uuid in seen or not is_pending(sms) or not _alike(sms, criterion):
                continue
            seen.add(sms.uuid)
            reasons = excluded_by(sms, selection)
            groups.setdefault((relation, reasons), _Left(relation, reasons)).uuids.add(sms.uuid)
    ranked = sorted(groups.values(), key=lambda g: -len(g.uuids))
    return [
        f"{len(g.uuids)} more pending SMS {g.relation} {'is' if len(g.uuids) == 1 else 'are'} not included "
        f"({', '.join(g.reasons)})"
        for g in ranked[:3]
    ]


def dialog_lines(question: str, summary: Summary, left_out: Sequence[str]) -> str:
    """A short confirmation question: the count, the two or three largest groups, the span, the look-alikes.

    Deterministic for the same data: no current time, no token, nothing that changes between the rounds
    of one call (the SDK pins the answer to the question's text).
    """
    lines = [question, *summary_lines(summary, groups=2)[:4], *left_out[:2]]
    lines.append("They will not be sent. This cannot be undone.")
    return "\n".join(lines)
