"""Reading contact files (`lox24_mcp.ops.contacts_file`): encodings, delimiters, spreadsheets, vCards, mapping.

Files are written to tmp_path in the exact bytes a program would produce (Excel's CSV flavours, UTF-16
"Unicode text", Windows-1252, XLSX written by openpyxl, vCards from phones), then read back.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from lox24_mcp.lox24.models import PhoneEntry
from lox24_mcp.ops.contacts_file import ContactsFile, FileFormatError
from lox24_mcp.ops.contacts_file.mapping import CellError, looks_like_phone, phone_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def open_bytes(data: bytes, name: str = "contacts.csv", **kwargs: Any) -> ContactsFile:
    return ContactsFile.open(io.BytesIO(data), name, **kwargs)


def read_all(contacts: ContactsFile) -> tuple[dict[int, dict[str, str]], dict[int, tuple[str, str]]]:
    """({row: contact fields}, {row: (raw value, reason)}) for the whole file."""
    entries: dict[int, dict[str, str]] = {}
    refused: dict[int, tuple[str, str]] = {}
    for piece in contacts.slices(size=7):
        for row, entry in zip(piece.indexes, piece.entries, strict=True):
            assert isinstance(entry, PhoneEntry)
            entries[row] = entry.model_dump(exclude_none=True)
        for row, raw, reason in piece.refused:
            refused[row] = (raw, reason)
    return entries, refused


def csv_bytes(rows: Sequence[Sequence[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    import csv

    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[Any]], *, sheets: Mapping[str, Sequence[Sequence[Any]]] | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Kontakte"
    for row in rows:
        sheet.append(list(row))
    for name, extra in (sheets or {}).items():
        other = workbook.create_sheet(name)
        for row in extra:
            other.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- the German CRM example


def test_the_german_crm_export_reads_with_row_numbers_and_reasons() -> None:
    with (EXAMPLES / "kunden_export.csv").open("rb") as f:
        contacts = ContactsFile.open(
            f,
            "kunden_export.csv",
            columns={"a": "Vorname", "b": "Nachname", "callback_data": "Kundennummer"},
            default_region="DE",
        )
        assert contacts.description == "CSV, semicolon-separated, UTF-8 with BOM"
        assert contacts.rows_total == 20
        assert contacts.mapping.used == {
            "Mobil": "phone",
            "Vorname": "a",
            "Nachname": "b",
            "Kundennummer": "callback_data",
        }
        assert contacts.mapping.unmapped == []
        entries, refused = read_all(contacts)
    assert entries[2] == {"phone": "0151 12340101", "a": "Anna", "b": "Schneider", "callback_data": "K-10001"}
    assert entries[3]["a"] == "Jürgen" and entries[3]["b"] == "Weiß"
    assert entries[16]["a"] == 'Ute "Uschi"'
    assert entries[21]["a"] == "Markus"  # row numbers stay right after a quoted line break (row 9)
    assert refused[9] == ("", "no phone number in this row")
    assert refused[10][0] == "4,91511E+12" and "scientific notation" in refused[10][1]
    assert set(entries) | set(refused) == set(range(2, 22))


def test_without_columns_only_the_groups_own_captions_are_mapped() -> None:
    data = (EXAMPLES / "kunden_export.csv").read_bytes()
    contacts = open_bytes(data, group_columns={"a": "vorname", "c": "Geburtstag"}, default_region="DE")
    assert contacts.mapping.used == {"Mobil": "phone", "Vorname": "a"}
    assert contacts.mapping.unmapped == ["Nachname", "Kundennummer"]
    plain = open_bytes(data, default_region="DE")
    assert plain.mapping.used == {"Mobil": "phone"}  # nothing guessed into a–e
    assert plain.mapping.unmapped == ["Vorname", "Nachname", "Kundennummer"]


# ----------------------------------------------------------------------------- text encodings and delimiters

ROWS = [["Name", "Telefon"], ["Jürgen Weiß", "+49 151 12345678"], ["Zoë Ångström", "+43 664 1234567"]]


@pytest.mark.parametrize(
    ("data", "described"),
    [
        (csv_bytes(ROWS), "CSV, comma-separated, UTF-8"),
        (codecs.BOM_UTF8 + csv_bytes(ROWS, delimiter=";"), "CSV, semicolon-separated, UTF-8 with BOM"),
        (codecs.BOM_UTF16_LE + csv_bytes(ROWS, delimiter="\t", encoding="utf-16-le"), "CSV, tab-separated, UTF-16"),
        (codecs.BOM_UTF16_BE + csv_bytes(ROWS, delimiter="\t", encoding="utf-16-be"), "CSV, tab-separated, UTF-16"),
        (csv_bytes(ROWS, delimiter=";", encoding="cp1252"), "CSV, semicolon-separated, Windows-1252"),
        (csv_bytes(ROWS, delimiter="|"), "CSV, pipe-separated, UTF-8"),
    ],
)
def test_encodings_and_delimiters_excel_writes(data: bytes, described: str) -> None:
    contacts = open_bytes(data)
    assert contacts.description == described
    entries, refused = read_all(contacts)
    assert refused == {}
    assert entries == {2: {"phone": "+49 151 12345678"}, 3: {"phone": "+43 664 1234567"}}
    assert contacts.mapping.unmapped == ["Name"]


def test_commas_inside_quoted_names_do_not_fool_the_delimiter_sniffer() -> None:
    data = csv_bytes(
        [["Name", "Mobil"], ["Weiß, Jürgen", "0151 12345678"], ["Koch, Eva", "0160 1234567"]], delimiter=";"
    )
    contacts = open_bytes(data, columns={"b": "Name"}, default_region="DE")
    entries, _ = read_all(contacts)
    assert entries[2] == {"phone": "0151 12345678", "b": "Weiß, Jürgen"}


def test_row_numbers_count_records_not_lines_and_skip_blank_rows() -> None:
    text = 'Mobil;Notiz\r\n+4915112345670;"eins\r\nzwei\r\ndrei"\r\n\r\n;leer\r\n+4915112345671;x\r\n'
    contacts = open_bytes(text.encode())
    rows = dict(contacts.reader.rows())
    assert rows[2] == ["+4915112345670", "eins\r\nzwei\r\ndrei"]  # one cell, one row
    entries, refused = read_all(contacts)
    assert contacts.rows_total == 3
    assert refused == {4: ("", "no phone number in this row")}
    assert entries == {2: {"phone": "+4915112345670"}, 5: {"phone": "+4915112345671"}}


def test_binary_and_nul_bytes_are_refused_with_a_reason() -> None:
    with pytest.raises(FileFormatError, match="NUL bytes"):
        open_bytes("Mobil\n+4915112345678\n".encode("utf-16-le"))  # UTF-16 without its BOM
    with pytest.raises(FileFormatError, match="not one"):
        open_bytes(b"Mobil\n+4915112345678\n", "contacts.xlsx")


def test_a_file_with_only_a_header_or_no_phone_column_is_refused() -> None:
    with pytest.raises(FileFormatError, match="no contacts"):
        open_bytes(b"Vorname;Mobil\r\n")
    with pytest.raises(FileFormatError, match="No phone column") as caught:
        open_bytes(csv_bytes([["Vorname", "Stadt"], ["Anna", "Berlin"], ["Eva", "Köln"]]))
    assert "'Vorname'" in str(caught.value) and "columns=" in str(caught.value)


# ----------------------------------------------------------------------------- finding the phone column


@pytest.mark.parametrize(
    "header",
    [
        "Phone", "Mobile Phone", "Cell", "Handy", "Telefon", "Mobil", "Mobilnummer", "Handy-Nr.", "Móvil",
        "Teléfono", "TELÉFONO MÓVIL", "Portable", "Téléphone portable", "Cellulare", "Numero di telefono",
        "Rufnummer", "tel.", "MSISDN",
    ],
)  # fmt: skip
def test_phone_headers_in_five_languages(header: str) -> None:
    data = csv_bytes([["Kunde", header, "Ort"], ["Anna", "+4915112345678", "Bonn"]])
    assert open_bytes(data).mapping.used == {header: "phone"}


def test_a_mobile_column_wins_over_a_landline_column_and_type_columns_are_ignored() -> None:
    data = csv_bytes(
        [
            ["Phone 1 - Type", "Phone 1 - Value", "Telefon", "Mobiltelefon"],
            ["Mobile", "+4930123456", "+4930123456", "+4915112345678"],
        ]
    )
    contacts = open_bytes(data)
    assert contacts.mapping.used == {"Mobiltelefon": "phone"}
    assert contacts.mapping.unmapped == ["Phone 1 - Type", "Phone 1 - Value", "Telefon"]
    google = open_bytes(csv_bytes([["Name", "Phone 1 - Type", "Phone 1 - Value"], ["A", "Mobile", "+4915112345678"]]))
    assert google.mapping.used == {"Phone 1 - Value": "phone"}


def test_without_a_header_the_column_of_phone_numbers_is_found_by_content() -> None:
    rows = [["Anna", "100234", "0151 1234567"], ["Eva", "100235", "0160 1234567"], ["Tom", "100236", "0171 1234567"]]
    contacts = open_bytes(csv_bytes(rows, delimiter=";"), default_region="DE")
    assert not contacts.mapping.has_header
    assert contacts.mapping.used == {"C": "phone"}
    assert contacts.rows_total == 3
    entries, _ = read_all(contacts)
    assert sorted(entries) == [1, 2, 3]  # row 1 is data


def test_an_unnamed_header_row_is_recognised_and_its_phone_column_found_by_content() -> None:
    rows = [["Wer", "Wo", "Nr"], ["Anna", "Bonn", "+4915112345678"], ["Eva", "Köln", "+4916012345678"]]
    contacts = open_bytes(csv_bytes(rows))
    assert contacts.mapping.has_header and contacts.mapping.used == {"Nr": "phone"}


def test_columns_name_headers_letters_or_numbers_and_unknown_names_are_explained() -> None:
    data = csv_bytes([["Vorname", "Durchwahl"], ["Anna", "+4915112345678"]])
    assert open_bytes(data, columns={"phone": "durchwahl", "a": "A"}).mapping.used == {
        "Durchwahl": "phone",
        "Vorname": "a",
    }
    assert open_bytes(data, columns={"phone": "2"}).mapping.phone == 1
    with pytest.raises(FileFormatError, match="no column 'Nachname' for b; its headers are 'Vorname', 'Durchwahl'"):
        open_bytes(data, columns={"phone": "Durchwahl", "b": "Nachname"})
    with pytest.raises(FileFormatError, match="unknown field"):
        open_bytes(data, columns={"phone": "Durchwahl", "name": "Vorname"})


def test_unmapped_headers_are_capped_for_the_result() -> None:
    header = ["Mobil", *[f"Spalte {i}" for i in range(40)]]
    contacts = open_bytes(csv_bytes([header, ["+4915112345678", *["x"] * 40]]))
    assert len(contacts.mapping.unmapped) == 20 and contacts.mapping.unmapped_total == 40


def test_a_field_lox24_would_refuse_is_reported_for_its_row() -> None:
    data = csv_bytes([["Mobil", "Kundennummer"], ["+4915112345678", "K" * 37], ["+4915112345679", "K-1"]])
    entries, refused = read_all(open_bytes(data, columns={"callback_data": "Kundennummer"}))
    assert entries == {3: {"phone": "+4915112345679", "callback_data": "K-1"}}
    assert refused[2][0] == "+4915112345678"
    assert refused[2][1].startswith("column 'Kundennummer' (callback_data):") and "36" in refused[2][1]


# ----------------------------------------------------------------------------- numbers stored as numbers


@pytest.mark.parametrize(
    ("cell", "region", "expected"),
    [
        (4915112345678.0, None, "+4915112345678"),
        (4915112345678, None, "+4915112345678"),
        (15112345678.0, "DE", "15112345678"),
        (4915112345678.0, "DE", "+4915112345678"),
        (436641234567, "DE", "+436641234567"),
        ("4915112345678.0", None, "+4915112345678"),
        ("+4915112345678.00", None, "+4915112345678"),
        (" 0151 12345678 ", "DE", "0151 12345678"),
    ],
)
def test_numbers_are_recovered_exactly(cell: float | str, region: str | None, expected: str) -> None:
    assert phone_text(cell, region) == expected


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (4915112345678.5, "decimals"),
        (1.2345678901234567e16, "over 15 digits"),
        ("4.91511E+12", "scientific notation"),
        ("4,91511E+12", "scientific notation"),
        ("4.9151123456789e12", "scientific notation"),
    ],
)
def test_numbers_that_lost_digits_are_refused_never_rounded(cell: float | str, reason: str) -> None:
    with pytest.raises(CellError, match=reason):
        phone_text(cell, "DE")


def test_looks_like_phone() -> None:
    assert looks_like_phone("+49 (151) 123-45678") and looks_like_phone(4915112345678.0)
    assert not looks_like_phone("12345") and not looks_like_phone("K-10001") and not looks_like_phone(3.5)


# ----------------------------------------------------------------------------- spreadsheets


def test_xlsx_numbers_text_and_row_numbers() -> None:
    data = xlsx_bytes(
        [
            ["Vorname", "Mobil", "Kundennummer"],
            ["Anna", 4915112345678, 10001],
            ["Eva", "0160 1234567", 10002.0],
            ["Tom", 4915112345678.5, "K-3"],
            [None, None, None],
            ["Uwe", 1.2345678901234567e16, "K-5"],
        ]
    )
    contacts = open_bytes(data, "kontakte.xlsx", columns={"a": "Vorname", "callback_data": "Kundennummer"})
    assert contacts.description == "spreadsheet, sheet 'Kontakte'"
    entries, refused = read_all(contacts)
    assert entries == {
        2: {"phone": "+4915112345678", "a": "Anna", "callback_data": "10001"},
        3: {"phone": "0160 1234567", "a": "Eva", "callback_data": "10002"},
    }
    assert refused[4][0] == "4915112345678.5" and "decimals" in refused[4][1]
    assert refused[6][0].startswith("1.23456789012345") and "15 digits" in refused[6][1]
    assert contacts.rows_total == 4


def test_xlsx_named_sheet_data_off_the_corner_and_unknown_sheets() -> None:
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Notizen"
    first["A1"] = "nothing here"
    sheet = workbook.create_sheet("Kunden")
    sheet["C3"], sheet["D3"] = "Name", "Handy"
    sheet["C4"], sheet["D4"] = "Anna", "+4915112345678"
    buffer = io.BytesIO()
    workbook.save(buffer)
    contacts = open_bytes(buffer.getvalue(), "k.xlsx", sheet="kunden", columns={"a": "C"})
    entries, _ = read_all(contacts)
    assert entries == {4: {"phone": "+4915112345678", "a": "Anna"}}
    assert contacts.mapping.used == {"Handy": "phone", "Name": "a"}
    assert open_bytes(buffer.getvalue(), "k.xlsx", sheet="2").reader.sheet == "Kunden"
    with pytest.raises(FileFormatError, match="no sheet 'Tabelle1'; its sheets are 'Notizen', 'Kunden'"):
        open_bytes(buffer.getvalue(), "k.xlsx", sheet="Tabelle1")
    with pytest.raises(FileFormatError, match="spreadsheets only"):
        open_bytes(csv_bytes(ROWS), sheet="Kunden")


def test_the_example_workbook_reads_like_the_csv() -> None:
    with (EXAMPLES / "kunden_export.xlsx").open("rb") as f:
        contacts = ContactsFile.open(f, "kunden_export.xlsx", columns={"a": "Vorname", "b": "Nachname"})
        entries, refused = read_all(contacts)
    assert contacts.rows_total >= 10
    assert any(entry["phone"].startswith("+49") for entry in entries.values())  # numbers stored as numbers
    assert refused, "the example has broken rows on purpose"


# ----------------------------------------------------------------------------- vCards

VCARDS = (
    "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BC=\r\nrgen;;;\r\n"
    "TEL;CELL:0151 12345678\r\nTEL;HOME;VOICE:+49 30 1234567\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Eva\r\n  Koch\r\nN:Koch;Eva;;;\r\nitem1.TEL;TYPE=CELL,pref:+43 664 1234567\r\n"
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë\\, die Erste\r\n"
    'TEL;VALUE=uri;TYPE="cell,voice":tel:+41-79-123-45-67;ext=9\r\n'
    "END:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Only Mail\r\nEMAIL:x@example.org\r\nEND:VCARD\r\n"
)


def test_vcards_every_tel_of_every_card_with_names() -> None:
    contacts = open_bytes(VCARDS.encode(), "contacts.vcf", columns={"a": "first name", "b": "last name", "c": "name"})
    assert contacts.description == "vCard, UTF-8"
    assert contacts.rows_total == 5
    entries, refused = read_all(contacts)
    assert entries[5] == {"phone": "0151 12345678", "a": "Jürgen", "b": "Müller", "c": "Jürgen Müller"}
    assert entries[6]["phone"] == "+49 30 1234567"
    assert entries[13] == {"phone": "+43 664 1234567", "a": "Eva", "b": "Koch", "c": "Eva Koch"}
    assert entries[18] == {"phone": "+41-79-123-45-67", "c": "Zoë, die Erste"}
    assert refused == {20: ("", "no phone number in this row")}
    assert contacts.mapping.used == {"phone": "phone", "first name": "a", "last name": "b", "name": "c"}


def test_a_vcard_is_recognised_by_content_and_an_unterminated_one_is_refused() -> None:
    assert open_bytes(VCARDS.encode("utf-16"), "export.txt").description == "vCard, UTF-16"
    with pytest.raises(FileFormatError, match="never ends"):
        open_bytes(b"BEGIN:VCARD\r\nTEL:+4915112345678\r\n", "a.vcf")


def test_control_and_bidi_characters_in_cells_are_refused_per_row_by_the_contact_model() -> None:
    """Cells reach LOX24 only as contact fields, checked by `PhoneEntry` like any other contact."""
    from pydantic import ValidationError

    try:
        PhoneEntry(phone="+4915112345678", a="Anna\u202e")
    except ValidationError:
        pass
    else:
        pytest.skip("PhoneEntry does not refuse invisible characters yet (the hardening issue adds it)")
    data = csv_bytes([["Mobil", "Vorname"], ["+4915112345678", "Anna\u202egnaW"], ["+4915112345679", "Eva"]])
    entries, refused = read_all(open_bytes(data, columns={"a": "Vorname"}))
    assert entries == {3: {"phone": "+4915112345679", "a": "Eva"}}
    assert refused[2][0] == "+4915112345678" and refused[2][1].startswith("column 'Vorname' (a):")
    assert "202E" in refused[2][1]
