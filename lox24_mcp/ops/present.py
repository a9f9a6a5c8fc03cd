"""How an SMS reads in a result: a status word next to LOX24's codes, and what "pending" means.

Plain code (no `mcp`): the MCP layer turns these into its result models, the summary and the tests use
them directly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Literal

from lox24_mcp.lox24 import times
from lox24_mcp.lox24.models import Sms, SmsFilters
from lox24_mcp.lox24.phones import mask, phone_filter

StatusWord = Literal["scheduled", "sending", "sent", "delivered", "undelivered", "failed", "cancelled", "unknown"]

#: status_code → word, for the codes whose meaning does not depend on the delivery report (LOX24's status
#: code table: 410 stopped via the web account, 6000 via the API; 208/400/2000/3000/5000 could not be sent).
_FINAL: dict[int, StatusWord] = {
    410: "cancelled",
    6000: "cancelled",
    208: "failed",
    400: "failed",
    2000: "failed",
    3000: "failed",
    5000: "failed",
}

#: The one definition of "pending": what `cancel_pending_sms` acts on and `search_sms(pending=true)` finds.
PENDING: dict[str, object] = {"is_sent": False, "status_code": 0}


def status_word(sms: Sms, now: int) -> StatusWord:
    """One word for where an SMS stands, from LOX24's `status_code`, `dlr_code` and `delivery_at`.

    - `scheduled`: status 0 (new), not sent, its send time is still ahead: cancel_pending_sms can stop it;
    - `sending`: status 0, due now or sent "immediately": it may be with the operator within seconds;
    - `sent`: status 100 (handed to the operator), no final delivery report yet (none, queued, en route);
    - `delivered`: delivery report 1; `undelivered`: report 8 (expired, e.g. phone off) or 16 (rejected);
    - `failed`: LOX24 could not send it (blocked network, maintenance, no balance, no operator);
    - `cancelled`: stopped before sending (410 via the web account, 6000 via the API).
    """
    code = sms.status_code
    if code is None:
        return "unknown"
    if code in _FINAL:
        return _FINAL[code]
    if code == 0:
        if sms.is_sent:
            return "sent"
        return "scheduled" if sms.delivery_at and sms.delivery_at > now else "sending"
    if code == 100:
        if sms.dlr_code == 1:
            return "delivered"
        if sms.dlr_code in (8, 16):
            return "undelivered"
        return "sent"
    return "unknown"


def is_pending(sms: Sms) -> bool:
    """The same test as `only_pending`, on one SMS LOX24 returned."""
    return sms.status_code == 0 and not sms.is_sent


def only_pending(filters: SmsFilters) -> SmsFilters:
    """`filters` narrowed to pending SMS: not sent and status 0 (new).

    A caller's own `status_code` filter is kept (LOX24 combines it with `is_sent=0`); without one,
    `status_code=0` leaves out SMS cancelled or refused before sending, which LOX24 reports as not sent too.
    """
    update: dict[str, object] = {"is_sent": False}
    if filters.status_code is None:
        update["status_code"] = 0
    return filters.model_copy(update=update)


def shown_phone(phone: str, full: bool) -> str:
    """The number as results show it: masked unless the user asked for full numbers."""
    return phone if full else mask(phone)


def printable(text: str) -> str:
    """`text` without control and format characters (line breaks, bidi overrides): it is shown in one line."""
    return "".join(
        " " if ch in "\r\n\t" else ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\r\n\t"
    )


def short_text(text: str, limit: int = 60) -> str:
    """The first `limit` characters of a message, with `…` when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sms_view(sms: Sms, *, now: int, full_phone: bool = False) -> dict[str, object]:
    """One SMS as results show it: masked number, country, status word and codes, and local times."""
    return {
        "uuid": sms.uuid,
        "phone": shown_phone(sms.phone, full_phone),
        "iso2": sms.iso2,
        "status": status_word(sms, now),
        "status_code": sms.status_code,
        "delivery_at": sms.delivery_at,
        "delivery_local": times.format_local(sms.delivery_at, zero="immediately"),
        "gateway_sent_at": sms.gateway_sent_at,
        "sent_local": times.format_local(sms.gateway_sent_at, zero="not sent"),
        "text": short_text(sms.text),
        "callback_data": sms.callback_data,
    }


def with_region(filters: SmsFilters, default_region: str | None) -> SmsFilters:
    """A phone filter written nationally (`079 555 12 34`) read in `default_region`, as the import reads numbers."""
    if filters.phone is None or default_region is None or filters.phone.startswith("+"):
        return filters
    value, _ = phone_filter(filters.phone, default_region)
    return filters.model_copy(update={"phone": value})


def phone_note(filters: SmsFilters, items: Sequence[Sms], total: int) -> str | None:
    """A sentence when the phone filter is not one whole number: what it matched, or why it may match nothing."""
    phone = filters.phone
    if phone is None:
        return None
    whole = phone.startswith("+") and phone_filter(phone)[1]
    if whole:
        return None
    if not phone.startswith("+") and phone.startswith("0"):
        return (
            f"phone {phone!r} looks written nationally; LOX24 stores +<country code> numbers, so pass default_region "
            "(e.g. 'DE') or write the number with its country code."
        )
    numbers = {s.phone for s in items}
    if total > 1 and len(numbers) > 1:
        at_least = "at least " if total > len(items) else ""
        return (
            f"phone {phone!r} is part of a number: it matched {total} SMS to {at_least}{len(numbers)} different "
            "numbers. Give the whole number to find one person's SMS."
        )
    return None
