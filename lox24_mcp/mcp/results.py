"""The structured results the MCP tools return (their output schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from lox24_mcp.ops.file_import import FileImportReport
from lox24_mcp.ops.importer import ImportReport


class _Result(BaseModel):
    sandbox: bool = False


class PendingSample(BaseModel):
    uuid: str
    phone: str
    iso2: str | None = None
    status: str
    delivery_at: int | None = None
    delivery_local: str
    text: str
    callback_data: str | None = None


class SmsSample(PendingSample):
    status_code: int | None = None
    gateway_sent_at: int | None = None
    sent_local: str


class PreviewSummary(BaseModel):
    counted: int
    partial: bool
    span: str
    by: dict[str, dict[str, int]] = Field(description="Counts by day, hour, country, callback_data, text")


CancelStatus = Literal["cancelled", "confirmation_required", "declined", "nothing_to_cancel"]


class CancelResult(_Result):
    status: CancelStatus
    now: str
    matched: int = Field(description="Pending SMS matched at preview")
    cancelled: int = 0
    filters: str
    summary: PreviewSummary | None = None
    left_out: list[str] = Field(default_factory=list)
    sample: list[PendingSample] = Field(default_factory=list)
    confirmation_token: str | None = Field(default=None, description="Only after the user says yes: call again with it")
    expires_at: int | None = None
    expires_local: str | None = None
    message: str


# What became of a click in the confirmation card (a comment, not a docstring: it would be published).
class CardDecisionResult(_Result):
    status: Literal["cancelled", "declined"]
    matched: int
    cancelled: int = 0
    message: str


class SearchResult(_Result):
    now: str
    total: int | None = Field(description="All matches; null: LOX24 gave no total")
    page: int
    page_size: int
    has_more: bool
    items: list[SmsSample]
    message: str


class GroupInfo(BaseModel):
    id: int
    name: str
    description: str | None = None
    contacts: int
    columns: dict[str, str] = Field(default_factory=dict)


class GroupsResult(_Result):
    groups: list[GroupInfo]


class ImportResult(ImportReport, _Result):
    pass


class FileImportResult(FileImportReport, _Result):
    pass


class GroupContactItem(BaseModel):
    phone: str = Field(description="Masked unless show_full_phone")
    fields: dict[str, str] = Field(description="By the group's column names")


class GroupContactsResult(_Result):
    group_id: int
    total: int
    page: int
    page_size: int
    has_more: bool
    items: list[GroupContactItem]
    found: bool | None = None
    message: str
