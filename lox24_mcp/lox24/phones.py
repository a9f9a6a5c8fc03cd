"""Phone-number normalisation to E.164 with Google's libphonenumber rules (the `phonenumbers` package).

`phonenumbers.parse` is general (free text, extensions, vanity letters, RFC 3966) and costs ~40 µs a
number: most of the CPU of a 50,000-contact import. Plainly written numbers (`+49 151 12345678`,
`0151/12345678`) take a short path through the same metadata and the same validity rules in
~9 µs; anything else, and anything the short path is not sure of, goes through `parse`.
`tests/test_phones.py` checks that both paths agree on every region's example numbers in several
notations and on generated input.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from types import ModuleType

    from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberDesc

# `phonenumbers` (~20 ms to import) is imported on the first import call, not at server start-up.

#: Digits with the usual separators, optionally after one `+`: nothing `parse` would read differently
#: (no letters, extensions, `tel:` URIs or second numbers).
_PLAIN = re.compile(r"\+?[0-9 ()./-]{1,40}")
_NOT_DIGIT = re.compile(r"[^0-9]")
_MIN_NSN, _MAX_NSN = 2, 17  # libphonenumber's bounds on the national significant number


class InvalidPhoneError(ValueError):
    """The text is not a valid phone number; the message says why."""


def to_e164(raw: str, default_region: str | None = None) -> str:
    """Normalise `raw` to E.164 (`+4915112345678`).

    Numbers written nationally (`0151 1234 5678`) need `default_region` (ISO alpha-2, e.g. `DE`);
    `00` and `+` international prefixes work without it.

    Raises:
        InvalidPhoneError: the number cannot be parsed or is not a valid number.
    """
    text = raw.strip()
    if text.startswith("00") and not default_region:
        text = "+" + text[2:]
    return _plain_e164(text, default_region) or _parsed_e164(text, default_region)


def _parsed_e164(text: str, default_region: str | None) -> str:
    """The general path: `phonenumbers.parse`, then `is_valid_number`, then the country-code check below."""
    import phonenumbers  # deferred: see above
    from phonenumbers import CountryCodeSource, NumberParseException, PhoneNumberFormat

    try:
        number = phonenumbers.parse(text, default_region, keep_raw_input=True)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and not text.startswith("+"):
            raise InvalidPhoneError(
                "written without a country code; add +<country code> or pass default_region"
            ) from None
        reasons = {
            NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
            NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
            NumberParseException.TOO_SHORT_NSN: "too short",
            NumberParseException.TOO_LONG: "too long",
        }
        raise InvalidPhoneError(reasons.get(exc.error_type, "not a phone number")) from None
    valid = phonenumbers.is_valid_number(number)
    if number.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY:
        # Read as a national number of `default_region`. If the digits start with the region's own country
        # code, they may also be that country's number written internationally without `+` (LOX24 reads
        # `491701234567` as +49 170…): `parse` only considers that when the national reading does not even
        # fit the region's number pattern, and DE's pattern fits almost anything, so `4915112345678` would
        # become +49 4915 112345678, another (valid-looking) number.
        international = _international_reading(text, number, phonenumbers)
        if international is not None:
            national = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            if not valid or not _written_as_national(text, number, phonenumbers):
                return international
            if international != national:
                raise InvalidPhoneError(
                    f"ambiguous: it could be {mask(international)} (country code {number.country_code} written "
                    f"without +) or the national number {mask(national)}; write it with + and the country code"
                )
    if not valid:
        region = phonenumbers.region_code_for_number(number)
        where = f" for {region}" if region and region != "ZZ" else ""
        raise InvalidPhoneError(f"not a valid number{where}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _international_reading(text: str, national: PhoneNumber, phonenumbers: ModuleType) -> str | None:
    """The E.164 form of `text` read as `+<digits>` when its digits start with the country code of
    `national` (the region's reading) and that reading is a valid number; else None."""
    digits = _NOT_DIGIT.sub("", text)
    if not digits.startswith(str(national.country_code)) or not _PLAIN.fullmatch(text) or text.startswith("+"):
        return None
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != national.country_code or not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _written_as_national(text: str, number: PhoneNumber, phonenumbers: ModuleType) -> bool:
    """True when `text` has the digits the region itself writes for `number` nationally.

    Where the national form carries a trunk prefix (DE `0151…`, RU `8 9…`), digits without it that
    start with the country code are no national number: they are the international form without `+`.
    Where it carries none (IT, ES, DK, …), both readings are ordinary, and the caller reports it.
    """
    national_form = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return _NOT_DIGIT.sub("", national_form) == _NOT_DIGIT.sub("", text)


def _plain_e164(text: str, default_region: str | None) -> str | None:
    """The short path: the E.164 form of a plainly written valid number, or None to let `parse` decide.

    It follows `phonenumbers.parse` step by step for digits-only input (country code after `+`, else
    the default region's; the national prefix stripped by the same metadata and the same rules) and
    gives up wherever `parse` would do something else (IDD prefixes, a country code without `+`,
    transformed prefixes, Italian leading zeros, lengths in doubt). Only valid numbers come out.
    """
    import phonenumbers
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS, PhoneMetadata

    if _PLAIN.fullmatch(text) is None:
        return None
    digits = _NOT_DIGIT.sub("", text)
    metadata: PhoneMetadata | None
    if text.startswith("+"):
        if len(digits) <= _MIN_NSN or digits[0] == "0":
            return None
        for size in (1, 2, 3):
            country_code = int(digits[:size])
            if country_code in COUNTRY_CODE_TO_REGION_CODE:
                break
        else:
            return None
        national = digits[size:]
        region = phonenumbers.region_code_for_country_code(country_code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    else:
        if default_region not in SUPPORTED_REGIONS:
            return None
        metadata = PhoneMetadata.metadata_for_region(default_region)
        if metadata is None or not metadata.international_prefix or metadata.country_code is None:
            return None
        country_code = metadata.country_code
        if re.match(metadata.international_prefix, digits) or digits.startswith(str(country_code)):
            return None  # an IDD prefix, or a country code written without `+`: `_parsed_e164` decides
        national = digits
    if metadata is None or len(national) < _MIN_NSN:
        return None
    significant = _strip_national_prefix(national, metadata)
    if significant is None or not _MIN_NSN <= len(significant) <= _MAX_NSN or significant[0] == "0":
        return None
    if len(COUNTRY_CODE_TO_REGION_CODE[country_code]) == 1:
        valid = _is_valid(significant, metadata)
    else:  # shared country codes (+1, +7, +44, …): the library picks the region
        valid = phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=country_code, national_number=int(significant))
        )
    if not valid:
        return None  # parse gives the reason
    return f"+{country_code}{significant}"


#: The number types `is_valid_number` tries, in its order; a number is valid when one of them fits.
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_Desc: TypeAlias = tuple[frozenset[int], re.Pattern[str]]
_compiled_descs: dict[tuple[str | None, int | None], tuple[_Desc | None, list[_Desc]]] = {}


def _is_valid(national: str, metadata: PhoneMetadata) -> bool:
    """`is_valid_number` for a country code with one region, with the patterns compiled once per region.

    Same rule as the library's `_number_type_helper(...) != UNKNOWN`: the general description fits
    and so does one number type (length among its possible lengths, pattern matching in full).
    """
    key = (metadata.id, metadata.country_code)
    descs = _compiled_descs.get(key)
    if descs is None:
        types = [d for name in _TYPES if (d := _compile(getattr(metadata, name))) is not None]
        descs = _compiled_descs[key] = (_compile(metadata.general_desc), types)
    general, types = descs
    return general is not None and _fits(national, general) and any(_fits(national, d) for d in types)


def _compile(desc: PhoneNumberDesc | None) -> _Desc | None:
    if desc is None or not desc.national_number_pattern:
        return None  # the library treats it as matching nothing
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)


def _fits(national: str, desc: _Desc) -> bool:
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


def _strip_national_prefix(national: str, metadata: PhoneMetadata) -> str | None:
    """`parse`'s national-prefix step (`0151…` → `151…`), or None where it would need more than that."""
    prefix = metadata.national_prefix_for_parsing
    if not prefix:
        return national
    match = re.match(prefix, national)
    if match is None:
        return national
    if metadata.national_prefix_transform_rule and (not match.groups() or match.groups()[-1] is not None):
        return None  # a transform rule applies (e.g. Argentina's mobile 15): leave it to parse
    stripped = national[match.end() :]
    general = metadata.general_desc
    pattern = general.national_number_pattern if general is not None else None
    if pattern and re.fullmatch(pattern, national) and not re.fullmatch(pattern, stripped):
        return national  # parse keeps a number that only fits with its prefix
    if general is None or len(stripped) not in general.possible_length:
        return None
    if len(stripped) in general.possible_length_local_only:
        return None
    return stripped


def mask(phone: str) -> str:
    """Hide the middle of a number for previews: `+4915112345678` → `+49151•••••678`."""
    if len(phone) <= 6:
        keep = 2 if len(phone) > 2 else 0
        return phone[:keep] + "•" * (len(phone) - keep)
    suffix = 3 if len(phone) >= 12 else 2
    prefix = min(6, len(phone) - suffix - 2)
    return phone[:prefix] + "•" * (len(phone) - prefix - suffix) + phone[-suffix:]


#: What a phone *filter* may contain: digits, one leading `+`, and the separators people write.
_FILTER_TEXT = re.compile(r"\+?[0-9 ()./-]{1,40}")


def phone_filter(raw: str, default_region: str | None = None) -> tuple[str, bool]:
    """The form of a phone filter that matches LOX24's stored E.164 numbers, and whether it is a whole number.

    A whole number in any notation (`+41 79 555 12 34`, `0041 79 555 12 34`, or `079 555 12 34` with
    `default_region="CH"`) becomes its E.164 form through `to_e164`, as an import would store it. A part of
    a number keeps only its digits (and a leading `+`, `00` read as `+`); written nationally with a
    `default_region`, its national prefix becomes the country code (`079 555` → `+4179555`).

    Raises:
        InvalidPhoneError: characters other than digits, a leading `+` and separators, or no digit at all.
    """
    text = raw.strip()
    if _FILTER_TEXT.fullmatch(text) is None:
        raise InvalidPhoneError("a phone filter takes digits, a leading + and separators (spaces - / . ( ))")
    digits = _NOT_DIGIT.sub("", text)
    if not digits:
        raise InvalidPhoneError("a phone filter needs at least one digit")
    if text.startswith("+") or digits.startswith("00"):
        candidate = "+" + (digits if text.startswith("+") else digits[2:])
        try:
            return to_e164(candidate), True
        except InvalidPhoneError:
            return candidate, False
    if default_region:
        try:
            return to_e164(digits, default_region), True
        except InvalidPhoneError:
            pass
        import phonenumbers
        from phonenumbers import PhoneMetadata

        metadata = PhoneMetadata.metadata_for_region(default_region.upper())
        prefix = metadata.national_prefix if metadata is not None else None
        if metadata is not None and prefix and digits.startswith(prefix) and len(digits) > len(prefix):
            return f"+{phonenumbers.country_code_for_region(default_region.upper())}{digits[len(prefix) :]}", False
    return digits, False
