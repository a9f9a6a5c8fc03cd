"""Contacts from a file (CSV/TSV, XLSX/XLS/ODS, vCard) as a stream of `ContactSlice`s for the importer.

`ContactsFile.open(...)` reads the file once to check it and count its rows (so a broken file is
refused before anything is sent), decides the column mapping from its first rows, and `slices()`
then reads it again row by row: at most one slice of contacts is held at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from pydantic import TypeAdapter, ValidationError

from lox24_mcp.lox24.models import PhoneEntry
from lox24_mcp.ops.contacts_file.mapping import (
    FIELDS,
    CellError,
    ColumnMapping,
    field_text,
    map_columns,
    phone_text,
)
from lox24_mcp.ops.contacts_file.readers import (
    Cell,
    CsvReader,
    FileFormatError,
    Row,
    SpreadsheetReader,
    VcardReader,
    detect_kind,
)
from lox24_mcp.ops.importer import ContactSlice

__all__ = ["FIELDS", "ColumnMapping", "ContactsFile", "FileFormatError"]

_SAMPLE_ROWS = 200
_ENTRIES: TypeAdapter[list[PhoneEntry]] = TypeAdapter(list[PhoneEntry])
_Reader = CsvReader | SpreadsheetReader | VcardReader


@dataclass
class ContactsFile:
    """A contact file, checked and mapped; iterate `slices()` to read its contacts.

    `read()` checks the file (no group needed), `map()` decides the columns; `open()` does both.
    """

    reader: _Reader
    #: The first rows with content (header included), for the mapping.
    sample: list[list[Cell]]
    #: Rows with content, header included.
    filled: int
    mapping: ColumnMapping = field(default_factory=lambda: ColumnMapping(False, 0, {}, {}))
    #: Rows with content after the header: what `slices()` will yield, for progress.
    rows_total: int = 0
    default_region: str | None = None

    @classmethod
    def open(
        cls,
        stream: BinaryIO,
        name: str,
        *,
        sheet: str | None = None,
        columns: Mapping[str, str] | None = None,
        group_columns: Mapping[str, str] | None = None,
        default_region: str | None = None,
    ) -> ContactsFile:
        """`read()` then `map()`.

        Raises:
            FileFormatError: the file cannot be read as contacts; the message says why and what to do.
        """
        contacts = cls.read(stream, name, sheet=sheet)
        contacts.map(columns=columns, group_columns=group_columns, default_region=default_region)
        return contacts

    @classmethod
    def read(cls, stream: BinaryIO, name: str, *, sheet: str | None = None) -> ContactsFile:
        """Check the whole file (decoding and structure errors surface now) and count its rows.

        Raises:
            FileFormatError: the file cannot be read; the message says why and what to do.
        """
        kind = detect_kind(stream, name)
        reader: _Reader
        if kind == "spreadsheet":
            reader = SpreadsheetReader(stream, sheet)
        elif sheet is not None:
            raise FileFormatError("sheet applies to spreadsheets only; this file is CSV or vCard text.")
        elif kind == "vcard":
            reader = VcardReader(stream)
        else:
            reader = CsvReader(stream)
        sample: list[list[Cell]] = []
        for _number, cells in reader.rows():
            if not _blank(cells):
                sample.append(cells)
                if len(sample) == _SAMPLE_ROWS:
                    break
        if isinstance(reader, CsvReader | SpreadsheetReader):
            filled = reader.count()
        else:
            filled = sum(1 for _, cells in reader.rows() if not _blank(cells))
        return cls(reader, sample, filled)

    def map(
        self,
        *,
        columns: Mapping[str, str] | None = None,
        group_columns: Mapping[str, str] | None = None,
        default_region: str | None = None,
    ) -> None:
        """Decide which column fills which field (see `mapping.map_columns`).

        Raises:
            FileFormatError: no phone column, `columns` names what the file lacks, or no contacts.
        """
        self.mapping = map_columns(
            self.sample,
            columns=columns,
            group_columns=group_columns or {},
            default_region=default_region,
            first_column=getattr(self.reader, "first_column", 0),
        )
        self.default_region = default_region
        self.rows_total = self.filled - 1 if self.mapping.has_header else self.filled
        if self.rows_total <= 0:
            raise FileFormatError("The file has a header row but no contacts below it.")

    @property
    def description(self) -> str:
        return self.reader.description

    def slices(self, size: int = 500) -> Iterator[ContactSlice]:
        """The file's contacts in slices of `size` rows, labelled with their row numbers (header = row 1)."""
        rows = (row for row in self.reader.rows() if not _blank(row[1]))
        if self.mapping.has_header:
            next(rows, None)
        batch: list[Row] = []
        for row in rows:
            batch.append(row)
            if len(batch) == size:
                yield self._slice(batch)
                batch = []
        if batch:
            yield self._slice(batch)

    def _slice(self, batch: list[Row]) -> ContactSlice:
        mapping = self.mapping
        phone_at = mapping.phone
        fields = tuple(mapping.fields.items())
        piece = ContactSlice([], [])
        bodies: list[dict[str, str]] = []
        region = self.default_region
        for number, cells in batch:
            raw = cells[phone_at] if phone_at < len(cells) else ""
            try:
                if type(raw) is str and not raw.strip():
                    raise CellError("no phone number in this row")
                body = {"phone": phone_text(raw, region)}
            except CellError as exc:
                piece.refused.append((number, _shown(raw), str(exc)))
                continue
            width = len(cells)
            for key, index in fields:
                if index < width:
                    cell = cells[index]
                    value = cell.strip() if type(cell) is str else field_text(cell)
                    if value:
                        body[key] = value
            piece.indexes.append(number)
            bodies.append(body)
        try:
            piece.entries = _ENTRIES.validate_python(bodies)
        except ValidationError:
            piece.entries = self._one_by_one(piece, bodies)
        return piece

    def _one_by_one(self, piece: ContactSlice, bodies: list[dict[str, str]]) -> list[PhoneEntry]:
        """Validate each row alone, moving the ones that fail to `refused` with the field's problem."""
        names = {key: label for label, key in self.mapping.used.items()}
        indexes, entries = [], []
        for number, body in zip(piece.indexes, bodies, strict=True):
            try:
                entries.append(PhoneEntry.model_validate(body))
            except ValidationError as exc:
                error = exc.errors()[0]
                key = str(error["loc"][0]) if error["loc"] else "phone"
                where = f"column {names.get(key, key)!r} ({key})" if key in names else key
                piece.refused.append((number, body["phone"][:40], f"{where}: {error['msg']}"[:200]))
            else:
                indexes.append(number)
        piece.indexes = indexes
        return entries


def _blank(cells: list[Cell]) -> bool:
    try:
        return not "".join(cells).strip()  # type: ignore[arg-type]  # text rows: one C call
    except TypeError:  # numbers in a spreadsheet row
        return all(isinstance(c, str) and not c.strip() for c in cells)


def _shown(cell: Cell) -> str:
    return (cell if isinstance(cell, str) else repr(cell))[:40]
