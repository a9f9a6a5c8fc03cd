"""Cancelling scheduled SMS: what "pending" means, what a confirmation covers, and the cancel itself.

Plain code over `Lox24Client`; the MCP layer decides how the user confirms (`ops.confirm.plan`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.models import Sms, SmsFilters, TimeRange
from lox24_mcp.ops import summary
from lox24_mcp.ops.present import only_pending, phone_note
from lox24_mcp.ops.summary import Summary, collect, lookalikes, summarise

SAMPLE_SIZE = 5
#: Seconds by which LOX24's `Date` may trail this host's clock before the preview recounts by LOX24's
#: clock: a `Date` has whole seconds and servers refresh it about once a second.
CLOCK_TOLERANCE = 2
#: The most pending SMS a preview reads (for its summary, and to count them when LOX24 gives no total).
MAX_COUNTED = summary.MAX_COUNTED


def pending_selection(filters: SmsFilters, preview_time: int) -> SmsFilters | None:
    """The user's filters narrowed to SMS that are pending and existed before `preview_time`.

    Adds `is_sent=0`, `status_code=0` (unless the caller filters on status) and bounds `created_at`
    to `< preview_time` inside the caller's own range. The bound is strict because LOX24 counts in
    whole seconds: an SMS created in the same second as the preview, possibly after it, is never
    counted and never cancelled. Returns None when the selection is empty by construction (every
    exact `created_at` the caller gave is not before the preview).
    """
    created = filters.created_at
    bounded: int | list[int] | TimeRange
    if created is None:
        bounded = TimeRange(lt=preview_time)
    elif isinstance(created, TimeRange):
        if created.lte is not None:
            bounded = created.model_copy(update={"lte": min(created.lte, preview_time - 1)})
        else:
            bounded = created.model_copy(
                update={"lt": preview_time if created.lt is None else min(created.lt, preview_time)}
            )
        low = bounded.gt + 1 if bounded.gt is not None else bounded.gte
        high = bounded.lt - 1 if bounded.lt is not None else bounded.lte
        if low is not None and high is not None and low > high:
            return None
    elif isinstance(created, list):
        kept = [t for t in created if t < preview_time]
        if not kept:
            return None
        bounded = kept
    else:
        if created >= preview_time:
            return None
        bounded = created
    return only_pending(filters.model_copy(update={"created_at": bounded}))


def cancel_scope(*, account_id: str, base_url: str, filters: SmsFilters, cancel_all_pending: bool) -> str:
    """What a confirmation token is bound to: the account, the API, and the exact selection.

    Canonical JSON, so that no two different selections share a scope: values are quoted, never
    joined as text (`callback_data="vip&text=Sale"` is not `callback_data="vip", text="Sale"`). The
    order of filters and of values in a list does not matter; ordering options are not part of it.
    """
    scope = {
        "op": "cancel_sms",
        "account": account_id,
        "api": base_url,
        "all": cancel_all_pending,
        "filters": filters.selection(),
    }
    return json.dumps(scope, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Preview:
    """What a selection matches right now: the count, a sample, a summary of all of it, and look-alikes left out."""

    matched: int
    preview_time: int
    sample: tuple[Sms, ...] = ()
    summary: Summary | None = None
    left_out: tuple[str, ...] = ()
    phone_note: str | None = None
    """Said when the phone filter is part of a number that matched several numbers."""
    exact: bool = True
    """False: LOX24 gave no total and more than `MAX_COUNTED` match, so `matched` is only a lower bound."""
    newest_created: int | None = None
    """The newest `created_at` among the matched SMS (LOX24's clock)."""


async def preview(client: Lox24Client, selection: SmsFilters, *, preview_time: int) -> Preview:
    """Count the pending SMS of `selection` that existed before the preview, and summarise them.

    `preview_time` is this host's clock; where LOX24's own clock (the `Date` of its answer) is more
    than `CLOCK_TOLERANCE` seconds behind it, the count is taken again up to LOX24's time, and that
    is the bound that is confirmed and later cancelled. A host whose clock runs ahead would otherwise
    bound the cancel in LOX24's future, and an SMS created after the user saw the count would fall
    inside it. The newest matched SMS comes first, so the question shown to the
    user can name it: a resent answer whose selection gained an SMS no longer matches the question.

    Reads every matched SMS (up to `MAX_COUNTED`) for the summary, then looks for pending look-alikes the
    selection leaves out (`summary.lookalikes`). A count the user approves must be real: where LOX24 leaves
    its total out (its spec makes it optional), the pages are counted one by one, up to `MAX_COUNTED`;
    beyond that the preview says it is not exact, and the caller must not cancel by filters.

    Raises:
        Lox24Error: a search failed.
    """
    pending = pending_selection(selection, preview_time)
    if pending is None:
        return Preview(0, preview_time)
    ordered = pending.model_copy(update={"order_by": "created_at", "order": "desc"})
    first = await client.search_sms(ordered)
    if first.server_time is not None and first.server_time < preview_time - CLOCK_TOLERANCE:
        # This host is ahead of LOX24: count again up to LOX24's own now, which has passed for sure.
        preview_time = first.server_time
        pending = pending_selection(selection, preview_time)
        if pending is None:
            return Preview(0, preview_time)
        ordered = pending.model_copy(update={"order_by": "created_at", "order": "desc"})
        first = await client.search_sms(ordered)
    found = await collect(client, ordered, limit=MAX_COUNTED, first=first)
    sample = found.items[:SAMPLE_SIZE]
    newest = found.items[0].created_at if found.items else None
    if found.total is None:
        return Preview(len(found.items), preview_time, sample, exact=False, newest_created=newest)
    if found.total == 0:
        return Preview(0, preview_time)
    left_out = await lookalikes(client, selection, found.items)
    summary = summarise(found.items, found.total)
    note = phone_note(selection, found.items, found.total)
    return Preview(found.total, preview_time, sample, summary, tuple(left_out), note, newest_created=newest)


async def cancel(client: Lox24Client, selection: SmsFilters, *, preview_time: int) -> int:
    """Cancel exactly what `preview` counted at `preview_time`; returns LOX24's count.

    Raises:
        Lox24Error: the cancel failed; `Lox24OutcomeUnknownError` if its answer was lost (not resent).
    """
    pending = pending_selection(selection, preview_time)
    if pending is None:
        return 0
    return await client.cancel_sms(pending, allow_all=True)
