"""Reading a group's contacts: one page of them, or whether a number is among them.

Both come from one request, LOX24's CSV export of the whole group (`Lox24Client.group_contacts`); a
number asked about is normalised like an imported one (`to_e164`), so `0151 0000 1001` with region DE
finds the stored `+4915100001001`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import Lox24Error, NotFoundError
from lox24_mcp.lox24.models import GroupContact
from lox24_mcp.lox24.phones import to_e164

PAGE_SIZE = 50


@dataclass(frozen=True)
class GroupView:
    """A page of a group's contacts (`query` None), or the contacts stored under the number `query`."""

    group_id: int
    columns: dict[str, str]
    total: int
    page: int
    page_size: int
    items: list[GroupContact]
    query: str | None = None

    @property
    def has_more(self) -> bool:
        return self.query is None and self.page * self.page_size < self.total

    @property
    def found(self) -> bool | None:
        return None if self.query is None else bool(self.items)

    def summary(self) -> str:
        """One sentence for a person: the answer to the question, or which contacts this page shows."""
        if self.query is not None:
            if not self.items:
                return f"{self.query} is not in group {self.group_id} ({self.total} contacts checked)."
            stored = ", ".join(dict.fromkeys(c.phone for c in self.items))
            times = f", {len(self.items)} times" if len(self.items) > 1 else ""
            return f"Yes: {self.query} is in group {self.group_id} (stored as {stored}{times})."
        pages = max(1, -(-self.total // self.page_size))
        if not self.items:
            if self.total == 0:
                return f"Group {self.group_id} has no contacts."
            return (
                f"Page {self.page} is past the end: group {self.group_id} has {self.total} contacts on {pages} pages."
            )
        first = (self.page - 1) * self.page_size + 1
        more = f"; page={self.page + 1} shows more" if self.has_more else ""
        return (
            f"Group {self.group_id} has {self.total} contacts; page {self.page} of {pages} shows "
            f"{first}–{first + len(self.items) - 1}{more}."
        )


async def view_group(
    client: Lox24Client,
    group_id: int,
    *,
    phone: str | None = None,
    default_region: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> GroupView:
    """One page of group `group_id`, or (with `phone`) the contacts stored under that number.

    Raises:
        InvalidPhoneError: `phone` is not a valid number (checked before any request).
        Lox24Error: the group does not exist (the message points to list_groups), or LOX24 failed.
    """
    query = to_e164(phone, default_region) if phone is not None else None
    try:
        contacts = await client.group_contacts(group_id)
    except NotFoundError as exc:
        rid = f", LOX24 request id {exc.request_id}" if exc.request_id else ""
        raise Lox24Error(
            f"LOX24 has no contact group with id {group_id} (HTTP 404{rid}). Call list_groups to find the group's id.",
            request_id=exc.request_id,
        ) from None
    if query is not None:
        matches = [c for c in contacts if c.e164 == query]
        return GroupView(group_id, contacts.columns, len(contacts), 1, page_size, matches, query)
    start = (page - 1) * page_size
    return GroupView(group_id, contacts.columns, len(contacts), page, page_size, contacts[start : start + page_size])
