"""Write examples/kunden_export.xlsx: the German CRM export of kunden_export.csv as an Excel workbook.

Like a real export, some numbers are stored as numbers (Excel drops the `+`; they come back exactly),
and a few rows are broken on purpose (a number with decimals, one Excel rounded to 15+ digits, no
number, text). Run it again after changing the rows: `.venv/bin/python examples/make_kunden_xlsx.py`.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
OUT = HERE / "kunden_export.xlsx"

ROWS: list[tuple[object, ...]] = [
    ("Vorname", "Nachname", "Mobil", "Kundennummer", "Kunde seit"),
    ("Anna", "Schneider", 4915112340201, 20001, dt.date(2019, 3, 1)),
    ("Jürgen", "Weiß", "+49 160 1234202", 20002, dt.date(2020, 7, 15)),
    ("Søren", "Ølgaard", "0171 1234203", 20003, dt.date(2021, 1, 4)),
    ("Maria", "Müller-Lüdenscheidt", 4915212340204, 20004, dt.date(2018, 11, 30)),
    ("Klaus", "Bäcker", 4915112340201.5, 20005, dt.date(2022, 5, 2)),  # broken: decimals
    ("Fatma", "Yılmaz", 4.915112340206e16, 20006, dt.date(2023, 2, 14)),  # broken: more than 15 digits
    ("Tom", "Richter", None, 20007, dt.date(2017, 9, 9)),  # broken: no number
    ("Heike", "Neumann", "kein Handy", 20008, dt.date(2016, 4, 21)),  # broken: text
    ("Sabine", "Hoffmann", 436641234209, 20009, dt.date(2020, 12, 24)),
    ("Paul", "Schäfer", "0151 12340201", 20010, dt.date(2024, 6, 1)),  # the same number as row 2
    ("Ömer", "Doğan", "+41 79 123 42 11", 20011, dt.date(2019, 10, 10)),
    ("Nina", "Schmitt", "0160 12340212", 20012, dt.date(2021, 8, 8)),
]


def build(path: Path = OUT) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Kunden"
    for row in ROWS:
        sheet.append(list(row))
    notes = workbook.create_sheet("Hinweise")
    notes.append(["Export aus dem CRM, Kontakte mit Einwilligung zu SMS-Werbung."])
    # Fixed metadata, so the committed file only changes when the rows do.
    stamp = dt.datetime(2026, 1, 1, 0, 0, 0)
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.creator = "lox24-mcp examples"
    workbook.save(path)
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {build()}\n")
