"""XLSX readers: python-calamine vs openpyxl (read-only mode) on one generated 100,000-row workbook.

Each reader runs in a fresh interpreter (so peak RSS is its own), reads every row of the first sheet
and touches every cell; reported are wall time and the peak RSS above the interpreter's RSS after its
imports. A third run reads the same file through `ContactsFile` (what `add_phones_from_file` does:
check and count, then read again in slices of 500 validated contacts). The workbook looks like a CRM
export: first name, last name, mobile (a third stored as numbers), customer number, a date.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import ROOT, Row, median, say

NAME = "xlsx readers"

_CHILD = r"""
import json, sys, time
from pathlib import Path

def hwm_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

which, path = sys.argv[1], sys.argv[2]
if which == "calamine":
    from python_calamine import CalamineWorkbook
elif which == "openpyxl":
    import openpyxl
else:
    from lox24_mcp.ops.contacts_file import ContactsFile
before = hwm_kb()
started = time.perf_counter()
rows = cells = 0
if which == "calamine":
    with open(path, "rb") as f:
        sheet = CalamineWorkbook.from_filelike(f).get_sheet_by_index(0)
        for row in sheet.iter_rows():
            rows += 1
            cells += len(row)
elif which == "openpyxl":
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for row in workbook.worksheets[0].iter_rows(values_only=True):
        rows += 1
        cells += len(row)
    workbook.close()
else:
    with open(path, "rb") as f:
        contacts = ContactsFile.open(f, "bench.xlsx", columns={"a": "Vorname", "b": "Nachname"}, default_region="DE")
        for piece in contacts.slices(500):
            rows += piece.rows
            cells += len(piece.entries)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": rows, "cells": cells, "before_kb": before, "peak_kb": hwm_kb()}))
"""


def write_workbook(path: Path, count: int) -> float:
    """A CRM-like workbook of `count` contacts (openpyxl write-only); returns seconds it took."""
    from openpyxl import Workbook

    started = time.perf_counter()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Kunden")
    sheet.append(["Vorname", "Nachname", "Mobil", "Kundennummer", "Kunde seit"])
    first = ["Anna", "Jürgen", "Søren", "Maria", "Klaus", "Fatma", "Ömer", "Zoë"]
    last = ["Schneider", "Weiß", "Ølgaard", "Müller-Lüdenscheidt", "Bäcker", "Yılmaz", "Doğan", "Ångström"]
    day = dt.date(2020, 1, 1)
    for i in range(count):
        mobile: object = 4915100000000 + i if i % 3 == 0 else f"0151 {i:08d}"
        sheet.append([first[i % 8], last[i % 7], mobile, 100000 + i, day + dt.timedelta(days=i % 1000)])
    workbook.save(path)
    return time.perf_counter() - started


def run_reader(which: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, which, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{which} reader failed: {done.stderr[-1000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def main(quick: bool) -> list[Row]:
    count = 10_000 if quick else 100_000
    runs = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.xlsx"
        made = write_workbook(path, count)
        say(f"  wrote {count:,} rows ({path.stat().st_size / 1e6:.1f} MB) in {made:.1f} s")
        samples: dict[str, list[dict[str, float]]] = {"calamine": [], "openpyxl": [], "ContactsFile": []}
        for round_no in range(runs):
            order = list(samples)
            order = order[round_no % 3 :] + order[: round_no % 3]
            for which in order:
                samples[which].append(run_reader(which, path))
    seconds = {k: median([s["seconds"] for s in v]) for k, v in samples.items()}
    extra_mb = {k: median([(s["peak_kb"] - s["before_kb"]) / 1024 for s in v]) for k, v in samples.items()}
    for which in samples:
        rows = int(samples[which][0]["rows"])
        say(f"  {which:<12} {seconds[which]:.2f} s, +{extra_mb[which]:.1f} MB peak RSS, {rows:,} rows")
    ratio = seconds["calamine"] / seconds["openpyxl"]
    return [
        Row(
            f"read {count:,}-row XLSX: calamine vs openpyxl",
            f"{seconds['calamine']:.2f} s",
            f"{seconds['openpyxl']:.2f} s",
            ratio,
            "—",
            None,
            f"median of {runs}, fresh interpreter each; every cell touched",
        ),
        Row(
            f"read {count:,}-row XLSX: peak RSS above imports",
            f"{extra_mb['calamine']:.1f} MB",
            f"{extra_mb['openpyxl']:.1f} MB",
            extra_mb["calamine"] / max(extra_mb["openpyxl"], 0.1),
            "—",
            None,
            "calamine holds the sheet's values; openpyxl streams the XML",
        ),
        Row(
            f"read {count:,}-row XLSX: ContactsFile (check + slices)",
            f"{seconds['ContactsFile']:.2f} s",
            f"{seconds['calamine']:.2f} s",
            seconds["ContactsFile"] / seconds["calamine"],
            "—",
            None,
            f"+{extra_mb['ContactsFile']:.1f} MB peak; baseline: calamine alone",
        ),
    ]
