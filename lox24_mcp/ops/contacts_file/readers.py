"""Readers for contact files: CSV/TSV/semicolon text, spreadsheets (XLSX, XLS, ODS) and vCards.

Each reader turns a file into numbered rows of cells, streaming: `rows()` can be iterated more than
once (it starts from the beginning each time) and holds one row at a time, except the spreadsheet
reader, whose library keeps the sheet's values in memory (bounded by `MAX_UNPACKED_BYTES`).
Row numbers are what a spreadsheet program shows: the first line of the file is row 1.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import quopri
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal, TypeAlias, cast

#: A cell as read: text, or a number as the spreadsheet stored it (never rounded or reformatted here).
Cell: TypeAlias = str | float | int
Row: TypeAlias = tuple[int, list[Cell]]

#: Spreadsheets are unpacked into memory by the reader: refuse those whose parts unpack beyond this.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
_SAMPLE_CHARS = 64 * 1024
_CHUNK = 1024 * 1024
_DELIMITERS = (";", "\t", ",", "|")  # ties go to the earlier one (German Excel writes ';')
_DELIMITER_NAMES = {";": "semicolon", "\t": "tab", ",": "comma", "|": "pipe"}

Kind = Literal["csv", "spreadsheet", "vcard"]


class FileFormatError(ValueError):
    """The file cannot be read as contacts; the message says why and what to do."""


@dataclass(frozen=True)
class TextEncoding:
    codec: str
    label: str


# ----------------------------------------------------------------------------- detection


def detect_kind(stream: BinaryIO, name: str) -> Kind:
    """What the file is, by its first bytes (and, for text, its name)."""
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):  # ZIP (xlsx, ods) or OLE2 (xls)
        return "spreadsheet"
    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")):
        raise FileFormatError(f"{name!r} is named like a spreadsheet but is not one (damaged, or renamed).")
    if lower.endswith((".vcf", ".vcard")):
        return "vcard"
    encoding = detect_encoding(stream)
    sample = _decoded_sample(stream, encoding)
    if sample.lstrip("\ufeff \r\n\t").upper().startswith("BEGIN:VCARD"):
        return "vcard"
    return "csv"


def detect_encoding(stream: BinaryIO) -> TextEncoding:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252 as the fallback.

    Without a BOM the whole file is checked as UTF-8 first (cheap next to reading it): a Windows-1252 file
    with umlauts is almost never valid UTF-8, so the fallback is safe.
    """
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return TextEncoding("utf-8-sig", "UTF-8 with BOM")
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise FileFormatError("The file is UTF-32 text; save it as CSV UTF-8.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return TextEncoding("utf-16", "UTF-16")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(_CHUNK):
            if b"\x00" in chunk:
                raise FileFormatError(
                    "The file contains NUL bytes, so it is not CSV text (UTF-16 without a byte-order mark, or a "
                    "binary file); save it as CSV UTF-8."
                )
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return TextEncoding("cp1252", "Windows-1252")
    finally:
        stream.seek(0)
    return TextEncoding("utf-8", "UTF-8")


def _text(stream: BinaryIO, encoding: TextEncoding) -> io.TextIOWrapper:
    """A text view of the stream from its start; callers `detach()` it so the stream stays open."""
    stream.seek(0)
    return io.TextIOWrapper(stream, encoding=encoding.codec, newline="", errors="strict")


def _decoded_sample(stream: BinaryIO, encoding: TextEncoding) -> str:
    text = _text(stream, encoding)
    try:
        return text.read(_SAMPLE_CHARS)
    except UnicodeDecodeError as exc:
        raise _undecodable(encoding, exc) from None
    finally:
        text.detach()


def _undecodable(encoding: TextEncoding, exc: UnicodeDecodeError) -> FileFormatError:
    return FileFormatError(
        f"The file is not readable as {encoding.label} text (byte {exc.start} of a block); save it as CSV UTF-8."
    )


# ----------------------------------------------------------------------------- CSV and friends


class CsvReader:
    """Delimited text: the delimiter sniffed from the first records, quoted fields with line breaks."""

    kind: Kind = "csv"

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.encoding = detect_encoding(stream)
        sample = _decoded_sample(stream, self.encoding)
        self.delimiter = sniff_delimiter(sample)
        self.sheet: str | None = None

    @property
    def description(self) -> str:
        return f"CSV, {_DELIMITER_NAMES[self.delimiter]}-separated, {self.encoding.label}"

    def count(self) -> int:
        """Rows with content, read at C speed; raises what `rows()` would."""
        text = _text(self._stream, self.encoding)
        reader = csv.reader(text, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=False)
        try:
            return sum(1 for cells in reader if "".join(cells).strip())
        except UnicodeDecodeError as exc:
            raise _undecodable(self.encoding, exc) from None
        except csv.Error as exc:
            raise FileFormatError(
                f"Line {reader.line_num} cannot be read as CSV ({exc}); usually a quote that is never closed."
            ) from None
        finally:
            text.detach()

    def rows(self) -> Iterator[Row]:
        text = _text(self._stream, self.encoding)
        reader = csv.reader(text, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=False)
        number = 0
        try:
            for number, cells in enumerate(reader, start=1):
                yield number, list(cells)
        except UnicodeDecodeError as exc:
            raise _undecodable(self.encoding, exc) from None
        except csv.Error as exc:
            raise FileFormatError(
                f"Row {number + 1} cannot be read as CSV ({exc}); usually a quote that is never closed."
            ) from None
        finally:
            text.detach()


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the sample's records most consistently into more than one field.

    A file with one column (just numbers) gets ',' and reads as one field per row.
    """
    cut = sample.rfind("\n")
    body = sample[: cut + 1] if 0 <= cut < len(sample) - 1 else sample
    best: tuple[float, int, int] | None = None
    chosen = ","
    for rank, delimiter in enumerate(_DELIMITERS):
        try:
            records = [r for r in csv.reader(io.StringIO(body), delimiter=delimiter, strict=False) if any(r)][:100]
        except csv.Error:
            continue
        if not records:
            continue
        widths: dict[int, int] = {}
        for record in records:
            widths[len(record)] = widths.get(len(record), 0) + 1
        width, count = max(widths.items(), key=lambda item: (item[1], item[0]))
        if width < 2:
            continue
        score = (count / len(records), width, -rank)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


# ----------------------------------------------------------------------------- spreadsheets


class SpreadsheetReader:
    """XLSX/XLSM/XLSB/XLS/ODS through python-calamine (see benchmarks/README.md for why calamine).

    Numbers come back as the floats the file stores; dates, times and booleans as text.
    """

    kind: Kind = "spreadsheet"

    def __init__(self, stream: BinaryIO, sheet: str | None = None) -> None:
        from python_calamine import CalamineError, CalamineWorkbook  # deferred: only imports need it

        _check_unpacked_size(stream)
        stream.seek(0)
        try:
            self._workbook = CalamineWorkbook.from_filelike(stream)
        except (CalamineError, ValueError, OSError) as exc:
            raise FileFormatError(f"The spreadsheet cannot be opened ({str(exc)[:200]}).") from None
        names: list[str] = list(self._workbook.sheet_names)
        if not names:
            raise FileFormatError("The spreadsheet has no sheets.")
        self.sheet = names[0] if sheet is None else _pick_sheet(names, sheet)
        try:
            self._sheet = self._workbook.get_sheet_by_name(self.sheet)
        except (CalamineError, ValueError) as exc:
            raise FileFormatError(f"Sheet {self.sheet!r} cannot be read ({str(exc)[:200]}).") from None
        #: Index of the first column the library returns (it drops empty columns on the left).
        self.first_column: int = self._sheet.start[1] if self._sheet.start else 0
        self.total_rows: int = self._sheet.total_height

    @property
    def description(self) -> str:
        return f"spreadsheet, sheet {self.sheet!r}"

    def count(self) -> int:
        """Rows with at least one cell that is not empty."""
        return sum(1 for cells in self._sheet.iter_rows() if any(value != "" for value in cells))

    def rows(self) -> Iterator[Row]:
        plain = _PLAIN_TYPES
        for number, cells in enumerate(self._sheet.iter_rows(), start=1):
            yield number, [cast(Cell, value) if type(value) in plain else _spreadsheet_cell(value) for value in cells]


def _pick_sheet(names: list[str], wanted: str) -> str:
    wanted = wanted[:200]
    for name in names:
        if name == wanted:
            return name
    folded = wanted.strip().casefold()
    for name in names:
        if name.strip().casefold() == folded:
            return name
    if wanted.strip().isdigit() and 1 <= int(wanted) <= len(names):
        return names[int(wanted) - 1]
    listed = ", ".join(repr(n) for n in names[:20])
    raise FileFormatError(f"The spreadsheet has no sheet {wanted!r}; its sheets are {listed}.")


def _check_unpacked_size(stream: BinaryIO) -> None:
    stream.seek(0)
    if not zipfile.is_zipfile(stream):
        return  # XLS (OLE2): bounded by the file size limit
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileFormatError(f"The spreadsheet is damaged ({exc}).") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise FileFormatError(
            f"The spreadsheet unpacks to {unpacked / 1e6:.0f} MB, more than the {MAX_UNPACKED_BYTES / 1e6:.0f} MB "
            "this server unpacks; save the sheet as CSV UTF-8 (read as a stream, any size up to the file limit)."
        )


_PLAIN_TYPES = frozenset({str, float, int})  # exact types: bool, a subclass of int, is converted


def _spreadsheet_cell(value: object) -> Cell:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return "" if value is None else str(value)


# ----------------------------------------------------------------------------- vCard

#: The columns a vCard becomes: one row per TEL.
VCARD_HEADERS = ("phone", "name", "first name", "last name", "phone type")
_PROPERTY = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)((?:;[^:]*)?):(.*)$", re.DOTALL)


class VcardReader:
    """vCard 2.1/3.0/4.0: every TEL of each card, the name from N (given, family) and FN.

    Row 1 is a header row made up here (`VCARD_HEADERS`); a data row's number is the line in the
    file where its TEL is written, so a problem can be found in any text editor.
    """

    kind: Kind = "vcard"

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.encoding = detect_encoding(stream)
        self.sheet: str | None = None

    @property
    def description(self) -> str:
        return f"vCard, {self.encoding.label}"

    def rows(self) -> Iterator[Row]:
        yield 1, list(VCARD_HEADERS)
        card: _Card | None = None
        text = _text(self._stream, self.encoding)
        try:
            for line_no, line in _unfolded(text):
                match = _PROPERTY.match(line)
                if match is None:
                    continue
                name = match.group(1).upper()
                params = _params(match.group(2))
                value = match.group(3)
                if name == "BEGIN" and value.strip().upper() == "VCARD":
                    card = _Card(line_no)
                elif card is None:
                    continue
                elif name == "END" and value.strip().upper() == "VCARD":
                    yield from card.rows()
                    card = None
                elif name == "TEL":
                    card.tels.append((line_no, _tel_value(_decoded(value, params)), _tel_type(params)))
                elif name == "FN":
                    card.full_name = _unescape(_decoded(value, params)).strip()
                elif name == "N":
                    parts = [_unescape(p).strip() for p in _split_unescaped(_decoded(value, params), ";")]
                    card.family = parts[0] if parts else ""
                    card.given = parts[1] if len(parts) > 1 else ""
            if card is not None:
                raise FileFormatError(f"The vCard that begins on line {card.line} never ends (no END:VCARD).")
        except UnicodeDecodeError as exc:
            raise _undecodable(self.encoding, exc) from None
        finally:
            text.detach()


@dataclass
class _Card:
    line: int
    full_name: str = ""
    given: str = ""
    family: str = ""

    def __post_init__(self) -> None:
        self.tels: list[tuple[int, str, str]] = []

    def rows(self) -> Iterator[Row]:
        name = self.full_name or " ".join(p for p in (self.given, self.family) if p)
        if not self.tels:
            yield self.line, ["", name, self.given, self.family, ""]
        for line, tel, kind in self.tels:
            yield line, [tel, name, self.given, self.family, kind]


def _unfolded(text: io.TextIOWrapper) -> Iterator[tuple[int, str]]:
    """Logical lines with their first physical line number: RFC folding, and 2.1's quoted-printable soft breaks."""
    pending: str | None = None
    start = 0
    qp_soft = False
    for number, raw in enumerate(text, start=1):
        line = raw.rstrip("\r\n")
        if pending is not None and (qp_soft or (line[:1] in (" ", "\t"))):
            pending += line if qp_soft else line[1:]
        else:
            if pending is not None:
                yield start, pending
            pending, start = line, number
        qp_soft = pending.endswith("=") and "QUOTED-PRINTABLE" in pending.split(":", 1)[0].upper()
        if qp_soft:
            pending = pending[:-1]
    if pending is not None:
        yield start, pending


def _params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in text.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().upper()] = value.strip().strip('"')
        else:  # vCard 2.1 bare types: TEL;CELL;VOICE:
            params.setdefault("TYPE", "")
            params["TYPE"] = ",".join(t for t in (params["TYPE"], key.strip()) if t)
            if key.strip().upper() == "QUOTED-PRINTABLE":
                params["ENCODING"] = "QUOTED-PRINTABLE"
    return params


def _decoded(value: str, params: dict[str, str]) -> str:
    if params.get("ENCODING", "").upper() != "QUOTED-PRINTABLE":
        return value
    raw = quopri.decodestring(value.encode("latin-1", errors="replace"))
    charset = params.get("CHARSET", "utf-8")
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return raw.decode("cp1252", errors="replace")


def _tel_value(value: str) -> str:
    text = value.strip()
    if text.lower().startswith("tel:"):  # vCard 4.0: VALUE=uri
        text = text[4:].split(";", 1)[0]
    return _unescape(text)


def _tel_type(params: dict[str, str]) -> str:
    kinds = [t.strip().lower() for t in params.get("TYPE", "").split(",") if t.strip()]
    return ",".join(k for k in kinds if k not in ("voice", "pref", "quoted-printable"))[:40]


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\,;nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)
