"""How an SMS reads in a result: a status word next to LOX24's codes, and what "pending" means.

Plain code (no `mcp`): the MCP layer turns these into its result models, the summary and the tests use
them directly.
"""

from __future__ import annotations

from typing import Literal

from lox24_mcp.lox24.models import Sms, SmsFilters
from lox24_mcp.lox24.phones import mask

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


def short_text(text: str, limit: int = 60) -> str:
    """The first `limit` characters of a message, with `…` when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
