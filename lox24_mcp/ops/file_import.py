"""Import contacts from a file on the server's machine into a group (`add_phones_from_file`).

1. The path is checked against the allowed directories and opened (`file_access`).
2. The group is read once (LOX24's export: its numbers, for `already_in_group`, and its captions of
   the columns a–e, for the mapping).
3. The file is checked whole, counted and mapped (`contacts_file`), on a worker thread.
4. The importer reads it again slice by slice, normalises, de-duplicates and sends (or, in a dry
   run, only counts), overlapping reading with the network.

The report names problems by spreadsheet row (header = row 1) and the raw cell value, and is kept
under 4 KB whatever the file holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from pydantic import BaseModel, Field

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.models import GroupContacts
from lox24_mcp.ops.file_access import FileAccessError, OpenedFile, open_allowed
from lox24_mcp.ops.importer import (
    ImportInterruptedError,
    ImportReport,
    ProgressCallback,
    import_phones,
    read_group,
)

if TYPE_CHECKING:
    from lox24_mcp.ops.contacts_file import ContactsFile

#: Problems listed in the result (the rest are counted); keeps the result well under 4 KB.
MAX_FILE_PROBLEMS = 15
MAX_RESULT_BYTES = 4000
_DEFAULT_CAPTION = re.compile(r"col_[a-e]", re.IGNORECASE)


class FileImportError(ValueError):
    """The file cannot be imported (not allowed, unreadable, unmappable); nothing was sent."""


class FileImportReport(BaseModel):
    """The accounting of one file: rows = created + already_in_group + new + rejected + invalid + duplicates
    + unknown. Problems are short sentences naming the spreadsheet row and the raw value."""

    group_id: int
    dry_run: bool = False
    file: str
    rows: int
    columns_used: dict[str, str]
    unmapped_headers: list[str]
    created: int
    already_in_group: int
    new: int = Field(default=0, description="dry_run: would be added")
    rejected: int
    invalid: int
    duplicates: int
    unknown: int
    problems: list[str]
    problems_total: int
    message: str


async def import_file(
    client: Lox24Client,
    group_id: int,
    path: str,
    allowed: Sequence[Path],
    *,
    default_region: str | None = None,
    columns: Mapping[str, str] | None = None,
    sheet: str | None = None,
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
    chunk_size: int = 500,
    concurrency: int = 4,
) -> FileImportReport:
    """Import (or, with `dry_run`, only check) the contacts of one file.

    Raises:
        FileImportError: the path may not be read, or the file cannot be read or mapped; nothing was sent.
        GroupNotFoundError: the group does not exist; nothing was sent.
        ImportInterruptedError: the file became unreadable part-way; its report says what was done.
        Lox24Error: LOX24 failed in a way that stopped the import (see `import_phones`).
    """
    # The readers (CSV, XLSX, vCard) and the column mapping load with the first file import, not at start-up.
    from lox24_mcp.ops.contacts_file import ContactsFile, FileFormatError

    try:
        opened: OpenedFile = await anyio.to_thread.run_sync(open_allowed, path, allowed)
    except FileAccessError as exc:
        raise FileImportError(str(exc)) from None
    with opened.stream:
        # The group's one request and the check of the whole file overlap.
        groups: list[GroupContacts] = []

        async def fetch_group() -> None:
            groups.append(await read_group(client, group_id))

        try:
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(fetch_group)
                    contacts = await anyio.to_thread.run_sync(
                        lambda: ContactsFile.read(opened.stream, opened.path.name, sheet=sheet)
                    )
            except BaseExceptionGroup as failed:
                raise _first_leaf(failed) from None
            group = groups[0]
            captions = {k: v for k, v in group.columns.items() if not _DEFAULT_CAPTION.fullmatch(v.strip())}
            contacts.map(columns=columns, group_columns=captions, default_region=default_region)
        except FileFormatError as exc:
            raise FileImportError(f"{opened.path.name}: {exc} Nothing was sent.") from None
        existing = {contact.e164 for contact in group}
        try:
            report = await import_phones(
                client,
                group_id,
                None,
                source=contacts.slices(chunk_size),
                default_region=default_region,
                chunk_size=chunk_size,
                concurrency=concurrency,
                on_progress=on_progress,
                dry_run=dry_run,
                existing=existing,
                total=contacts.rows_total,
                label="row",
            )
        except ImportInterruptedError as exc:
            exc.report = exc.report.model_copy(update={"message": f"{opened.path.name}: {exc.message}"})
            raise
    return _file_report(report, contacts, opened.path.name, dry_run=dry_run)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that stopped the task group (not the cancellations it caused)."""
    leaf: BaseException = group
    while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
        leaf = leaf.exceptions[0]
    return leaf


def _file_report(report: ImportReport, contacts: ContactsFile, name: str, *, dry_run: bool) -> FileImportReport:
    mapping = contacts.mapping
    unmapped = list(mapping.unmapped)
    if mapping.unmapped_total > len(unmapped):
        unmapped.append(f"… {mapping.unmapped_total - len(unmapped)} more")
    message = report.message
    if unmapped and not dry_run:
        message += " Columns not imported: " + ", ".join(unmapped[:5]) + "."
    elif unmapped:
        message += " Not mapped (pass columns to import them): " + ", ".join(unmapped[:5]) + "."
    result = FileImportReport(
        group_id=report.group_id,
        dry_run=dry_run,
        file=f"{name}: {contacts.description}"[:200],
        rows=report.requested,
        columns_used=mapping.used,
        unmapped_headers=unmapped,
        created=report.created,
        already_in_group=report.already_in_group,
        new=report.new,
        rejected=report.rejected,
        invalid=report.invalid,
        duplicates=report.duplicates,
        unknown=report.unknown,
        problems=[
            f"row {p.index} {p.phone[:40]!r}: {p.outcome}, {p.reason[:120]}"
            for p in report.problems[:MAX_FILE_PROBLEMS]
        ],
        problems_total=report.problems_total,
        message=message,
    )
    # Whatever the file holds (long headers, long values), the result stays small.
    while len(result.model_dump_json()) > MAX_RESULT_BYTES and result.problems:
        result.problems.pop()
    while len(result.model_dump_json()) > MAX_RESULT_BYTES and len(result.unmapped_headers) > 1:
        result.unmapped_headers.pop()
    return result
