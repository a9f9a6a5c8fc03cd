"""`Lox24Client.group_contacts`: LOX24's group export (`GET /groups/{id}/file/csv`) over the sandbox, the
parser on exports in every form a CSV can plausibly take, and the path and media type against LOX24's spec."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import FAST_RETRY
from pydantic import SecretStr

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import Lox24ResponseError, NotFoundError
from lox24_mcp.lox24.group_csv import GroupCsvError, parse_group_csv
from lox24_mcp.lox24.models import GroupContact, stored_e164
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState

pytestmark = pytest.mark.anyio

EXPORT = "/groups/{id}/file/csv"
#: Contact fields that a naive CSV writer or reader gets wrong.
AWKWARD = {
    "a": "Mr. ",  # a trailing space on purpose (LOX24's own example salutation)
    "b": 'Müller; "the elder", Jr.',  # both candidate delimiters and quotes
    "c": "line one\r\nline two",  # an embedded CRLF
    "d": "🎉 ünïcödé\tTab",
    "e": "=1+1",
    "callback_data": "crm-0001",
}


@asynccontextmanager
async def lox24(url: str, transport: httpx2.MockTransport | None = None) -> AsyncIterator[Lox24Client]:
    async with httpx2.AsyncClient(timeout=5.0, transport=transport) as http:
        yield Lox24Client(SecretStr(DEMO_TOKEN), base_url=url, http_client=http, retry=FAST_RETRY)


def exports(state: SandboxState) -> list[Any]:
    return [r for r in state.requests if r.path.endswith("/file/csv")]


# ----------------------------------------------------------------------------- over the sandbox


async def test_the_demo_vip_group_reads_back_with_its_own_column_names(sandbox: SandboxServer) -> None:
    vip = next(g for g in sandbox.state.groups() if g["name"] == "VIP customers")
    async with lox24(sandbox.url) as client:
        contacts = await client.group_contacts(vip["id"])
    stored = sandbox.state.group_phones(vip["id"])
    assert [(c.id, c.phone, c.a, c.b, c.c, c.d, c.e, c.callback_data) for c in contacts] == [
        (p["id"], p["phone"], p["a"], p["b"], p["c"], p["d"], p["e"], p["callback_data"]) for p in stored
    ]
    assert contacts.columns == {"a": "Anrede", "b": "Nachname", "c": "Status", "d": "col_D", "e": "col_E"}
    assert contacts[3].callback_data == "vip-es" and contacts[0].b == "Müller"
    assert all(c.extra == () for c in contacts)


@pytest.mark.parametrize(
    ("delimiter", "bom"),
    [(",", False), (";", True), ("\t", False), ("|", True)],
    ids=["comma", "semi-bom", "tab", "pipe-bom"],
)
async def test_every_field_round_trips_exactly_whatever_the_export_dialect(delimiter: str, bom: bool) -> None:
    state = SandboxState(seed_demo_data=False, export_delimiter=delimiter, export_bom=bom)
    group = state.add_group("Awkward", columns={"a": "Anrede", "b": "Name; voll", "e": "Formel"})
    plain = {"phone": "+4915100000001"}
    state.add_phones(group, [{"phone": "+436640000002", **AWKWARD}, plain])
    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            contacts = await client.group_contacts(group)
    awkward, bare = contacts
    assert (awkward.phone, awkward.a, awkward.b, awkward.c, awkward.d, awkward.e, awkward.callback_data) == (
        "+436640000002",
        *AWKWARD.values(),
    )
    assert (bare.phone, bare.a, bare.b, bare.c, bare.d, bare.e, bare.callback_data) == ("+4915100000001",) + (None,) * 6
    assert contacts.columns == {"a": "Anrede", "b": "Name; voll", "c": "col_C", "d": "col_D", "e": "Formel"}
    assert len(exports(state)) == 1


async def test_an_empty_group_is_an_empty_list_and_a_large_one_takes_one_request() -> None:
    state = SandboxState(seed_demo_data=False)
    empty = state.add_group("Empty")
    big = state.add_group("Big")
    state.add_phones(big, [{"phone": f"+49151{10000000 + i}", "a": f"n{i}"} for i in range(5000)])
    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            nothing = await client.group_contacts(empty)
            everyone = await client.group_contacts(big)
    assert list(nothing) == [] and nothing.columns == {c: f"col_{c.upper()}" for c in "abcde"}
    assert len(everyone) == 5000 and everyone[4999] == GroupContact(
        phone="+4915110004999", id=everyone[4999].id, a="n4999"
    )
    assert len({c.id for c in everyone}) == 5000
    assert [r.status for r in exports(state)] == [200, 200], "one request per group, whatever its size"
    assert exports(state)[0].headers["accept"] == "text/csv"


async def test_an_unknown_group_is_a_not_found_error_naming_the_operation(empty_sandbox: SandboxServer) -> None:
    async with lox24(empty_sandbox.url) as client:
        with pytest.raises(NotFoundError) as info:
            await client.group_contacts(4242)
    assert info.value.status_code == 404 and "group 4242" in str(info.value)


async def test_the_sandbox_export_takes_no_query_parameters(sandbox: SandboxServer) -> None:
    group = sandbox.state.groups()[0]["id"]
    async with httpx2.AsyncClient(base_url=sandbox.url, headers={"X-LOX24-AUTH-TOKEN": DEMO_TOKEN}) as http:
        ok = await http.get(f"/groups/{group}/file/csv")
        paged = await http.get(f"/groups/{group}/file/csv?page=2")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/csv")
    assert ok.text.splitlines()[0] == "id,phone,Anrede,Nachname,Status,col_D,col_E,callback_data"
    assert ok.text.endswith("\r\n") and "\r\n" in ok.text
    assert paged.status_code == 400


# ----------------------------------------------------------------------------- the parser on odd exports


def export_bytes(
    rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8", newline: str = "\r\n"
) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue().encode(encoding)


HEADER = ["id", "phone", "Vorname", "Nachname", "col_C", "col_D", "col_E", "callback_data"]
ROW = ["17", "+4915112345678", "Jörg", "Weiß", "", "", "", "K-1"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(export_bytes([HEADER, ROW]), id="utf8-crlf"),
        pytest.param(codecs.BOM_UTF8 + export_bytes([HEADER, ROW], delimiter=";", newline="\n"), id="bom-semi-lf"),
        pytest.param(export_bytes([HEADER, ROW], delimiter="\t", encoding="utf-16"), id="utf16-tab"),
        pytest.param(export_bytes([HEADER, ROW], delimiter=";", encoding="cp1252"), id="cp1252"),
        pytest.param(export_bytes([HEADER, ROW]) + b"\r\n\r\n", id="trailing-blank-lines"),
    ],
)
def test_the_same_contact_reads_the_same_in_every_encoding_and_dialect(raw: bytes) -> None:
    contacts = parse_group_csv(raw)
    assert contacts == [GroupContact(phone="+4915112345678", id="17", a="Jörg", b="Weiß", callback_data="K-1")]
    assert contacts.columns == {"a": "Vorname", "b": "Nachname", "c": "col_C", "d": "col_D", "e": "col_E"}


@pytest.mark.parametrize("raw", [b"", b"\r\n", codecs.BOM_UTF8, export_bytes([HEADER])], ids=repr)
def test_no_body_or_a_header_alone_is_an_empty_group(raw: bytes) -> None:
    assert parse_group_csv(raw) == []


def test_missing_columns_read_as_none_and_short_rows_do_not_shift_fields() -> None:
    contacts = parse_group_csv(export_bytes([["phone", "id"], ["+4915112345678"], ["", "9"], ["+436641234567", "2"]]))
    assert contacts == [GroupContact(phone="+4915112345678"), GroupContact(phone="+436641234567", id="2")]
    assert contacts.columns == {}


def test_unknown_extra_columns_are_kept_and_never_taken_for_a_to_e() -> None:
    header = [*HEADER, "subscribed_at", "Notiz"]
    row = [*ROW, "1796112000", "VIP", "overflow"]
    (contact,) = parse_group_csv(export_bytes([header, row]))
    assert (contact.a, contact.b, contact.c, contact.callback_data) == ("Jörg", "Weiß", None, "K-1")
    assert contact.extra == (("subscribed_at", "1796112000"), ("Notiz", "VIP"), ("column 11", "overflow"))


def test_columns_in_another_order_are_found_by_name() -> None:
    header = ["callback_data", "col_e", "phone", "COL_A", "id"]
    (contact,) = parse_group_csv(export_bytes([header, ["cb", "E", "+4915112345678", "A", "5"]]))
    assert (contact.id, contact.a, contact.e, contact.callback_data) == ("5", "A", "E", "cb")


def test_an_export_without_a_phone_column_is_refused_by_name() -> None:
    with pytest.raises(GroupCsvError, match=r"no phone column.*'Telefonnummer'"):
        parse_group_csv(export_bytes([["id", "Telefonnummer"], ["1", "+4915112345678"]]))


@pytest.mark.parametrize(
    ("stored", "key"),
    [
        ("+4915112345678", "+4915112345678"),
        ("4915112345678", "+4915112345678"),
        ("0049 151 1234-5678", "+4915112345678"),
    ],
)
def test_stored_numbers_compare_as_e164_keys(stored: str, key: str) -> None:
    assert stored_e164(stored) == key == GroupContact(phone=stored).e164


async def test_an_unreadable_export_is_a_response_error_with_the_request_id() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/groups/7/file/csv"
        return httpx2.Response(200, json={"detail": "not a csv"}, headers={"X-LOX24-REQUEST-ID": "r" * 32})

    async with lox24("http://lox24.test", httpx2.MockTransport(handler)) as client:
        with pytest.raises(Lox24ResponseError) as info:
            await client.group_contacts(7)
    assert "group 7" in str(info.value) and "no phone column" in str(info.value)
    assert info.value.request_id == "r" * 32


# ----------------------------------------------------------------------------- contract

#: LOX24's OpenAPI spec, in `shared/reference/` beside the repository (or beside a worktree's parent).
SPEC_PATH = next(
    (p / "shared/reference/lox24-openapi.json" for p in Path(__file__).resolve().parents if (p / "shared").is_dir()),
    Path("shared/reference/lox24-openapi.json"),
)


@pytest.mark.skipif(not SPEC_PATH.exists(), reason="LOX24 OpenAPI spec not found next to the repository")
async def test_the_export_path_media_type_and_columns_are_lox24s(empty_sandbox: SandboxServer) -> None:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    operation = spec["paths"][EXPORT]["get"]
    assert operation["operationId"] == "group_export_to_file"
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert {"404"} <= set(operation["responses"])
    assert not [p for p in operation.get("parameters", []) if "query" in json.dumps(p)]
    # The spec's example header; a group without captions exports exactly these columns.
    example = next(line for line in operation["description"].splitlines() if line.startswith("|id|"))
    documented = [cell for cell in example.split("|") if cell]
    group = empty_sandbox.state.add_group("No captions")
    async with httpx2.AsyncClient(base_url=empty_sandbox.url, headers={"X-LOX24-AUTH-TOKEN": DEMO_TOKEN}) as http:
        answer = await http.get(EXPORT.format(id=group))
    assert answer.text.strip().split(",") == documented


def test_captions_that_read_like_the_fixed_columns_stay_contact_fields() -> None:
    header = ["id", "phone", "Phone", "ID", "callback_data", "col_D", "col_E", "callback_data"]
    row = ["1", "+4915112345678", "+4930123456", "K-7", "tag-in-c", "", "", "cb"]
    (contact,) = parse_group_csv(export_bytes([header, row]))
    assert (contact.id, contact.phone, contact.callback_data) == ("1", "+4915112345678", "cb")
    assert (contact.a, contact.b, contact.c) == ("+4930123456", "K-7", "tag-in-c")
