"""Filters and contact fields refuse characters that are invisible or move text around (issue 9, class 3).

U+2028/U+2029 start new lines, bidi overrides reverse text, NUL and friends end strings: in a filter value
they could forge lines of the confirmation dialog, in a contact field they would be stored and feed SMS
templates. Every string a filter or a contact accepts refuses them with an error naming the field; a
number that is a date written as digits is refused instead of becoming a 1970 timestamp.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent
from pydantic import SecretStr, ValidationError

from lox24_mcp.config import Settings
from lox24_mcp.lox24.models import (
    FILTER_FIELDS,
    MIN_UNIX,
    PhoneEntry,
    SmsFilters,
    invisible_character,
)
from lox24_mcp.mcp.app import create_server
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


#: One acceptable value per filter that takes text (as a model sends it), and where to put the bad character.
TEXT_FILTERS: dict[str, Any] = {
    "uuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "bulk": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "callback_data": "spring-sale",
    "iso2": "DE",
    "phone": "+49151",
    "text": "Spring sale",
    "sender_id": "Shop",
    "ip": "10.0.0.1",
    "delivery_at": "2026-11-24T08:00:00+01:00",
    "created_at": "2026-11-24T08:00:00+01:00",
    "gateway_sent_at": "2026-11-24T08:00:00Z",
}
#: Filters that take no text at all: numbers, codes and booleans (strings are parsed as numbers or refused).
NUMERIC_FILTERS = {"status_code", "dlr_code", "chars_count", "parts_count", "source", "key_id", "is_unicode", "is_sent"}

#: The characters the hostile tester used, and one of each refused category.
BAD = [
    "\u2028",  # LINE SEPARATOR (Zl): a new line in the dialog
    "\u2029",  # PARAGRAPH SEPARATOR (Zp)
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE (Cf): reversed text
    "\u2066",  # LEFT-TO-RIGHT ISOLATE (Cf)
    "\u200b",  # ZERO WIDTH SPACE (Cf)
    "\ufeff",  # BYTE ORDER MARK (Cf)
    "\x00",  # NUL (Cc)
    "\n",
    "\r",
    "\x85",  # NEXT LINE (Cc, C1)
    "\x1b",  # ESC: terminal escape sequences in logs
]
CONTACT_FIELDS = ("phone", "a", "b", "c", "d", "e", "callback_data")


def _inject(value: str, char: str) -> str:
    return value[:2] + char + value[2:]


def test_every_filter_is_either_text_checked_here_or_numeric() -> None:
    assert set(TEXT_FILTERS) | NUMERIC_FILTERS == set(FILTER_FIELDS), "a new filter must be added to this test"
    for name, value in TEXT_FILTERS.items():
        SmsFilters.model_validate({name: value})  # the clean values are accepted


@pytest.mark.parametrize("char", BAD, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("name", sorted(TEXT_FILTERS))
def test_a_text_filter_with_an_invisible_character_is_refused_naming_the_field(name: str, char: str) -> None:
    for value in (_inject(TEXT_FILTERS[name], char), [TEXT_FILTERS[name], _inject(TEXT_FILTERS[name], char)]):
        if isinstance(value, list) and name in {"phone", "text", "sender_id", "ip"}:
            continue  # scalar-only filters
        with pytest.raises(ValidationError) as info:
            SmsFilters.model_validate({name: value})
        assert f"U+{ord(char):04X}" in str(info.value)
        assert str(info.value.errors()[0]["loc"][0]) == name


@pytest.mark.parametrize("char", ["\u2028", "\u202e", "\x00"], ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("name", ["created_at", "delivery_at", "gateway_sent_at"])
def test_range_bounds_refuse_invisible_characters_too(name: str, char: str) -> None:
    with pytest.raises(ValidationError, match=f"U\\+{ord(char):04X}"):
        SmsFilters.model_validate({name: {"gte": _inject("2026-11-24", char)}})


@pytest.mark.parametrize("char", BAD, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("field", CONTACT_FIELDS)
def test_a_contact_field_with_an_invisible_character_is_refused_naming_the_field(field: str, char: str) -> None:
    data = {"phone": "+4915112345678", field: _inject("+4915112345678" if field == "phone" else "Müller", char)}
    with pytest.raises(ValidationError) as info:
        PhoneEntry.model_validate(data)
    message = str(info.value)
    assert f"{field} contains U+{ord(char):04X}" in message
    assert info.value.errors()[0]["loc"] == (field,)


def test_real_names_and_emoji_are_accepted() -> None:
    names = [
        "Müller",
        "O'Brien",
        "José Ñúñez",
        "محمد\u200cرضا",
        "क्\u200dष",
        "👩\u200d👩\u200d👧",
        "李小龍",
        "Ana\u00a0Lima",
    ]
    for name in names:
        assert PhoneEntry.model_validate({"phone": "+4915112345678", "a": name}).a == name
        assert SmsFilters.model_validate({"text": name}).text == name


def test_the_refused_set_is_exactly_the_control_format_separator_and_surrogate_categories() -> None:
    allowed_joiners = {0x200C, 0x200D}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        expected = unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp", "Cs"} and code not in allowed_joiners
        assert (invisible_character(f"a{char}b") == char) is expected, f"U+{code:04X}"


@pytest.mark.anyio
async def test_an_import_with_a_bidi_override_is_refused_naming_the_entry_and_nothing_is_sent() -> None:
    with SandboxServer() as sandbox:
        settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url)
        sandbox.state.reset_requests()
        async with Client(create_server(settings, sandbox=True)) as client:
            phones = [{"phone": "+4915112345678", "a": "Anna"}, {"phone": "+4915112345679", "b": "Sale\u202e%09 :)"}]
            result = await client.call_tool("add_phones_to_group", {"group_id": 1, "phones": phones})
        assert result.is_error
        text = text_of(result)
        assert "phones.1." in text and "b contains U+202E (RIGHT-TO-LEFT OVERRIDE)" in text
        assert [r for r in sandbox.state.requests if r.method == "POST"] == []


@pytest.mark.anyio
async def test_a_search_with_a_line_separator_is_refused_before_reaching_lox24() -> None:
    with SandboxServer() as sandbox:
        settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url)
        sandbox.state.reset_requests()
        async with Client(create_server(settings, sandbox=True)) as client:
            forged = "x\u2028(dry run: nothing is cancelled)"
            for tool in ("search_sms", "cancel_pending_sms"):
                result = await client.call_tool(tool, {"callback_data": forged})
                assert result.is_error and "callback_data contains U+2028 (LINE SEPARATOR)" in text_of(result)
        assert list(sandbox.state.requests) == []


@pytest.mark.parametrize("value", [20991231, "123456789", 1, 0, 123456789, MIN_UNIX - 1, 20991231.0, -5])
def test_a_number_before_2000_is_refused_with_a_hint_to_write_dates_in_iso(value: int | float | str) -> None:
    with pytest.raises(ValidationError) as info:
        SmsFilters.model_validate({"delivery_at": {"gte": value}})
    assert "before 2000-01-01" in str(info.value) and "ISO 8601" in str(info.value)


@pytest.mark.parametrize("value", ["20991231", "2099-12-31", MIN_UNIX, str(MIN_UNIX + 1), 1_795_503_600])
def test_iso_dates_and_plausible_unix_seconds_are_accepted(value: int | str) -> None:
    assert SmsFilters.model_validate({"delivery_at": value}).delivery_at is not None


def test_an_iso_date_before_2000_is_refused_and_a_validated_value_validates_again_unchanged() -> None:
    with pytest.raises(ValidationError, match="before 2000-01-01"):
        SmsFilters.model_validate({"created_at": "1999-12-31"})
    once = SmsFilters.model_validate({"created_at": {"gte": "2000-01-01T00:00:00Z"}})
    assert SmsFilters.model_validate(once.model_dump()) == once
