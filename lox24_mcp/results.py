"""The structured results the MCP tools return (their output schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class _Result(BaseModel):
    sandbox: bool = Field(default=False, description="True when served by the built-in sandbox, not real LOX24")


class SmsSample(BaseModel):
    """A few facts about one SMS, enough for a person to recognise it."""

    uuid: str
    phone: str = Field(description="Masked unless show_full_phone was asked for")
    delivery_at: int | None = Field(default=None, description="Scheduled send time, unix seconds (0 = immediately)")
    text: str = Field(description="The start of the text")
    status_code: int | None = None
    callback_data: str | None = None


CancelStatus = Literal["cancelled", "confirmation_required", "declined", "nothing_to_cancel"]


class CancelResult(_Result):
    """What `cancel_pending_sms` did, or what it needs before it will."""

    status: CancelStatus
    matched: int = Field(description="Pending SMS that matched at preview time")
    cancelled: int = Field(default=0, description="SMS LOX24 reports as cancelled")
    filters: str = Field(description="The selection, as sent to LOX24")
    sample: list[SmsSample] = Field(default_factory=list, description="Up to 5 of the matched SMS")
    confirmation_token: str | None = Field(default=None, description="Pass back, with the same filters, to cancel")
    expires_at: int | None = Field(default=None, description="When the token expires, unix seconds")
    message: str = Field(description="What happened and what to do next")


class SearchResult(_Result):
    """One page of SMS and the total LOX24 counted."""

    total: int
    page: int
    items: list[SmsSample]


class GroupInfo(BaseModel):
    id: int
    name: str
    description: str | None = None
    contacts: int


class GroupsResult(_Result):
    groups: list[GroupInfo]


class ImportProblem(BaseModel):
    index: int = Field(description="0-based position in the phones argument")
    phone: str
    outcome: Literal["invalid", "duplicate", "rejected", "unknown"]
    reason: str


class ImportResult(_Result):
    """Every input contact is counted exactly once: created + rejected + invalid + duplicates + unknown = requested."""

    group_id: int
    requested: int
    created: int
    rejected: int = Field(description="Not added: LOX24 refused them, or the request never reached LOX24")
    invalid: int = Field(description="Not sent: not a valid phone number")
    duplicates: int = Field(description="Not sent again: same E.164 number earlier in this call")
    unknown: int = Field(description="Sent, but no answer came back; check the group before resending")
    problems: list[ImportProblem] = Field(description="The first 50 entries that were not created, with reasons")
    problems_total: int
