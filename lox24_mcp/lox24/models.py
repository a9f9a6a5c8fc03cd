"""Pydantic models that mirror the LOX24 API: SMS filters, phone entries, and what LOX24 returns.

`SmsFilters` is the one filter model behind `GET /sms` and `POST /sms/ops/batch_cancel`. Its field
names are LOX24's query names, and `SmsFilters.to_query()` is the only place that turns them into
query parameters (PHP-style lists, `field[op]` ranges, unix seconds, `1`/`0` booleans).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, NamedTuple, Self, TypeAlias
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from lox24_mcp.lox24 import phones, times

# ISO 3166-1 alpha-2, all 249 officially assigned codes.
ISO2_CODES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
    BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM
    FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN
    MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT
    PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL
    TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()  # noqa: SIM905 (a table reads better than 249 quoted strings)
)

#: LOX24 SMS status codes (doc.lox24.eu/info/sms-status-codes).
STATUS_CODES: dict[int, str] = {
    0: "new, not sent yet",
    100: "transmitted to the mobile operator",
    208: "destination network or country blocked",
    400: "not delivered during maintenance",
    410: "stopped via the web account",
    2000: "no landline connection possible",
    3000: "not enough balance",
    5000: "no mobile operator found",
    6000: "stopped via the API",
}
#: LOX24 delivery-report codes (doc.lox24.eu/info/sms-delivery-report-codes-dlr).
DLR_CODES: dict[int, str] = {
    0: "no delivery report",
    1: "delivered",
    2: "queued",
    4: "en route",
    8: "expired",
    16: "rejected",
}

StatusCode = Literal[0, 100, 208, 400, 410, 2000, 3000, 5000, 6000]
DlrCode = Literal[0, 1, 2, 4, 8, 16]

#: Longest list accepted for one filter (keeps the query string well below URL limits).
MAX_LIST = 100
#: Largest id LOX24 can store (a signed 64-bit integer).
MAX_ID = 2**63 - 1
#: Latest timestamp accepted (2100-01-01T00:00:00Z); anything later is a typo.
MAX_UNIX = 4_102_444_800

#: Earliest timestamp accepted (2000-01-01T00:00:00Z): a smaller number is a typo or a date written as
#: digits (`20991231` would be 1970-08-31), never a time LOX24 has SMS for.
MIN_UNIX = 946_684_800

#: Unicode categories refused in every filter and contact field: control characters (Cc: NUL, CR, LF…),
#: format characters (Cf: bidi overrides U+202A-U+202E, U+2066-U+2069, zero-width space…), line and
#: paragraph separators (Zl U+2028, Zp U+2029) and lone surrogates (Cs, which cannot be sent as UTF-8).
#: They are invisible or move text around, so a value carrying them can forge lines or reverse text
#: in a confirmation dialog, and would be stored in contact fields that feed SMS templates.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: Format characters that real text needs: the zero-width (non-)joiners of Persian and Indic scripts and of
#: emoji sequences. They cannot break a line or reorder text.
ALLOWED_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})


def invisible_character(value: str) -> str | None:
    """The first refused character of `value` (see `INVISIBLE_CATEGORIES`), or None."""
    if value.isprintable():  # every refused category is non-printable: the common case costs one C call
        return None
    for char in value:
        if unicodedata.category(char) in INVISIBLE_CATEGORIES and char not in ALLOWED_FORMAT_CHARACTERS:
            return char
    return None


def _visible(value: Any, info: ValidationInfo) -> Any:
    """Refuse strings with control, format or separator characters, naming the field and the character."""
    if isinstance(value, str) and (char := invisible_character(value)) is not None:
        name = unicodedata.name(char, "a control character")
        where = f"{info.field_name} " if info.field_name else ""
        raise ValueError(
            f"{where}contains U+{ord(char):04X} ({name}) at position {value.index(char) + 1}: control "
            "characters, format characters and line separators are not allowed; remove it"
        )
    return value


#: Applied to every string a filter or contact field accepts, before any other check.
Visible = BeforeValidator(_visible)


def _to_unix(value: Any) -> Any:
    """Accept unix seconds, an ISO 8601 date-time (without an offset: local time) or a date (its local
    midnight); return unix seconds. The zone is `times.current_zone()`."""
    if isinstance(value, bool):
        raise ValueError("a timestamp must be unix seconds or an ISO 8601 date-time, not a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return _unix_seconds(value)
    if isinstance(value, str):
        text = value.strip()
        # Unix seconds have 9-10 digits for any date since 1973; "20261124" is an ISO basic date.
        if re.fullmatch(r"\d{9,10}", text):
            return _unix_seconds(int(text))
        try:
            return _since_2000(times.parse_time(text), text)
        except ValueError as exc:
            if "before 2000-01-01" in str(exc):
                raise
            if "does not exist" in str(exc):
                raise
            raise ValueError(
                f"{value[:40]!r} is neither unix seconds nor an ISO 8601 date-time (e.g. 2026-11-24T08:00 for local "
                "time, 2026-11-24T08:00:00+01:00, or a date 2026-11-24)"
            ) from None
    if isinstance(value, datetime):
        return _since_2000(times.local_to_unix(value), value)
    if isinstance(value, date):
        return _since_2000(times.day_bounds(value)[0], value)
    return value


def _unix_seconds(value: int) -> int:
    """A number given as a timestamp is unix seconds; before 2000 it is a typo, not a 1970 date."""
    if value < MIN_UNIX:
        raise ValueError(
            f"{value} is not a plausible time: as unix seconds it is before 2000-01-01. Write dates as "
            "ISO 8601 text, e.g. '2099-12-31' or '2026-11-24T08:00:00+01:00', or give unix seconds"
        )
    return value


def _since_2000(seconds: int, written: object) -> int:
    """A date before 2000 is refused in any notation, so a validated value validates again unchanged."""
    if seconds < MIN_UNIX:
        raise ValueError(f"{str(written)[:40]!r} is before 2000-01-01: LOX24 has no SMS that old; give a later date")
    return seconds


def _day_to_range(value: Any) -> Any:
    """A date alone (`"2026-12-01"`) as a time filter means that local day: `{gte: midnight, lt: next midnight}`."""
    if times.is_date_only(value):
        start, end = times.day_bounds(value)
        return {"gte": _since_2000(start, value), "lt": end}
    if isinstance(value, list | tuple) and any(times.is_date_only(v) for v in value):
        raise ValueError(
            "a list takes exact times; for a whole day give the date alone ('2026-12-01'), for several days a "
            "range {gte: '2026-12-01', lt: '2026-12-03'}"
        )
    return value


def _day_bounds_in_range(value: Any) -> Any:
    """Range bounds written as dates are local midnights, read so the named day counts as a whole.

    `gte`/`lt` D: midnight starting D. `lte` D: through the end of D. `gt` D: after the end of D.
    """
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for op, bound in value.items():
        if times.is_date_only(bound):
            start, end = times.day_bounds(bound)
            out[op] = _since_2000(start, bound) if op in ("gte", "lt") else _since_2000(end, bound) - 1
    return out


def _opt(description: str | None = None) -> Any:
    """An optional field (default None)."""
    return Field(default=None, description=description)


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _iso2(value: str) -> str:
    code = value.strip().upper()
    if code not in ISO2_CODES:
        raise ValueError(f"{value[:10]!r} is not an ISO 3166-1 alpha-2 country code (e.g. DE, AT, CH)")
    return code


Timestamp = Annotated[
    int,
    BeforeValidator(_to_unix),
    Visible,
    Field(ge=0, le=MAX_UNIX),
    WithJsonSchema({"type": ["integer", "string"], "description": "unix s, ISO 8601 (local if no offset) or date"}),
]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Iso2 = Annotated[str, BeforeValidator(_upper), Visible, AfterValidator(_iso2)]
CallbackData = Annotated[str, Field(min_length=1, max_length=36), Visible]
KeyId = Annotated[int, Field(ge=1, le=MAX_ID)]


class _Range(BaseModel):
    """Shared checks for `{gt, gte, lt, lte}` range objects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def bounds(self) -> Iterator[tuple[str, int]]:
        for op in ("gt", "gte", "lt", "lte"):
            value = getattr(self, op)
            if value is not None:
                yield op, value

    @model_validator(mode="after")
    def _check(self) -> Self:
        ops = dict(self.bounds())
        if not ops:
            raise ValueError("a range needs at least one of gt, gte, lt, lte")
        if "gt" in ops and "gte" in ops:
            raise ValueError("give either gt or gte, not both")
        if "lt" in ops and "lte" in ops:
            raise ValueError("give either lt or lte, not both")
        low = ops.get("gt", ops.get("gte"))
        high = ops.get("lt", ops.get("lte"))
        if low is not None and high is not None and low > high:
            raise ValueError(f"the range is empty: lower bound {low} is above upper bound {high}")
        return self


class TimeRange(_Range):
    """A time range; each bound is unix seconds, an ISO 8601 date-time (local if no offset) or a local date."""

    @model_validator(mode="before")
    @classmethod
    def _dates(cls, data: Any) -> Any:
        return _day_bounds_in_range(data)

    gt: Timestamp | None = _opt()
    gte: Timestamp | None = _opt()
    lt: Timestamp | None = _opt()
    lte: Timestamp | None = _opt()


class CountRange(_Range):
    """A numeric range."""

    gt: Count | None = _opt()
    gte: Count | None = _opt()
    lt: Count | None = _opt()
    lte: Count | None = _opt()


_MANY = Field(min_length=1, max_length=MAX_LIST)


def _one_or_many(value: Any) -> str:
    return "many" if isinstance(value, list | tuple) else "one"


def _one_many_or_range(value: Any) -> str:
    return "range" if isinstance(value, dict | _Range) else _one_or_many(value)


# Discriminated unions: a bad value reports the error of the form it was written in, not of every form.
# The JSON schemas are written by hand: the generated oneOf-of-everything costs the model's context
# about twice as much and says no more than these do.
_OneOrMany = Discriminator(_one_or_many)
_Ranged = Discriminator(_one_many_or_range)
_STRS = WithJsonSchema({"type": ["string", "array"], "items": {"type": "string"}})
_INTS = WithJsonSchema({"type": ["integer", "array"], "items": {"type": "integer"}})
# Ranges are objects {gt, gte, lt, lte}; the field descriptions say so, and validation checks the keys.
_TIMES = WithJsonSchema({"type": ["integer", "string", "array", "object"], "items": {"type": ["integer", "string"]}})
_COUNTS = WithJsonSchema({"type": ["integer", "array", "object"], "items": {"type": "integer"}})
Uuid = Annotated[UUID, Visible]
Uuids: TypeAlias = Annotated[Annotated[Uuid, Tag("one")] | Annotated[list[Uuid], _MANY, Tag("many")], _OneOrMany, _STRS]
Iso2s: TypeAlias = Annotated[Annotated[Iso2, Tag("one")] | Annotated[list[Iso2], _MANY, Tag("many")], _OneOrMany, _STRS]
CallbackDatas: TypeAlias = Annotated[
    Annotated[CallbackData, Tag("one")] | Annotated[list[CallbackData], _MANY, Tag("many")], _OneOrMany, _STRS
]
StatusCodes: TypeAlias = Annotated[
    Annotated[StatusCode, Tag("one")] | Annotated[list[StatusCode], _MANY, Tag("many")], _OneOrMany, _INTS
]
DlrCodes: TypeAlias = Annotated[
    Annotated[DlrCode, Tag("one")] | Annotated[list[DlrCode], _MANY, Tag("many")], _OneOrMany, _INTS
]
KeyIds: TypeAlias = Annotated[
    Annotated[KeyId, Tag("one")] | Annotated[list[KeyId], _MANY, Tag("many")], _OneOrMany, _INTS
]
TimeFilter: TypeAlias = Annotated[
    Annotated[Timestamp, Tag("one")]
    | Annotated[list[Timestamp], _MANY, Tag("many")]
    | Annotated[TimeRange, Tag("range")],
    _Ranged,
    BeforeValidator(_day_to_range),
    _TIMES,
]
CountFilter: TypeAlias = Annotated[
    Annotated[Count, Tag("one")] | Annotated[list[Count], _MANY, Tag("many")] | Annotated[CountRange, Tag("range")],
    _Ranged,
    _COUNTS,
]


def _phone_part(value: object) -> object:
    """Any notation (`+41 79 555 12 34`, `0041 79…`) to what LOX24 stores; national forms wait for a region."""
    if not isinstance(value, str):
        return value
    try:
        return phones.phone_filter(value)[0]
    except phones.InvalidPhoneError as exc:
        raise ValueError(str(exc)) from None


PhonePart = Annotated[
    str,
    BeforeValidator(_phone_part),
    Visible,  # (runs first: before-validators run from the last one written)
    Field(min_length=1, max_length=16, pattern=r"^\+?[0-9]+$"),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 40}),
]
TextPart = Annotated[str, Field(min_length=1, max_length=1530), Visible]
SenderPart = Annotated[str, Field(min_length=1, max_length=16), Visible]
IpPart = Annotated[str, Field(min_length=1, max_length=45, pattern=r"^[0-9A-Fa-f.:]+$"), Visible]


class SmsFilters(BaseModel):
    """Every filter of `GET /sms` and `POST /sms/ops/batch_cancel`, named as LOX24 names them.

    All filters combine with AND. Exact filters take one value or a list (SQL IN); the range-capable
    ones (`created_at`, `delivery_at`, `gateway_sent_at`, `chars_count`, `parts_count`, `source`) also
    take `{gt, gte, lt, lte}`. Timestamps accept unix seconds, ISO 8601 (local time without an offset) or a
    date (a whole local day, see `lox24.times`) and go out as unix seconds.
    """

    # Built on first use, not at import: a server's start only reads the fields (tools flatten them into
    # their arguments), and a cold start that only lists the tools never validates one.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    uuid: Uuids | None = _opt("SMS id(s)")
    bulk: Uuids | None = _opt("Bulk id(s)")
    callback_data: CallbackDatas | None = _opt("Your tag(s)")
    iso2: Iso2s | None = _opt("Country, e.g. 'DE'")
    phone: PhonePart | None = _opt("Number or its start, any notation")
    text: TextPart | None = _opt("Text, partial, any case")
    sender_id: SenderPart | None = _opt("Partial")
    status_code: StatusCodes | None = _opt("0 new, 100 sent, 410/6000 cancelled")
    dlr_code: DlrCodes | None = _opt("1 delivered, 2 queued, 4 en route, 8 expired, 16 rejected")
    delivery_at: TimeFilter | None = _opt("Scheduled send time")
    created_at: TimeFilter | None = _opt()
    gateway_sent_at: TimeFilter | None = _opt("Sent time")
    chars_count: CountFilter | None = _opt()
    parts_count: CountFilter | None = _opt()
    source: CountFilter | None = _opt("Source id")
    key_id: KeyIds | None = _opt("API key id(s)")
    ip: IpPart | None = _opt("Sender IP, partial")
    is_unicode: bool | None = _opt(None)
    is_sent: bool | None = _opt(None)
    order_by: Literal["created_at", "gateway_sent_at"] | None = _opt()
    order: Literal["asc", "desc"] = Field(default="desc")

    def is_empty(self) -> bool:
        """True when no filter narrows the selection (ordering does not count)."""
        return not any(getattr(self, name) is not None for name in FILTER_FIELDS)

    def to_query(self) -> list[tuple[str, str]]:
        """The query parameters, in LOX24's wire form.

        One value → `iso2=DE`; several → `iso2[]=DE&iso2[]=AT`; a range → `created_at[gte]=…`;
        booleans → `1`/`0`; timestamps → unix seconds.
        """
        params: list[tuple[str, str]] = []
        for name in FILTER_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, _Range):
                params.extend((f"{name}[{op}]", str(bound)) for op, bound in value.bounds())
            elif isinstance(value, list):
                unique = list(dict.fromkeys(_wire(v) for v in value))
                if len(unique) == 1:
                    params.append((name, unique[0]))
                else:
                    params.extend((f"{name}[]", v) for v in unique)
            else:
                params.append((name, _wire(value)))
        if self.order_by is not None:
            params.append((f"_order[{self.order_by}]", self.order))
        return params

    def selection(self) -> list[tuple[str, str]]:
        """The wire pairs that select SMS, sorted: the same selection gives the same list (ordering ignored)."""
        return sorted((key, value) for key, value in self.to_query() if not key.startswith("_order"))

    def canonical(self) -> str:
        """A stable, unambiguous text form of the selection (JSON: values are quoted, never joined as text).

        `callback_data="vip&text=Sale"` and `callback_data="vip", text="Sale"` give different strings.
        """
        return json.dumps(self.selection(), ensure_ascii=False, separators=(",", ":"))

    def summary(self) -> str:
        """A short human-readable description of the filters, for messages and dialogs.

        E.g. `iso2=DE|AT, callback_data="spring-sale", delivery_at=Tue 2026-12-01 (whole day)`: times in
        local form, values people typed quoted and cut to 30 characters.
        """
        parts: list[str] = []
        for name in FILTER_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if name in _TIME_FIELDS:
                parts.append(f"{name}={_time_summary(value)}")
            elif isinstance(value, _Range):
                parts.append(f"{name}=" + " ".join(f"{_OPS[op]}{bound}" for op, bound in value.bounds()))
            else:
                values = value if isinstance(value, list) else [value]
                parts.append(f"{name}=" + "|".join(_quoted(v) if name in _QUOTED else _wire(v) for v in values))
        return ", ".join(parts) or "no filter"


_OPS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
_TIME_FIELDS = frozenset({"created_at", "delivery_at", "gateway_sent_at"})
_QUOTED = frozenset({"callback_data", "text", "sender_id"})
#: Bidi controls and zero-width characters: a value shown in a dialog must read as it is stored.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _quoted(value: object, limit: int = 30) -> str:
    """A value someone typed, quoted and cut: it is shown to a person in a dialog."""
    text = _INVISIBLE.sub("", str(value))
    return '"' + (text if len(text) <= limit else text[: limit - 1] + "…") + '"'


def _time_summary(value: int | list[int] | TimeRange) -> str:
    if isinstance(value, TimeRange):
        low, high = value.gte, value.lt
        if low is not None and high is not None and value.gt is None and value.lte is None:
            start, end = times.day_bounds(times.local_day(low))
            if (start, end) == (low, high):
                return f"{times.format_local(low)[:14]} (whole day)"
        return " ".join(f"{_OPS[op]}{times.format_local(bound, zero='0')}" for op, bound in value.bounds())
    values = value if isinstance(value, list) else [value]
    return "|".join(times.format_local(v, zero="0") for v in values)


def _wire(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


FILTER_FIELDS: tuple[str, ...] = tuple(name for name in SmsFilters.model_fields if name not in ("order_by", "order"))
RANGE_FIELDS: frozenset[str] = frozenset(
    {"created_at", "delivery_at", "gateway_sent_at", "chars_count", "parts_count", "source"}
)


CustomField = Annotated[str, Field(max_length=1530), Visible]


class PhoneEntry(BaseModel):
    """One contact: LOX24's phone fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phone: Annotated[str, Visible] = Field(
        min_length=1, max_length=40, description="E.164, or national with default_region"
    )
    a: CustomField | None = _opt("a-e: see list_groups columns")
    b: CustomField | None = _opt()
    c: CustomField | None = _opt()
    d: CustomField | None = _opt()
    e: CustomField | None = _opt()
    callback_data: Annotated[str, Field(max_length=36), Visible] | None = _opt()

    def wire(self, phone: str) -> dict[str, str]:
        """The JSON object LOX24 receives, with `phone` replaced by its normalised form."""
        # By hand rather than model_dump: much faster, and this runs once per imported contact.
        body = {"phone": phone}
        for name in _OPTIONAL_PHONE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body


_OPTIONAL_PHONE_FIELDS = tuple(name for name in PhoneEntry.model_fields if name != "phone")


# ---------------------------------------------------------------------------- what LOX24 returns
# These models are built on first use (`defer_build`), not at import: only LOX24's answers need them.


class Sms(BaseModel):
    """An SMS as LOX24 reports it (the fields this server uses; others are ignored)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    uuid: str
    phone: str = ""
    text: str = ""
    sender_id: str | None = None
    delivery_at: int | None = None
    created_at: int | None = None
    gateway_sent_at: int | None = None
    status_code: int | None = None
    dlr_code: int | None = None
    is_sent: bool | None = None
    iso2: str | None = None
    callback_data: str | None = None
    bulk_id: str | None = None
    parts_count: int | None = None
    price: float | None = None


class SmsPage(BaseModel):
    """One page of `GET /sms` with the total LOX24 counted (JSON-LD `totalItems`, optional in its spec)."""

    model_config = ConfigDict(defer_build=True)

    total: int | None
    """None: LOX24 gave no total (never guess one from the page size)."""
    page: int
    items: list[Sms]
    has_next: bool | None = None
    """Whether LOX24's page view names a next page; None when it has no view."""
    server_time: int | None = None
    """LOX24's clock when it answered (its `Date` header, unix seconds); None without one."""

    @property
    def has_more(self) -> bool:
        """More pages after this one: LOX24's link if it gave one; else, with a total, whether the pages so far
        hold fewer (every page before this one as full as this one); with neither, whether this page had items."""
        if self.has_next is not None:
            return self.has_next
        if self.total is None:
            return bool(self.items)
        return bool(self.items) and self.page * len(self.items) < self.total

    @property
    def page_size(self) -> int:
        """Items per page as LOX24 pages this listing: this page's count, or on a short last page what the pages
        before it held."""
        if self.page > 1 and not self.has_more and self.items and self.total is not None:
            return max(len(self.items), (self.total - len(self.items)) // (self.page - 1))
        return len(self.items)


class Group(BaseModel):
    """A contact group. `name_a`…`name_e` are the group's own captions of the contact columns a–e."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    id: int
    name: str
    description: str | None = None
    count_items: int = 0
    name_a: str | None = None
    name_b: str | None = None
    name_c: str | None = None
    name_d: str | None = None
    name_e: str | None = None

    def columns(self) -> dict[str, str]:
        """The captioned contact columns, e.g. `{"a": "Anrede", "b": "Nachname"}` (unset ones left out)."""
        named = {"a": self.name_a, "b": self.name_b, "c": self.name_c, "d": self.name_d, "e": self.name_e}
        return {letter: name for letter, name in named.items() if name}


@dataclass(frozen=True, slots=True)
class BatchItemResult:
    """LOX24's verdict on one entry of a phones batch, in input order.

    A dataclass, not a pydantic model: an import makes one per contact (50,000 in a large one), and
    the client builds it from values it has already checked.
    """

    status: int
    phone_id: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class GroupContact(NamedTuple):
    """One contact of a group as LOX24's CSV export lists it (`GET /groups/{id}/file/csv`).

    A NamedTuple, not a pydantic model or a frozen dataclass: a group export can hold 50,000 of them,
    and a tuple is built much faster. `phone` is the stored form; `e164` the same number as a
    comparable key (see `stored_e164`).
    """

    phone: str
    id: str | None = None
    a: str | None = None
    b: str | None = None
    c: str | None = None
    d: str | None = None
    e: str | None = None
    callback_data: str | None = None
    #: Columns the export had beyond the documented ones, as (header, value).
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def e164(self) -> str:
        return stored_e164(self.phone)


class GroupContacts(list[GroupContact]):
    """A group's contacts (a list), plus the export's captions of the contact columns a–e.

    `columns` maps a letter to the header LOX24 used for it (`{"a": "Vorname", "b": "col_B"}`).
    """

    columns: dict[str, str]

    def __init__(self, contacts: Iterable[GroupContact] = (), columns: dict[str, str] | None = None) -> None:
        super().__init__(contacts)
        self.columns = dict(columns or {})


_STORED_SEPARATORS = re.compile(r"[\s().\-/]")


def stored_e164(phone: str) -> str:
    """A stored number as a comparable E.164 key: separators dropped, `00…` and bare digits get a `+`.

    LOX24 stores what it was sent (E.164 when it came from this server); this only evens out how an
    export might write it, without validating: `+49 151 1234` → `+491511234`, `49151…` → `+49151…`.
    """
    if phone[1:].isdigit() and phone.startswith("+"):  # as LOX24 stores what this server sends
        return phone
    text = _STORED_SEPARATORS.sub("", phone)
    if text.startswith("00"):
        return "+" + text[2:]
    if text.isdigit():
        return "+" + text
    return text
