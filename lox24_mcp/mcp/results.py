"""The structured results the MCP tools return (their output schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from lox24_mcp.ops.importer import ImportReport


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


# What became of a click in the confirmation card (a comment, not a docstring: it would be published).
class CardDecisionResult(_Result):
    status: Literal["cancelled", "declined"]
    matched: int
    cancelled: int = 0
    message: str


class SearchResult(_Result):
    total: int | None = Field(description="All matches; null: LOX24 gave no total")
    page: int
    items: list[SmsSample]


class GroupInfo(BaseModel):
    id: int
    name: str
    description: str | None = None
    contacts: int


class GroupsResult(_Result):
    groups: list[GroupInfo]


class ImportResult(ImportReport, _Result):
    pass
