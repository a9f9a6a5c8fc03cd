"""Phone numbers: E.164 normalisation, masking, and the short path against `phonenumbers.parse`.

The short E.164 path agrees with `phonenumbers.parse` wherever it answers, and answers for plain numbers.

`lox24_mcp.lox24.phones._plain_e164` re-walks `parse`'s steps for digits-only input to save ~2/3 of the CPU of
an import. It may give up (None) on anything; when it does answer, the answer must be exactly what
`parse` + `is_valid_number` + E.164 formatting give. These tests compare the two on every example
number libphonenumber ships (every region, every number type, three notations, four default regions)
and on generated variations of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from lox24_mcp.lox24.phones import InvalidPhoneError, _is_valid, _parsed_e164, _plain_e164, mask, to_e164

NOTATIONS = (PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL)
DEFAULT_REGIONS: tuple[str | None, ...] = (None, "DE", "US", "IT")
TYPES = [getattr(PhoneNumberType, name) for name in dir(PhoneNumberType) if name.isupper()]


def example_numbers() -> Iterator[tuple[str, str]]:
    """(region, written number) for every example number of every region and type, in each notation."""
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in TYPES:
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                for notation in NOTATIONS:
                    yield region, phonenumbers.format_number(number, notation)
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            yield "001", phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


EXAMPLES = sorted(set(example_numbers()))


def agrees(text: str, region: str | None) -> bool:
    """Assert that the short path, when it answers, answers like `parse`; True when it answered."""
    short = _plain_e164(text, region)
    if short is None:
        return False
    try:
        full = _parsed_e164(text, region)
    except InvalidPhoneError as exc:  # pragma: no cover - the assertion message is the point
        raise AssertionError(f"short path accepted {text!r} (region {region}) as {short}; parse says {exc}") from exc
    assert short == full, f"{text!r} (region {region}): short path {short}, parse {full}"
    return True


def test_every_example_number_in_every_notation_and_region_gets_the_same_answer() -> None:
    answered = 0
    for region, text in EXAMPLES:
        for default in (region if region != "001" else None, *DEFAULT_REGIONS):
            answered += agrees(text, default)
    checked = len(EXAMPLES) * (len(DEFAULT_REGIONS) + 1)
    assert checked > 10_000
    # The short path must carry the common case, or it is dead weight: most of these are plain and valid.
    assert answered > checked * 7 // 10, f"short path answered only {answered} of {checked}"


def same_validity(country_code: int, national: str) -> None:
    """`_is_valid` says what `phonenumbers.is_valid_number` says, in both directions."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if len(regions) != 1 or not national or national[0] == "0":
        return
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    assert metadata is not None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    assert _is_valid(national, metadata) == phonenumbers.is_valid_number(number), f"+{country_code} {national}"


def test_the_compiled_validity_rules_match_the_library_on_every_example() -> None:
    for _, text in EXAMPLES:
        if text.startswith("+"):
            number = phonenumbers.parse(text)
            national = phonenumbers.national_significant_number(number)
            same_validity(number.country_code or 0, national)
            same_validity(number.country_code or 0, national[:-1])
            same_validity(number.country_code or 0, national + "5")


@pytest.mark.hypothesis
@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    st.from_regex(r"[1-9][0-9]{1,16}", fullmatch=True),
)
def test_the_compiled_validity_rules_match_the_library_on_generated_numbers(country_code: int, national: str) -> None:
    same_validity(country_code, national)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+4915112345678", None, "+4915112345678"),
        ("+49 (0)151 1234-5678", None, "+4915112345678"),
        ("0151/12345678", "DE", "+4915112345678"),
        ("(030) 1234567", "DE", "+49301234567"),
        ("212-555-0123", "US", "+12125550123"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+54 9 11 1234 5678", None, "+5491112345678"),
    ],
)
def test_plain_numbers_take_the_short_path(text: str, region: str | None, expected: str) -> None:
    assert _plain_e164(text, region) == expected
    assert to_e164(text, region) == expected


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("06 1234 5678", "IT"),  # Italian leading zero
        ("0049 151 12345678", "DE"),  # IDD prefix
        ("49 151 12345678", "DE"),  # a country code without +
        ("011 15 1234 5678", "AR"),  # Argentina's mobile prefix transform
        ("1 212 555 0123", "US"),  # the national prefix of a NANP number
        ("0151 1234 5678 ext. 12", "DE"),  # not plain
        ("tel:+49-151-12345678", None),
        ("0151 123", "DE"),  # invalid: parse says why
        ("0151 12345678", "de"),  # lower-case region: parse's own handling
    ],
)
def test_anything_unusual_is_left_to_parse(text: str, region: str | None) -> None:
    assert _plain_e164(text, region) is None


SEPARATORS = st.sampled_from(["", " ", "-", ".", "/", "(", ")"])


@st.composite
def variations(draw: st.DrawFn) -> tuple[str, str | None]:
    """An example number, its digits perturbed (changed, dropped, added) and re-punctuated."""
    region, text = draw(st.sampled_from(EXAMPLES))
    plus = text.startswith("+")
    digits = [c for c in text if c.isdigit()]
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.integers(0, len(digits)))
        action = draw(st.sampled_from(["change", "drop", "add"]))
        if action == "add" or where == len(digits):
            digits.insert(where, draw(st.sampled_from("0123456789")))
        elif action == "drop":
            del digits[where]
        else:
            digits[where] = draw(st.sampled_from("0123456789"))
    written = "".join(d + draw(SEPARATORS) for d in digits)
    prefix = draw(st.sampled_from(["+", "00", ""])) if plus else draw(st.sampled_from(["", "0", "+"]))
    default = draw(st.sampled_from([region if region != "001" else None, *DEFAULT_REGIONS]))
    return prefix + written, default


@pytest.mark.hypothesis
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(variations())
def test_perturbed_numbers_get_the_same_answer(case: tuple[str, str | None]) -> None:
    agrees(*case)


@pytest.mark.hypothesis
@settings(max_examples=800, deadline=None)
@given(
    st.from_regex(r"\+?[0-9 ()./-]{1,24}", fullmatch=True),
    st.sampled_from([None, "DE", "AT", "CH", "US", "GB", "FR", "IT", "BR", "AR", "MX", "RU", "HU"]),
)
def test_arbitrary_plain_strings_get_the_same_answer(text: str, region: str | None) -> None:
    agrees(text, region)


# ----------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0151 1234 5678", "DE", "+4915112345678"),
        ("(0151) 1234-5678", "DE", "+4915112345678"),
        ("0664 1234567", "AT", "+436641234567"),
        ("+49 151 12345678", None, "+4915112345678"),
        ("+49 151 12345678", "AT", "+4915112345678"),
        ("0049 151 12345678", None, "+4915112345678"),
        ("0049 151 12345678", "DE", "+4915112345678"),
        ("0043 664 1234567", "DE", "+436641234567"),
        ("  +4915112345678  ", None, "+4915112345678"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("0151 1234 5678", None, "without a country code"),
        ("151 1234 5678", None, "without a country code"),
        ("hello", None, "not a phone number"),
        ("", "DE", "not a phone number"),
        ("+49 1", None, "too short"),
        ("+999 1234567", None, "unknown country code"),
        ("+49 151 1234567890123", None, "not a valid number for DE"),
        ("0151 123", "DE", "not a valid number for DE"),
    ],
)
def test_unusable_numbers_raise_invalid_phone_error_saying_why(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidPhoneError) as info:
        to_e164(raw, region)
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+4915112345678", "+49151•••••678"),
        ("+436641234567", "+43664••••567"),
        ("+4912", "+4•••"),
        ("1234567", "123••67"),
        ("", ""),
    ],
)
def test_mask_hides_the_middle_of_a_number(phone: str, masked: str) -> None:
    assert mask(phone) == masked


@pytest.mark.parametrize("phone", ["+4312345", "+43123456"])
def test_mask_hides_at_least_one_digit_of_eight_and_nine_character_numbers(phone: str) -> None:
    masked = mask(phone)
    assert len(masked) == len(phone)
    assert "•" in masked
