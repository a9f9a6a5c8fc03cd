"""Phone-number normalisation to E.164 with Google's libphonenumber rules (the `phonenumbers` package)."""

from __future__ import annotations

# `phonenumbers` (~20 ms to import) is imported on the first import call, not at server start-up.


class InvalidPhoneError(ValueError):
    """The text is not a valid phone number; the message says why."""


def to_e164(raw: str, default_region: str | None = None) -> str:
    """Normalise `raw` to E.164 (`+4915112345678`).

    Numbers written nationally (`0151 1234 5678`) need `default_region` (ISO alpha-2, e.g. `DE`);
    `00` and `+` international prefixes work without it.

    Raises:
        InvalidPhoneError: the number cannot be parsed or is not a valid number.
    """
    import phonenumbers  # deferred: see above
    from phonenumbers import NumberParseException, PhoneNumberFormat

    text = raw.strip()
    if text.startswith("00") and not default_region:
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region)
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
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number)
        where = f" for {region}" if region and region != "ZZ" else ""
        raise InvalidPhoneError(f"not a valid number{where}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask(phone: str) -> str:
    """Hide the middle of a number for previews: `+4915112345678` → `+49151•••••678`."""
    if len(phone) <= 6:
        keep = 2 if len(phone) > 2 else 0
        return phone[:keep] + "•" * (len(phone) - keep)
    suffix = 3 if len(phone) >= 12 else 2
    prefix = min(6, len(phone) - suffix - 2)
    return phone[:prefix] + "•" * (len(phone) - prefix - suffix) + phone[-suffix:]
