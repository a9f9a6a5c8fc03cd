"""Validation of request bodies, with Symfony-style messages and violation codes like LOX24's.

Type mismatches are 400 (API Platform's deserializer refuses them); constraint violations are 422 with
`violations`. Phone items of a batch are validated one by one and never fail the whole request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

#: E.164: a plus, a non-zero digit, then up to 14 digits.
E164 = re.compile(r"\+[1-9]\d{1,14}")
SENDER_ID = re.compile(r"\+?[1-9]\d{0,14}|[a-zA-Z0-9 ]{1,11}")

# Symfony constraint codes, so that `violations[].code` looks like LOX24's.
NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9"
REGEX_FAILED = "de1e3db3-5ed4-4941-aae4-59f3667cc3a3"
NOT_IN_CHOICE = "8e179f1b-97aa-4560-a02f-2a8b42e49df7"
TOO_LOW = "778b7ae0-84d3-481a-9dec-35fdb64b1d78"

SERVICE_CODES = ("direct", "text2speech", "text2speech_ssml")
VOICE_LANGS = ("DE", "ES", "EN", "IT", "FR")
PHONE_FIELDS = frozenset({"phone", "a", "b", "c", "d", "e", "callback_data"})
GSM_MAX_CHARS = 1530
UNICODE_MAX_CHARS = 670
PRICE_PER_PART = 0.056

#: Country calling code → ISO 3166-1 alpha-2, longest codes first (a small table; the fallback is DE).
_COUNTRY_CODES = (
    ("49", "DE"),
    ("43", "AT"),
    ("41", "CH"),
    ("34", "ES"),
    ("33", "FR"),
    ("39", "IT"),
    ("44", "GB"),
    ("31", "NL"),
    ("48", "PL"),
    ("1", "US"),
)


@dataclass(frozen=True)
class Violation:
    """One constraint violation, as in `violations[]` of a 422 answer."""

    property_path: str
    message: str
    code: str

    def as_json(self) -> dict[str, str]:
        """The LOX24/Symfony JSON form."""
        return {"propertyPath": self.property_path, "message": self.message, "code": self.code}


class BodyTypeError(ValueError):
    """A body that cannot be deserialised into the resource (HTTP 400)."""


class ViolationsError(ValueError):
    """A well-formed body that breaks constraints (HTTP 422)."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("\n".join(f"{v.property_path}: {v.message}" for v in violations))
        self.violations = violations


def iso2_for(phone: str) -> str:
    """The destination country of an E.164 number, from a small calling-code table; DE if unknown."""
    digits = phone.lstrip("+")
    for code, iso2 in _COUNTRY_CODES:
        if digits.startswith(code):
            return iso2
    return "DE"


def is_unicode_text(text: str) -> bool:
    """Whether the text needs UCS-2: approximated as any character outside printable Latin-1 (plus CR, LF)."""
    return any(not ("\x20" <= ch <= "\x7e" or "\xa0" <= ch <= "\xff" or ch in "\r\n") for ch in text)


def parts_for(text: str, *, unicode: bool) -> int:
    """Number of SMS parts: 160/153 characters for GSM, 70/67 for Unicode."""
    single, multi = (70, 67) if unicode else (160, 153)
    return 1 if len(text) <= single else math.ceil(len(text) / multi)


def price_for(parts: int) -> float:
    """The sandbox's price: 0.056 per part."""
    return round(PRICE_PER_PART * parts, 4)


def _too_long(field: str, limit: int) -> Violation:
    return Violation(field, f"This value is too long. It should have {limit} characters or less.", TOO_LONG)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "string", list: "array", dict: "array"}.get(type(value), "mixed")


def _expect(body: dict[str, Any], field: str, kind: type | tuple[type, ...], name: str, *, nullable: bool) -> None:
    if field not in body or (nullable and body[field] is None):
        return
    value = body[field]
    # bool is an int in Python, but not in PHP's type checks.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        ok = False
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise BodyTypeError(f'The type of the "{field}" attribute must be "{name}", "{_type_name(value)}" given.')


def _extra(body: dict[str, Any], allowed: frozenset[str]) -> None:
    extra = [k for k in body if k not in allowed]
    if extra:
        names = ", ".join(f'"{k}"' for k in extra)
        raise BodyTypeError(f"Extra attributes are not allowed ({names} {'is' if len(extra) == 1 else 'are'} unknown).")


_SMS_FIELDS = frozenset(
    {
        "sender_id",
        "text",
        "phone",
        "delivery_at",
        "callback_data",
        "source",
        "is_unicode",
        "service_code",
        "voice_lang",
        "is_text_deleted",
    }
)


def validate_sms_write(body: object) -> dict[str, Any]:
    """Check an sms-write body; returns it. Raises BodyTypeError (400) or ViolationsError (422)."""
    if not isinstance(body, dict):
        raise BodyTypeError("The request body must be a JSON object.")
    _extra(body, _SMS_FIELDS)
    for field in ("sender_id", "text", "phone"):
        _expect(body, field, str, "string", nullable=True)
    _expect(body, "callback_data", str, "string", nullable=True)
    _expect(body, "service_code", str, "string", nullable=True)
    _expect(body, "voice_lang", str, "string", nullable=True)
    _expect(body, "delivery_at", int, "int", nullable=True)
    _expect(body, "source", int, "int", nullable=True)
    _expect(body, "is_unicode", bool, "bool", nullable=True)
    _expect(body, "is_text_deleted", bool, "bool", nullable=True)

    violations = [
        Violation(field, "This value should not be blank.", NOT_BLANK)
        for field in ("sender_id", "text", "phone")
        if not body.get(field)
    ]
    sender = body.get("sender_id")
    if sender and not SENDER_ID.fullmatch(sender):
        violations.append(Violation("sender_id", "This value is not valid.", REGEX_FAILED))
    phone = body.get("phone")
    if phone and not E164.fullmatch(phone):
        violations.append(Violation("phone", "This value is not a valid phone number.", REGEX_FAILED))
    text = body.get("text")
    if text:
        unicode = body.get("is_unicode")
        limit = UNICODE_MAX_CHARS if (is_unicode_text(text) if unicode is None else unicode) else GSM_MAX_CHARS
        if len(text) > limit:
            violations.append(_too_long("text", limit))
    callback = body.get("callback_data")
    if callback is not None and len(callback) > 36:
        violations.append(_too_long("callback_data", 36))
    delivery_at = body.get("delivery_at")
    if delivery_at is not None and delivery_at < 0:
        violations.append(Violation("delivery_at", "This value should be either positive or zero.", TOO_LOW))
    service = body.get("service_code")
    if service is not None and service not in SERVICE_CODES:
        violations.append(Violation("service_code", "Service's code is invalid or unavailable.", NOT_IN_CHOICE))
    voice = body.get("voice_lang")
    if voice is not None and voice not in VOICE_LANGS:
        violations.append(Violation("voice_lang", "The value you selected is not a valid choice.", NOT_IN_CHOICE))
    if violations:
        raise ViolationsError(violations)
    return body


_GROUP_FIELDS = frozenset({"name", "description", "name_a", "name_b", "name_c", "name_d", "name_e"})


def validate_group_write(body: object) -> dict[str, Any]:
    """Check a group-write body (`name` 1–50, `description` ≤ 255, `name_a`…`name_e` ≤ 50)."""
    if not isinstance(body, dict):
        raise BodyTypeError("The request body must be a JSON object.")
    _extra(body, _GROUP_FIELDS)
    for field in _GROUP_FIELDS:
        _expect(body, field, str, "string", nullable=True)
    violations: list[Violation] = []
    if not body.get("name"):
        violations.append(Violation("name", "This value should not be blank.", NOT_BLANK))
    for field in sorted(_GROUP_FIELDS):
        value = body.get(field)
        limit = 255 if field == "description" else 50
        if value is not None and len(value) > limit:
            violations.append(_too_long(field, limit))
    if violations:
        raise ViolationsError(violations)
    return body


def phone_item_errors(item: object) -> list[str]:
    """Problems of one phone-write item of a batch, as `field: message` lines (empty if valid)."""
    if not isinstance(item, dict):
        return ["This value should be of type object."]
    errors = [f"{key}: This field was not expected." for key in item if key not in PHONE_FIELDS]
    phone = item.get("phone")
    if phone is None or phone == "":
        errors.append("phone: This value should not be blank.")
    elif not isinstance(phone, str):
        errors.append("phone: This value should be of type string.")
    elif len(phone) > 30:
        errors.append("phone: This value is too long. It should have 30 characters or less.")
    elif not E164.fullmatch(phone):
        errors.append("phone: This value is not a valid phone number.")
    for field, limit in (("a", 1530), ("b", 1530), ("c", 1530), ("d", 1530), ("e", 1530), ("callback_data", 36)):
        value = item.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.append(f"{field}: This value should be of type string.")
        elif len(value) > limit:
            errors.append(f"{field}: This value is too long. It should have {limit} characters or less.")
    return errors
