"""`add_phones_from_file` through the official MCP client (in memory) against the sandbox over loopback HTTP.

The example files of examples/ are copied into an allowed folder in tmp_path; every other path is refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import data_of, text_of
from mcp import Client
from mcp.server import MCPServer
from mcp.types import TextContent
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.mcp.state import AppState
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CRM_COLUMNS = {"a": "Vorname", "b": "Nachname", "callback_data": "Kundennummer"}


def make_server(sandbox: SandboxServer, *dirs: Path) -> MCPServer[AppState]:
    settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url, import_dirs=tuple(str(d) for d in dirs))
    return create_server(settings, sandbox=True)


@pytest.fixture
def imports(tmp_path: Path) -> Path:
    folder = tmp_path / "imports"
    folder.mkdir()
    for name in ("kunden_export.csv", "kunden_export.xlsx"):
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def posts(sandbox: SandboxServer) -> list[str]:
    return [r.path for r in sandbox.state.requests if r.method == "POST"]


async def test_without_allowed_folders_the_tool_says_how_to_allow_one(empty_sandbox: SandboxServer) -> None:
    group = empty_sandbox.state.add_group("Kunden")
    async with Client(make_server(empty_sandbox)) as client:
        result = await client.call_tool("add_phones_from_file", {"group_id": group, "path": "/etc/passwd"})
    assert result.is_error
    assert "LOX24_MCP_IMPORT_DIRS" in text_of(result) and "passwd" not in text_of(result)
    assert empty_sandbox.state.requests == []


async def test_dry_run_then_import_then_rerun_of_the_german_crm_export(
    empty_sandbox: SandboxServer, imports: Path
) -> None:
    state = empty_sandbox.state
    group = state.add_group("Kunden", columns={"a": "Vorname", "b": "Nachname"})
    state.add_phones(group, [{"phone": "+4915112340118"}])  # Dieter Lange (row 19) is already there
    args: dict[str, Any] = {"group_id": group, "path": "kunden_export.csv", "default_region": "DE"}
    async with Client(make_server(empty_sandbox, imports)) as client:
        dry = data_of(await client.call_tool("add_phones_from_file", {**args, "dry_run": True}))
        assert posts(empty_sandbox) == [], "a dry run sends nothing"
        assert dry["dry_run"] is True and dry["created"] == 0
        assert dry["rows"] == 20
        assert (dry["new"], dry["already_in_group"], dry["invalid"], dry["duplicates"]) == (14, 1, 4, 1)
        # Without columns, only the group's own captions are mapped; the rest is listed for the assistant.
        assert dry["columns_used"] == {"Mobil": "phone", "Vorname": "a", "Nachname": "b"}
        assert dry["unmapped_headers"] == ["Kundennummer"]
        assert dry["file"] == "kunden_export.csv: CSV, semicolon-separated, UTF-8 with BOM"
        assert [p.split(":")[0] for p in dry["problems"]] == [
            "row 8 '01511234010'",
            "row 9 ''",
            "row 10 '4,91511E+12'",
            "row 11 '0151 12340101'",
            "row 14 'kein Handy'",
        ]
        assert "same number as row 2" in dry["problems"][3]
        assert "Dry run, nothing was sent: 14 of 20" in dry["message"]

        done = data_of(await client.call_tool("add_phones_from_file", {**args, "columns": CRM_COLUMNS}))
        assert (done["created"], done["already_in_group"], done["invalid"], done["duplicates"]) == (14, 1, 4, 1)
        assert done["unmapped_headers"] == []
        stored = {p["phone"]: p for p in state.group_phones(group)}
        assert len(stored) == 15
        anna = stored["+4915112340101"]
        assert (anna["a"], anna["b"], anna["callback_data"]) == ("Anna", "Schneider", "K-10001")
        assert stored["+4917012340120"]["a"] == "Markus", "rows after a quoted line break keep their numbers"

        again = data_of(await client.call_tool("add_phones_from_file", {**args, "columns": CRM_COLUMNS}))
        assert (again["created"], again["already_in_group"]) == (0, 15), "a re-run adds nothing twice"
    assert len(state.group_phones(group)) == 15


async def test_the_example_workbook_imports_numbers_stored_as_numbers(
    empty_sandbox: SandboxServer, imports: Path
) -> None:
    group = empty_sandbox.state.add_group("Kunden")
    async with Client(make_server(empty_sandbox, imports)) as client:
        result = data_of(
            await client.call_tool(
                "add_phones_from_file",
                {"group_id": group, "path": "kunden_export.xlsx", "columns": {"a": "Vorname"}, "default_region": "DE"},
            )
        )
    assert result["file"] == "kunden_export.xlsx: spreadsheet, sheet 'Kunden'"
    phones = {p["phone"] for p in empty_sandbox.state.group_phones(group)}
    assert {"+4915112340201", "+4915212340204", "+436641234209"} <= phones
    assert result["created"] == len(phones) == 7 and result["rows"] == 12
    reasons = " ".join(result["problems"])
    assert "row 6" in reasons and "decimals" in reasons and "row 7" in reasons and "15 digits" in reasons
    assert result["unmapped_headers"] == ["Nachname", "Kundennummer", "Kunde seit"]


async def test_progress_reports_rows_done_of_rows_total(empty_sandbox: SandboxServer, tmp_path: Path) -> None:
    rows = ["Mobil"] + [f"+49151{n:08d}" for n in range(1200)]
    (tmp_path / "many.csv").write_text("\n".join(rows) + "\n")
    group = empty_sandbox.state.add_group("Viele")
    reported: list[tuple[float, float | None]] = []

    async def record(progress: float, total: float | None, message: str | None) -> None:
        del message
        reported.append((progress, total))

    async with Client(make_server(empty_sandbox, tmp_path)) as client:
        result = data_of(
            await client.call_tool(
                "add_phones_from_file", {"group_id": group, "path": "many.csv"}, progress_callback=record
            )
        )
    assert result["created"] == 1200
    assert reported and all(total == 1200 for _, total in reported)
    assert reported[-1][0] == 1200 and [p for p, _ in reported] == sorted(p for p, _ in reported)


async def test_refusals_are_one_sentence_and_send_nothing(empty_sandbox: SandboxServer, imports: Path) -> None:
    group = empty_sandbox.state.add_group("Kunden")
    (imports.parent / "outside.csv").write_text("Mobil\n+4915112345678\n")
    (imports / "noheader.csv").write_text("Vorname;Stadt\nAnna;Bonn\n")
    cases = {
        "../outside.csv": "outside the folders",
        "missing.csv": "There is no file",
        "noheader.csv": "No phone column found",
    }
    async with Client(make_server(empty_sandbox, imports)) as client:
        for path, expected in cases.items():
            result = await client.call_tool("add_phones_from_file", {"group_id": group, "path": path})
            assert result.is_error and expected in text_of(result), text_of(result)
        bad_columns = await client.call_tool(
            "add_phones_from_file", {"group_id": group, "path": "kunden_export.csv", "columns": {"x": "Vorname"}}
        )
        assert bad_columns.is_error and "unknown field" in text_of(bad_columns)
        missing_group = await client.call_tool(
            "add_phones_from_file", {"group_id": 999_999, "path": "kunden_export.csv"}
        )
        assert missing_group.is_error and "no contact group with id 999999" in text_of(missing_group)
    assert posts(empty_sandbox) == []


async def test_the_result_stays_under_4_kb_whatever_the_file_holds(
    empty_sandbox: SandboxServer, tmp_path: Path
) -> None:
    header = ["Telefon", *[f"Eine sehr lange Spaltenüberschrift Nummer {i} " * 3 for i in range(60)]]
    lines = [";".join(header)] + [";".join([f"kaputt {'x' * 200} {i}", *["v"] * 60]) for i in range(300)]
    (tmp_path / "wide.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    group = empty_sandbox.state.add_group("Breit")
    async with Client(make_server(empty_sandbox, tmp_path)) as client:
        result = await client.call_tool("add_phones_from_file", {"group_id": group, "path": "wide.csv"})
    data = data_of(result)
    assert data["invalid"] == 300 and data["problems_total"] == 300 and data["problems"]
    size = len(json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False).encode())
    assert size <= 4096, size


async def test_the_import_contacts_prompt_leads_with_the_file_flow(empty_sandbox: SandboxServer) -> None:
    async with Client(make_server(empty_sandbox)) as client:
        prompt = next(p for p in (await client.list_prompts()).prompts if p.name == "import_contacts")
        assert [a.name for a in prompt.arguments or []] == ["group", "file", "default_region"]
        rendered = await client.get_prompt("import_contacts", {"group": "Kunden", "file": "kunden.csv"})
    content = rendered.messages[0].content
    assert isinstance(content, TextContent)
    text = content.text
    assert 'path "kunden.csv"' in text and "dry_run=true" in text
    assert text.index("add_phones_from_file") < text.index("add_phones_to_group"), "the file flow comes first"


def test_hostile_paths_columns_and_sheets_get_a_sentence_never_a_traceback(
    empty_sandbox: SandboxServer, imports: Path
) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    group = empty_sandbox.state.add_group("Kunden")
    (imports.parent / "secret.csv").write_text("Mobil\n+4915112345678\n")
    server = make_server(empty_sandbox, imports)
    paths = st.one_of(
        st.text(max_size=60),
        st.sampled_from(["../secret.csv", "kunden_export.csv\x00", "/etc/passwd", "", "kunden_export.xlsx", "."]),
        st.just("x" * 5000),
    )
    junk = st.one_of(st.none(), st.text(max_size=20), st.integers(), st.lists(st.text(max_size=5), max_size=2))

    @settings(deadline=None, derandomize=True, database=None, max_examples=40,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
    @given(
        path=paths,
        columns=st.one_of(st.none(), st.dictionaries(st.text(max_size=12), junk, max_size=3)),
        sheet=junk,
    )
    def run(path: str, columns: Any, sheet: Any) -> None:
        async def check() -> None:
            arguments = {"group_id": group, "path": path, "columns": columns, "sheet": sheet, "dry_run": True}
            async with Client(server) as client:
                result = await client.call_tool("add_phones_from_file", arguments)
            if result.is_error:
                text = text_of(result)
                # An unexpected exception reads "Error executing tool add_phones_from_file", with no sentence.
                assert "Traceback" not in text and text.partition(":")[2].strip(), text
                assert "+4915112345678" not in text, "nothing from outside the folder leaks"
            else:
                assert data_of(result)["created"] == 0

        anyio.run(check)

    run()
    assert not [r for r in empty_sandbox.state.requests if r.method == "POST"], "dry runs send nothing"
