"""The audit trail: one JSON line per decision, on the log and in the file, without numbers or secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.ops.audit import AuditLog, AuditRecord, client_label, selection_summary

pytestmark = pytest.mark.anyio


def record(**overrides: object) -> AuditRecord:
    fields: dict[str, object] = {
        "operation": "cancel_sms",
        "selection": selection_summary(SmsFilters(phone="+4915112345678", iso2="DE")),
        "matched": 3,
        "confirmation": "dialog",
        "outcome": "cancelled",
        "cancelled": 3,
        "client": client_label("claude-code", "2.1.80"),
        "request_ids": ["abc123"],
    }
    fields.update(overrides)
    return AuditRecord(**fields)  # type: ignore[arg-type]


async def test_each_record_is_one_fsynced_json_line_in_the_file_and_on_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    audit.ensure_writable()
    with caplog.at_level(logging.INFO, logger="lox24_mcp.audit"):
        await audit.record(record())
        await audit.record(record(confirmation="declined", outcome="not_cancelled", cancelled=None))
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert next(iter(first)) == "time"
    assert first["selection"] == "iso2=DE, phone=+49151•••••678"
    assert (first["confirmation"], first["outcome"], first["cancelled"]) == ("dialog", "cancelled", 3)
    assert first["client"] == "claude-code/2.1.80" and first["request_ids"] == ["abc123"]
    assert (second["confirmation"], second["outcome"]) == ("declined", "not_cancelled") and second["cancelled"] is None
    assert [r.getMessage() for r in caplog.records] == lines
    assert "+4915112345678" not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600


async def test_without_a_file_records_go_to_the_log_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="lox24_mcp.audit"):
        await AuditLog().record(record(confirmation="policy_off"))
    assert json.loads(caplog.records[0].getMessage())["confirmation"] == "policy_off"


def test_an_unwritable_file_stops_the_start_not_a_cancel(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditLog(tmp_path / "missing-dir" / "audit.jsonl")
    with pytest.raises(FileNotFoundError):
        audit.ensure_writable()
    with caplog.at_level(logging.INFO, logger="lox24_mcp.audit"):
        audit.write(record())  # after the fact: logged, never raised
    assert any("could not append" in r.getMessage() for r in caplog.records)


def test_client_labels_are_short_and_printable() -> None:
    assert client_label(None, "1") is None
    assert client_label("x\n\x1b[31mevil", None) == "x[31mevil"
    assert len(client_label("a" * 500, "1") or "") == 80
