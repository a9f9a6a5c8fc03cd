"""A number is never silently changed into another number (issue 9, class 5).

Digits that start with the default region's own country code can be that country's number written
internationally without `+` (LOX24 reads `491701234567` as +49 170…) or a national number. The
international reading wins where the national one is invalid or not how the region writes it (no trunk
prefix); where both are ordinary readings of two different numbers, the number is refused as ambiguous.
Checked for every region phonenumbers supports, with each region's example numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from lox24_mcp.lox24.phones import InvalidPhoneError, mask, to_e164

TYPES = [getattr(PhoneNumberType, name) for name in dir(PhoneNumberType) if name.isupper()]


def examples() -> Iterator[tuple[str, phonenumbers.PhoneNumber]]:
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in TYPES:
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                yield region, number


EXAMPLES = list(examples())


def read(text: str, region: str) -> str:
    """The E.164 result, or `error: <message>`."""
    try:
        return to_e164(text, region)
    except InvalidPhoneError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("4915112345678", "DE", "+4915112345678"),  # not +49 4915 112345678
        ("491701234567", "DE", "+491701234567"),  # LOX24's own example
        ("49 151 1234 5678", "DE", "+4915112345678"),
        ("4930 1234567", "DE", "+49301234567"),
        ("436641234567", "AT", "+436641234567"),
        ("447911123456", "GB", "+447911123456"),
        ("79161234567", "RU", "+79161234567"),
        ("1 212 555 0123", "US", "+12125550123"),  # NANP: the trunk prefix is the country code, one number
        ("0151 12345678", "DE", "+4915112345678"),  # national numbers stay national
        ("0491 1234567", "DE", "+494911234567"),
        ("4911234567", "DE", "+494911234567"),  # +49 11234567 is no valid number: the national reading stands
    ],
)
def test_country_code_written_without_plus_is_read_as_international(text: str, region: str, expected: str) -> None:
    assert to_e164(text, region) == expected


def test_a_number_valid_both_ways_is_refused_as_ambiguous_with_both_readings_masked() -> None:
    with pytest.raises(InvalidPhoneError) as info:
        to_e164("55 4004 1234", "BR")  # +55 4004-1234 (nationwide), or area 55 number 4004-1234
    message = str(info.value)
    assert "ambiguous" in message
    assert mask("+5540041234") in message and mask("+555540041234") in message
    assert "5540041234" not in message, "the readings are masked"


def test_every_regions_numbers_written_with_the_country_code_but_no_plus_keep_their_number() -> None:
    """For every region: `<country code><national number>` is that number, or refused as ambiguous."""
    checked = ambiguous = 0
    for region, number in EXAMPLES:
        digits = f"{number.country_code}{phonenumbers.national_significant_number(number)}"
        international = phonenumbers.format_number(phonenumbers.parse("+" + digits), PhoneNumberFormat.E164)
        if not phonenumbers.is_valid_number(phonenumbers.parse("+" + digits)):
            continue
        checked += 1
        got = read(digits, region)
        if got.startswith("error: "):
            assert "ambiguous" in got and mask(international) in got, (region, digits, got)
            ambiguous += 1
            continue
        assert got == international, f"{region}: {digits} became {got}, not {international}"
    assert checked > 1000
    assert ambiguous < checked // 100, f"{ambiguous} of {checked} refused as ambiguous: too many"


def test_every_regions_numbers_written_nationally_keep_their_number() -> None:
    """For every region: the national form of its example numbers is read as that number (or refused)."""
    checked = answered = 0
    for region, number in EXAMPLES:
        text = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        if not re.fullmatch(r"[0-9 ()./-]+", text):
            continue
        expected = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        checked += 1
        got = read(text, region)
        if got.startswith("error: "):
            assert "ambiguous" in got, (region, text, got)
            continue
        assert got == expected, f"{region}: {text!r} became {got}, not {expected}"
        answered += 1
    assert checked > 1000 and answered > checked * 98 // 100


def test_default_region_never_turns_a_number_into_a_longer_one_with_the_code_twice() -> None:
    """The symptom itself, for every region: `+<cc><cc>…` out of `<cc>…` in only where the national reading is
    how the region writes it (and then only when the international reading is not a valid number)."""
    for region, number in EXAMPLES:
        code = str(number.country_code)
        digits = code + phonenumbers.national_significant_number(number)
        if not phonenumbers.is_valid_number(phonenumbers.parse("+" + digits)):
            continue
        got = read(digits, region)
        assert got.startswith("error: ambiguous") or not got.startswith(f"+{code}{code}") or got == "+" + digits, (
            region,
            digits,
            got,
        )
