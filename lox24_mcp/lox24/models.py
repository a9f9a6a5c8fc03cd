"""Pydantic models that mirror the LOX24 API: SMS filters, phone entries, and what LOX24 returns.

`SmsFilters` is the one filter model behind `GET /sms` and `POST /sms/ops/batch_cancel`. Its field
names are LOX24's query names, and `SmsFilters.to_query()` is the only place that turns them into
query parameters (PHP-style lists, `field[op]` ranges, unix seconds, `1`/`0` booleans).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self, TypeAlias
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

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

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 and C1 control characters


def _to_unix(value: Any) -> Any:
    """Accept unix seconds or an ISO 8601 date-time (naive means UTC); return unix seconds."""
    if isinstance(value, bool):
        raise ValueError("a timestamp must be unix seconds or an ISO 8601 date-time, not a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # Unix seconds have 9-10 digits for any date since 1973; "20261124" is an ISO basic date.
        if re.fullmatch(r"\d{9,10}", text):
            return int(text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{value[:40]!r} is neither unix seconds nor an ISO 8601 date-time (e.g. 2026-11-24T08:00:00+01:00)"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp())
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    return value


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


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


Timestamp = Annotated[
    int,
    BeforeValidator(_to_unix),
    Field(ge=0, le=MAX_UNIX),
    WithJsonSchema({"type": ["integer", "string"], "description": "unix seconds or ISO 8601 date-time"}),
]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Iso2 = Annotated[str, BeforeValidator(_upper), AfterValidator(_iso2)]
CallbackData = Annotated[str, Field(min_length=1, max_length=36), AfterValidator(_no_control)]
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
    """A time range; each bound is unix seconds or an ISO 8601 date-time."""

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
_ONE_OR_LIST = "value or list"
_RANGED = "value, list or {gte,lte,gt,lt}"


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
Uuids: TypeAlias = Annotated[Annotated[UUID, Tag("one")] | Annotated[list[UUID], _MANY, Tag("many")], _OneOrMany, _STRS]
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
    _TIMES,
]
CountFilter: TypeAlias = Annotated[
    Annotated[Count, Tag("one")] | Annotated[list[Count], _MANY, Tag("many")] | Annotated[CountRange, Tag("range")],
    _Ranged,
    _COUNTS,
]
PhonePart = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^\+?[0-9]+$")]
TextPart = Annotated[str, Field(min_length=1, max_length=1530), AfterValidator(_no_control)]
SenderPart = Annotated[str, Field(min_length=1, max_length=16), AfterValidator(_no_control)]
IpPart = Annotated[str, Field(min_length=1, max_length=45, pattern=r"^[0-9A-Fa-f.:]+$")]


class SmsFilters(BaseModel):
    """Every filter of `GET /sms` and `POST /sms/ops/batch_cancel`, named as LOX24 names them.

    All filters combine with AND. Exact filters take one value or a list (SQL IN); the range-capable
    ones (`created_at`, `delivery_at`, `gateway_sent_at`, `chars_count`, `parts_count`, `source`) also
    take `{gt, gte, lt, lte}`. Timestamps accept unix seconds or ISO 8601 and go out as unix seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    uuid: Uuids | None = _opt(f"SMS id(s); {_ONE_OR_LIST}")
    bulk: Uuids | None = _opt("Bulk id(s) (bulk_id)")
    callback_data: CallbackDatas | None = _opt("Your tag(s), e.g. 'spring-sale'")
    iso2: Iso2s | None = _opt("Country, ISO alpha-2: 'DE' or ['DE','AT']")
    phone: PhonePart | None = _opt("Number, partial: '+49151'")
    text: TextPart | None = _opt("Text, partial, any case")
    sender_id: SenderPart | None = _opt("Partial")
    status_code: StatusCodes | None = _opt("0 new, 100 sent, 410/6000 stopped, 208/400/2000/3000/5000 failed")
    dlr_code: DlrCodes | None = _opt(
        "Delivery report: 0 none, 1 delivered, 2 queued, 4 en route, 8 expired, 16 rejected"
    )
    delivery_at: TimeFilter | None = _opt(f"Scheduled send time; {_RANGED}")
    created_at: TimeFilter | None = _opt(f"Creation time; {_RANGED}")
    gateway_sent_at: TimeFilter | None = _opt(f"Time handed to the operator; {_RANGED}")
    chars_count: CountFilter | None = _opt(f"Text length; {_RANGED}")
    parts_count: CountFilter | None = _opt(f"SMS parts; {_RANGED}")
    source: CountFilter | None = _opt(f"Your numeric source id; {_RANGED}")
    key_id: KeyIds | None = _opt("API key id(s)")
    ip: IpPart | None = _opt("Sender IP, partial")
    is_unicode: bool | None = _opt(None)
    is_sent: bool | None = _opt(None)
    order_by: Literal["created_at", "gateway_sent_at"] | None = _opt("_order[...] field")
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

    def canonical(self) -> str:
        """A stable text form of the selection: the same SMS selection gives the same string (order ignored)."""
        return "&".join(f"{k}={v}" for k, v in sorted(self.to_query()) if not k.startswith("_order"))

    def summary(self) -> str:
        """A short human-readable description of the filters, e.g. `iso2=DE, callback_data=spring-sale`."""
        parts: dict[str, list[str]] = {}
        for key, value in self.to_query():
            if key.startswith("_order"):
                continue
            base = key.split("[", 1)[0]
            op = key[len(base) :].strip("[]")
            parts.setdefault(base, []).append(f"{op} {value}" if op else value)
        return ", ".join(f"{k}={'|'.join(v)}" for k, v in parts.items()) or "no filter"


def _wire(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


FILTER_FIELDS: tuple[str, ...] = tuple(name for name in SmsFilters.model_fields if name not in ("order_by", "order"))
RANGE_FIELDS: frozenset[str] = frozenset(
    {"created_at", "delivery_at", "gateway_sent_at", "chars_count", "parts_count", "source"}
)


CustomField = Annotated[str, Field(max_length=1530)]


class PhoneEntry(BaseModel):
    """One contact: LOX24's phone fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phone: str = Field(min_length=1, max_length=40, description="E.164, or national with default_region")
    a: CustomField | None = _opt("e.g. salutation")
    b: CustomField | None = _opt("e.g. last name")
    c: CustomField | None = _opt()
    d: CustomField | None = _opt()
    e: CustomField | None = _opt()
    callback_data: Annotated[str, Field(max_length=36)] | None = _opt()

    def wire(self, phone: str) -> dict[str, str]:
        """The JSON object LOX24 receives, with `phone` replaced by its normalised form."""
        # By hand rather than model_dump: ~10x faster, and this runs once per imported contact.
        body = {"phone": phone}
        for name in _OPTIONAL_PHONE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body


_OPTIONAL_PHONE_FIELDS = tuple(name for name in PhoneEntry.model_fields if name != "phone")


# ---------------------------------------------------------------------------- what LOX24 returns


class Sms(BaseModel):
    """An SMS as LOX24 reports it (the fields this server uses; others are ignored)."""

    model_config = ConfigDict(extra="ignore")

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

    total: int | None
    """None: LOX24 gave no total (never guess one from the page size)."""
    page: int
    items: list[Sms]
    has_next: bool | None = None
    """Whether LOX24's page view names a next page; None when it has no view."""
    server_time: int | None = None
    """LOX24's clock when it answered (its `Date` header, unix seconds); None without one."""


class Group(BaseModel):
    """A contact group."""

    model_config = ConfigDict(extra="ignore")

    id: int
    name: str
    description: str | None = None
    count_items: int = 0


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
