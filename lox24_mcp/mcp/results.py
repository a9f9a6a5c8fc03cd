"""The structured results the MCP tools return (their output schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class _Result(BaseModel):
    sandbox: bool = Field(default=False, description="true: sandbox data")


class SmsSample(BaseModel):
    uuid: str
    phone: str = Field(description="Masked unless show_full_phone")
    delivery_at: int | None = Field(default=None, description="Send time, unix s (0: at once)")
    text: str
    status_code: int | None = None
    callback_data: str | None = None


CancelStatus = Literal["cancelled", "confirmation_required", "declined", "nothing_to_cancel"]


class CancelResult(_Result):
    status: CancelStatus
    matched: int = Field(description="Pending SMS matched at preview")
    cancelled: int = Field(default=0, description="As counted by LOX24")
    filters: str
    sample: list[SmsSample] = Field(default_factory=list)
    confirmation_token: str | None = Field(default=None, description="Only after the user says yes: call again with it")
    expires_at: int | None = None
    message: str


class SearchResult(_Result):
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
    index: int = Field(description="0-based, in phones")
    phone: str
    outcome: Literal["invalid", "duplicate", "rejected", "unknown"]
    reason: str


ContactOutcome = Literal["created", "already_in_group", "new", "invalid", "duplicate", "rejected", "unknown"]


class ImportedContact(BaseModel):
    index: int
    input: str
    phone: str | None = Field(description="E.164 as stored")
    outcome: ContactOutcome


class ImportResult(_Result):
    group_id: int
    dry_run: bool = False
    requested: int
    created: int
    already_in_group: int = Field(default=0, description="Already there: not sent")
    new: int = Field(default=0, description="dry_run: would be added")
    rejected: int = Field(description="Not added: refused by LOX24 or never sent")
    invalid: int = Field(description="Not a valid number")
    duplicates: int = Field(description="Repeats within this call")
    unknown: int = Field(description="Sent, no answer: run the same import again, it skips what arrived")
    contacts: list[ImportedContact] | None = Field(default=None, description="Each contact, for up to 20")
    problems: list[ImportProblem] = Field(description="First 50 not created")
    problems_total: int
    message: str = ""
