"""Phone-number normalisation to E.164 with Google's libphonenumber rules (the `phonenumbers` package).

`to_e164` tries the short path of `lox24_mcp.lox24.phones_fast` first and falls back to
`phonenumbers.parse`, the reference both are tested against; `phonenumbers` is imported on the first
number, not at server start-up.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

    from phonenumbers import PhoneNumber

from lox24_mcp.lox24.phones_fast import NOT_DIGIT as _NOT_DIGIT
from lox24_mcp.lox24.phones_fast import PLAIN as _PLAIN
from lox24_mcp.lox24.phones_fast import is_valid as _is_valid
from lox24_mcp.lox24.phones_fast import plain_e164 as _plain_e164

__all__ = ["InvalidPhoneError", "_is_valid", "_parsed_e164", "_plain_e164", "mask", "phone_filter", "to_e164"]


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
