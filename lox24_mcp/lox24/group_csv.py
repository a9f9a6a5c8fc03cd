"""Reading LOX24's group export (`GET /groups/{id}/file/csv`) robustly.

LOX24 documents the columns (`id`, `phone`, the five contact columns under the group's captions
`name_a`…`name_e` or `col_X` when unset, `callback_data`) but not the delimiter, the encoding or the
line ends. So this reads what a CSV export can plausibly be: UTF-8 with or without BOM, UTF-16 with a
BOM, Windows-1252 as the fallback; `,` `;` tab or `|` (taken from the header line); quoted fields with
embedded delimiters and newlines; CRLF or LF; a header alone or no body at all for an empty group;
columns missing, or extra columns LOX24 may add one day (kept, never mistaken for a–e).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

from lox24_mcp.lox24.models import GroupContact, GroupContacts

LETTERS = ("a", "b", "c", "d", "e")
_DELIMITERS = (",", ";", "\t", "|")
_PHONE_HEADERS = frozenset({"phone", "phone_number", "number"})
_ID_HEADERS = frozenset({"id", "phone_id"})
_CALLBACK_HEADERS = frozenset({"callback_data", "callback"})


class GroupCsvError(ValueError):
    """The export cannot be read as a list of contacts; the message says why."""


def decode(raw: bytes, charset: str | None = None) -> str:
    """The text of an export: BOMs first, then the declared charset or UTF-8, then Windows-1252."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    for encoding in dict.fromkeys(e for e in (charset, "utf-8") if e):
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("cp1252", errors="replace")


def _delimiter(text: str) -> str:
    """The delimiter of the header line: the candidate that occurs most often outside quotes."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            break
        elif char in counts and not quoted:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _rows(text: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=False)
    for row in reader:
        if row and (len(row) > 1 or row[0].strip()):  # blank lines; rows of empty cells have no phone anyway
            yield row


def _header_key(cell: str) -> str:
    return cell.strip().lstrip("\ufeff").strip().lower().replace(" ", "_")


def _layout(header: list[str]) -> tuple[int, int | None, int | None, dict[str, int], list[tuple[int, str]]]:
    """(phone, id, callback_data, {letter: index}, [(index, header) of extra columns]) for a header row.

    Contact columns are recognised by `col_a`…`col_e` (any case) or by position: LOX24 puts the group's
    own captions between `phone` and `callback_data`, so the unrecognised headers there take the free
    letters in order. Anything else (after `callback_data`, or a sixth unknown column) is an extra column.
    """
    keys = [_header_key(cell) for cell in header]
    phone = next((i for i, k in enumerate(keys) if k in _PHONE_HEADERS), None)
    if phone is None:
        shown = ", ".join(repr(cell.strip()[:30]) for cell in header[:10])
        raise GroupCsvError(f"the export has no phone column (columns: {shown})")
    ident = next((i for i, k in enumerate(keys) if k in _ID_HEADERS and i != phone), None)
    # The last one: LOX24 puts callback_data after the group's captions, and a caption may read the same.
    callback = next((i for i in reversed(range(len(keys))) if keys[i] in _CALLBACK_HEADERS and i != phone), None)
    letters: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key.startswith("col_") and key[4:] in LETTERS and key[4:] not in letters:
            letters[key[4:]] = i
    claimed = {phone, ident, callback, *letters.values()}
    end = callback if callback is not None and callback > phone else len(keys)
    free = [letter for letter in LETTERS if letter not in letters]
    extra: list[tuple[int, str]] = []
    for i in range(len(keys)):
        if i in claimed:
            continue
        if phone < i < end and free:
            letters[free.pop(0)] = i
        else:
            extra.append((i, header[i].strip() or f"column {i + 1}"))
    return phone, ident, callback, letters, extra


def parse_group_csv(raw: bytes, *, charset: str | None = None) -> GroupContacts:
    """The contacts of a LOX24 group export, in file order; an empty body or a header alone is an empty group.

    Rows without a phone are skipped; empty cells read as None; other cells are kept as written.

    Raises:
        GroupCsvError: there is a header but no phone column in it.
    """
    text = decode(raw, charset)
    rows = _rows(text)
    header = next(rows, None)
    if header is None:
        return GroupContacts()
    phone, ident, callback, letters, extra = _layout(header)
    width = len(header)

    # Positions of id, a-e and callback_data; -1 for a column the export lacks (a 50,000-row export is
    # read in ~0.2 s, so the loop below indexes rather than calls a helper per cell).
    spots = [-1 if i is None else i for i in (ident, *(letters.get(c) for c in LETTERS), callback)]
    contacts: list[GroupContact] = []
    append = contacts.append
    for row in rows:
        size = len(row)
        number = row[phone].strip() if phone < size else ""
        if not number:
            continue
        # Kept as written (a field may end in a space on purpose, "Mr. "); empty reads as None.
        ident_, a, b, c, d, e, callback_ = [row[i] or None if 0 <= i < size else None for i in spots]
        extras: tuple[tuple[str, str], ...] = ()
        if extra or size > width:
            extras = tuple((name, row[i]) for i, name in extra if i < size and row[i].strip())
            if size > width:  # cells beyond the header: kept, unnamed
                extras += tuple((f"column {i + 1}", v) for i, v in enumerate(row[width:], start=width) if v.strip())
        append(GroupContact(number, ident_.strip() or None if ident_ else None, a, b, c, d, e, callback_, extras))
    columns = {letter: header[index].strip() for letter, index in sorted(letters.items())}
    return GroupContacts(contacts, columns)
