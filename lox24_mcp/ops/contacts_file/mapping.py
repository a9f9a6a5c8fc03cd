"""Which column holds the phone number, and which columns fill LOX24's contact fields.

- The phone column is found by its header (synonyms in English, German, Spanish, French and Italian,
  compared without case, accents or punctuation; mobile words before landline words) or, in a file
  without a header row, by content: the column where most sampled values look like phone numbers.
- `columns` maps LOX24 fields to headers (or to column letters A, B, … / numbers 1, 2, …).
- Without `columns`, a header is mapped to a field only when it equals that field's name in the
  group (LOX24's name_a…name_e). Nothing else is mapped into a–e by guesswork; the other headers
  are listed so the assistant can propose a mapping.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lox24_mcp.lox24.phones import InvalidPhoneError, to_e164
from lox24_mcp.ops.contacts_file.readers import Cell, FileFormatError

#: LOX24's contact fields a column can fill.
FIELDS = ("phone", "a", "b", "c", "d", "e", "callback_data")
MAX_UNMAPPED = 20

# Compared after `_norm`: casefolded, accents dropped, only letters and digits kept.
_MOBILE_EXACT = {
    "mobile", "mobilephone", "mobilenumber", "mobileno", "mobilenr", "mobil", "mobilnr", "mobilnummer",
    "mobiltelefon", "mobilfunk", "mobilfunknummer", "handy", "handynr", "handynummer", "cell", "cellphone",
    "cellnumber", "cellular", "mobiel", "movil", "telefonomovil", "numeromovil", "celular", "portable",
    "telportable", "telephoneportable", "numeroportable", "mobilefr", "cellulare", "numerocellulare",
    "telefonocellulare", "cell1", "gsm", "natel", "sms", "smsnumber", "msisdn",
}  # fmt: skip
_PHONE_EXACT = {
    "phone", "phonenumber", "phoneno", "phonenr", "telephone", "telephonenumber", "tel", "telno", "telnr",
    "telefon", "telefonnr", "telefonnummer", "rufnummer", "nummer", "number", "telefono", "numerodetelefono",
    "numerotelefono", "telephonefixe", "numerodetelephone", "numero", "numerotel", "numeroditelefono",
    "e164", "phone1", "tel1", "contactnumber", "whatsapp",
}  # fmt: skip
_MOBILE_PART = ("mobil", "handy", "cell", "movil", "portable", "gsm")
_PHONE_PART = ("phone", "telefon", "telephon", "rufnummer", "telefono", "telephone")
#: Header words that describe a phone column rather than hold it ("Phone 1 - Type").
_NOT_VALUE = ("type", "typ", "label", "kind", "art", "tipo", "etiquette", "country", "land", "pais", "pays", "paese")

_LOOKS_LIKE_PHONE = re.compile(r"\s*(?:\+|00)?[0-9][0-9 ()./-]{4,24}\s*")
_SAMPLE_ROWS = 200


def _norm(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


def _phone_tier(header: str) -> int | None:
    """0 mobile (exact), 1 phone (exact), 2 mobile word inside, 3 phone word inside; None: not a phone header."""
    key = _norm(header)
    if not key:
        return None
    if key in _MOBILE_EXACT:
        return 0
    if key in _PHONE_EXACT:
        return 1
    if any(word in key for word in _NOT_VALUE):
        return None
    if any(word in key for word in _MOBILE_PART):
        return 2
    if any(word in key for word in _PHONE_PART):
        return 3
    return None


def looks_like_phone(cell: Cell) -> bool:
    """A cheap test for content detection: 6–15 digits with the usual separators, or a whole number of that size."""
    if isinstance(cell, int | float):
        return float(cell).is_integer() and 1e5 <= abs(cell) < 1e15
    if _LOOKS_LIKE_PHONE.fullmatch(cell) is None:
        return False
    digits = sum(c.isdigit() for c in cell)
    return 6 <= digits <= 15


def column_name(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: the letters a spreadsheet shows."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


@dataclass
class ColumnMapping:
    """Where each LOX24 field comes from; indexes are positions in a row's cells."""

    has_header: bool
    phone: int
    fields: dict[str, int]
    #: header (or column letter) → LOX24 field, for the result: {"Mobil": "phone", "Vorname": "a"}.
    used: dict[str, str]
    unmapped: list[str] = field(default_factory=list)
    unmapped_total: int = 0


def map_columns(
    sample: Sequence[Sequence[Cell]],
    *,
    columns: Mapping[str, str] | None,
    group_columns: Mapping[str, str],
    default_region: str | None,
    first_column: int = 0,
) -> ColumnMapping:
    """Decide the mapping from the first rows of the file (`sample[0]` is row 1).

    Args:
        columns: the caller's LOX24 field → header mapping, or None.
        group_columns: the group's own names for its fields, e.g. {"a": "Vorname"}; used without `columns`.
        first_column: the spreadsheet column of cell 0 (a sheet whose data starts in column C has 2).

    Raises:
        FileFormatError: no phone column, or `columns` names something the file does not have.
    """
    rows = [list(r) for r in sample if any(str(c).strip() for c in r)]
    if not rows:
        raise FileFormatError("The file has no rows with content.")
    first = [str(c).strip() if isinstance(c, str) else "" for c in rows[0]]
    width = max(len(r) for r in rows)
    wanted = dict(columns or {})
    unknown = ", ".join(repr(k[:40]) for k in wanted if k not in FIELDS)
    if unknown:
        raise FileFormatError(f"columns has unknown field(s) {unknown[:200]}; the fields are {', '.join(FIELDS)}.")
    if any(len(v) > 200 for v in wanted.values()):
        raise FileFormatError("columns: a header name is longer than 200 characters.")
    folded = {_norm(h): i for i, h in reversed(list(enumerate(first))) if h}
    header_hits = [
        h for h in first if h and (_phone_tier(h) is not None or _norm(h) in _wanted_names(wanted, group_columns))
    ]
    has_header = bool(header_hits) or _looks_like_header(rows)
    data = rows[1:] if has_header else rows

    def find(name: str, purpose: str) -> int:
        if has_header:
            exact = [i for i, h in enumerate(first) if h == name.strip()]
            if exact:
                return exact[0]
            if _norm(name) in folded:
                return folded[_norm(name)]
        position = _position(name, width, first_column)
        if position is not None:
            return position
        headers = ", ".join(repr(h) for h in first if h)[:400] if has_header else "none (the file has no header row)"
        raise FileFormatError(f"columns: the file has no column {name!r} for {purpose}; its headers are {headers}.")

    fields: dict[str, int] = {}
    for key, name in wanted.items():
        if key != "phone":
            fields[key] = find(name, key)
    if "phone" in wanted:
        phone = find(wanted["phone"], "phone")
    else:
        phone = _phone_column(
            first if has_header else [], data, width, default_region, exclude=set(fields.values()), first_row=first
        )
    if not wanted:
        for key, name in sorted(group_columns.items()):
            if key in FIELDS and key != "phone" and name and has_header and _norm(name) in folded:
                index = folded[_norm(name)]
                if index != phone:
                    fields[key] = index

    def label(index: int) -> str:
        if has_header and index < len(first) and first[index]:
            return first[index][:60]
        return column_name(index + first_column)

    used = {label(phone): "phone"}
    for key, index in fields.items():
        used.setdefault(label(index), key)
    taken = {phone, *fields.values()}
    unmapped_all = [first[i][:40] for i in range(len(first)) if first[i] and i not in taken] if has_header else []
    return ColumnMapping(
        has_header=has_header,
        phone=phone,
        fields=fields,
        used=used,
        unmapped=unmapped_all[:MAX_UNMAPPED],
        unmapped_total=len(unmapped_all),
    )


def _wanted_names(wanted: Mapping[str, str], group_columns: Mapping[str, str]) -> set[str]:
    return {_norm(v) for v in [*wanted.values(), *group_columns.values()]}


def _position(name: str, width: int, first_column: int) -> int | None:
    """A column given as a letter (`C`) or 1-based number (`3`)."""
    text = name.strip()
    if text.isdigit() and 1 <= int(text) <= width:
        return int(text) - 1
    if re.fullmatch(r"[A-Za-z]{1,3}", text):
        number = 0
        for char in text.upper():
            number = number * 26 + ord(char) - ord("A") + 1
        index = number - 1 - first_column
        if 0 <= index < width:
            return index
    return None


def _looks_like_header(rows: list[list[Cell]]) -> bool:
    """Row 1 is a header if it has no phone-like value while later rows do."""
    if len(rows) < 2:
        return False
    first_phoneish = any(looks_like_phone(c) for c in rows[0])
    later = any(looks_like_phone(c) for r in rows[1:_SAMPLE_ROWS] for c in r)
    texts = all(isinstance(c, str) for c in rows[0])
    return texts and not first_phoneish and later


def _phone_column(
    header: list[str],
    data: list[list[Cell]],
    width: int,
    default_region: str | None,
    exclude: set[int],
    first_row: list[str],
) -> int:
    sample = data[:_SAMPLE_ROWS]
    scores: dict[int, tuple[int, int, int]] = {}
    for index in range(width):
        values = [r[index] for r in sample if index < len(r) and str(r[index]).strip()]
        looks = sum(1 for v in values if looks_like_phone(v))
        valid = sum(1 for v in values if _valid(v, default_region))
        scores[index] = (valid, looks, len(values))
    named = [(tier, i) for i, h in enumerate(header) if i not in exclude and (tier := _phone_tier(h)) is not None]
    if named:
        # Mobile words first; among equals, the column whose values look like numbers; then the leftmost.
        return min(named, key=lambda t: (t[0], -scores.get(t[1], (0, 0, 0))[1], t[1]))[1]
    candidates = [
        (valid, looks, -i)
        for i, (valid, looks, filled) in scores.items()
        if i not in exclude and filled and looks * 2 >= filled and looks
    ]
    if not candidates:
        shown = ", ".join(repr(h[:40]) for h in first_row if h)[:300]
        where = f"no header in row 1 ({shown}) names one" if shown else "row 1 has no headers"
        raise FileFormatError(
            f"No phone column found: {where}, and no column holds mostly phone numbers. "
            "Pass columns={'phone': '<header>'} to name the column."
        )
    return -max(candidates)[2]


def _valid(cell: Cell, default_region: str | None) -> bool:
    if not looks_like_phone(cell):
        return False
    try:
        to_e164(phone_text(cell, default_region), default_region)
    except (InvalidPhoneError, CellError):
        return False
    return True


class CellError(ValueError):
    """A cell cannot be used as it is; the message says why (it becomes the row's reason)."""


_SCIENTIFIC = re.compile(r"[+-]?\d(?:[.,]\d+)?[eE][+]?\d+")
_TRAILING_ZEROS = re.compile(r"(\+?\d+)[.,]0+")
#: Excel keeps 15 significant digits; E.164 numbers have at most 15.
_MAX_EXACT = 10**15


def phone_text(cell: Cell, default_region: str | None) -> str:
    """The phone cell as text to normalise: numbers recovered exactly, or refused with the reason.

    A number stored as a number has lost its `+` (or, if it was national, its leading 0). Read as
    international first (`4915112345678` → `+4915112345678`) when that is a valid number, else as a
    national number of `default_region`; spreadsheets mostly hold the former, and libphonenumber
    would accept `4915112345678` as a (wrong) German landline too.
    """
    if isinstance(cell, float | int):
        value = float(cell)
        if not value.is_integer():
            raise CellError(f"a number with decimals ({cell!r}), not a phone number")
        if abs(value) >= _MAX_EXACT:
            raise CellError("a number of over 15 digits, rounded by the spreadsheet; format the column as text")
        return _stored_number(str(abs(int(cell))), default_region)
    text = cell.strip()
    if ("e" in text or "E" in text) and _SCIENTIFIC.fullmatch(text):
        raise CellError("written in scientific notation (digits lost); format the column as text, export again")
    plain = _TRAILING_ZEROS.fullmatch(text) if ("." in text or "," in text) else None
    if plain:  # 4915112345678.0: a number written out by a program that read it as a float
        digits = plain.group(1)
        return digits if digits.startswith("+") else phone_text(int(digits), default_region)
    return text


def _stored_number(digits: str, default_region: str | None) -> str:
    try:
        return to_e164("+" + digits)
    except InvalidPhoneError:
        return digits if default_region else "+" + digits  # national, or invalid: the normaliser says why


def field_text(cell: Cell) -> str:
    """Any other cell as text: whole numbers without `.0` (customer numbers), others as written."""
    if isinstance(cell, float):
        if cell.is_integer() and abs(cell) < _MAX_EXACT:
            return str(int(cell))
        return repr(cell)
    if isinstance(cell, int):
        return str(cell)
    return cell.strip()
