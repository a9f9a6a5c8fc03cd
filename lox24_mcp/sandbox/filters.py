"""LOX24 collection filters (`GET /sms`, `POST /sms/ops/batch_cancel`) parsed from a raw query string into SQL.

The sandbox is deliberately stricter than LOX24: an unknown parameter or a malformed value is a 400 naming
the parameter, so that client bugs (a misspelt filter, a Python-style repeated key) surface in tests instead
of silently matching more SMS than intended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from lox24_mcp.sandbox.store import SqlValue

#: Exact filters and their value type (`bulk` filters the `bulk_id` column).
EXACT_INT: frozenset[str] = frozenset(
    {
        "dlr_code",
        "status_code",
        "gateway_sent_at",
        "delivery_at",
        "created_at",
        "chars_count",
        "parts_count",
        "source",
        "key_id",
    }
)
EXACT_STR: frozenset[str] = frozenset({"uuid", "iso2", "bulk", "callback_data"})
#: Fields that take `[gt]`, `[gte]`, `[lt]`, `[lte]`, `[between]` (the official client's allowedRangeFields).
RANGE_FIELDS: frozenset[str] = frozenset(
    {"created_at", "delivery_at", "gateway_sent_at", "chars_count", "parts_count", "source"}
)
#: Partial, case-insensitive substring filters.
PARTIAL: frozenset[str] = frozenset({"text", "phone", "sender_id", "ip"})
BOOLEAN: frozenset[str] = frozenset({"is_sent", "is_unicode"})
ORDERABLE: frozenset[str] = frozenset({"created_at", "gateway_sent_at"})

_COLUMN = {"bulk": "bulk_id"}
_RANGE_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_BOOLEANS = {"true": 1, "1": 1, "false": 0, "0": 0}
_INT = re.compile(r"-?\d{1,19}")
_KEY = re.compile(r"(?P<name>[A-Za-z0-9_]+)(?:\[(?P<op>[^\[\]]*)\])?")
_INT64 = 2**63

#: Names people guess, and the LOX24 names they meant (from the API reference's pitfalls table).
_HINTS = {
    "phone_country": "iso2",
    "country": "iso2",
    "dlr_status": "dlr_code",
    "text_length": "chars_count",
    "key": "key_id",
    "bulk_id": "bulk",
    "sent": "is_sent",
    "status": "status_code",
}

DEFAULT_ORDER = "created_at DESC, uuid ASC"


class QueryError(ValueError):
    """A query parameter LOX24's sandbox refuses; `detail` names the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.detail = f"{parameter}: {message}"


@dataclass(frozen=True)
class SmsQuery:
    """A parsed SMS selection: an SQL condition with its parameters, an ORDER BY clause and a page."""

    where: str
    params: tuple[SqlValue, ...]
    order_by: str
    page: int
    #: True when no filter was given (ordering and paging do not count).
    unfiltered: bool


def parse_int(parameter: str, value: str) -> int:
    """A signed 64-bit integer, or a QueryError naming `parameter`."""
    if not _INT.fullmatch(value) or not -_INT64 <= int(value) < _INT64:
        raise QueryError(parameter, f"expected an integer, got {value!r}")
    return int(value)


def parse_page(value: str) -> int:
    """The `page` parameter: an integer ≥ 1."""
    page = parse_int("page", value)
    if page < 1:
        raise QueryError("page", f"must be 1 or more, got {page}")
    return page


def _pairs(raw_query: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw_query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError as exc:
        raise QueryError("query", "is not valid UTF-8 after percent-decoding") from exc


def parse_page_only(raw_query: str) -> int:
    """For collections whose only parameter is `page` (`/groups`, `/groups/{id}/phones`)."""
    page = 1
    seen = False
    for key, value in _pairs(raw_query):
        if key != "page":
            raise QueryError(key, "unknown query parameter; this collection takes only `page`")
        if seen:
            raise QueryError("page", "is given more than once")
        seen = True
        page = parse_page(value)
    return page


class _Builder:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[SqlValue] = []
        self.scalar: set[str] = set()  # fields given as `x=v`
        self.bracketed: set[str] = set()  # fields given as `x[]=v` or `x[op]=v`
        self.lists: dict[str, list[SqlValue]] = {}
        self.ranges: set[tuple[str, str]] = set()
        self.orders: list[tuple[str, str]] = []
        self.page: int | None = None

    def value(self, parameter: str, field: str, raw: str) -> SqlValue:
        if field in EXACT_INT:
            return parse_int(parameter, raw)
        if raw == "":
            raise QueryError(parameter, "is empty; leave the parameter out instead")
        if field == "iso2" and not re.fullmatch(r"[A-Z]{2}", raw):
            raise QueryError(parameter, f"expected an ISO 3166-1 alpha-2 code in upper case, got {raw!r}")
        return raw

    def add(self, key: str, raw: str, *, allow_page: bool) -> None:
        match = _KEY.fullmatch(key)
        if match is None:
            raise QueryError(key, "unknown query parameter")
        name, op = match["name"], match["op"]
        if name == "page" and op is None:
            if not allow_page:
                raise QueryError("page", "batch operations take no `page`; they act on every matching SMS")
            if self.page is not None:
                raise QueryError("page", "is given more than once")
            self.page = parse_page(raw)
        elif name == "_order" and op is not None:
            self.order(key, op, raw)
        elif name in EXACT_INT or name in EXACT_STR:
            self.exact_or_range(key, name, op, raw)
        elif name in PARTIAL or name in BOOLEAN:
            if op is not None:
                kind = "partial" if name in PARTIAL else "boolean"
                raise QueryError(key, f"`{name}` is a {kind} filter and takes a single value: {name}=…")
            self.mark_scalar(key, name)
            if name in PARTIAL:
                if raw == "":
                    raise QueryError(key, "is empty; leave the parameter out instead")
                self.clauses.append(f"instr(sbx_lower({name}), ?) > 0")
                self.params.append(raw.lower())
            else:
                flag = _BOOLEANS.get(raw.lower())
                if flag is None:
                    raise QueryError(key, f"expected true, false, 1 or 0, got {raw!r}")
                self.clauses.append(f"{name} = ?")
                self.params.append(flag)
        else:
            hint = _HINTS.get(name)
            suffix = f"; did you mean `{hint}`?" if hint else ""
            raise QueryError(key, f"unknown query parameter{suffix}")

    def order(self, key: str, field: str, raw: str) -> None:
        if field not in ORDERABLE:
            raise QueryError(key, "SMS can be ordered only by _order[created_at] or _order[gateway_sent_at]")
        if any(f == field for f, _ in self.orders):
            raise QueryError(key, "is given more than once")
        direction = raw.lower()
        if direction not in ("asc", "desc"):
            raise QueryError(key, f"expected asc or desc, got {raw!r}")
        self.orders.append((field, direction.upper()))

    def mark_scalar(self, key: str, name: str) -> None:
        if name in self.scalar:
            raise QueryError(
                key,
                f"is given more than once; PHP keeps only the last value. Send a list as {name}[]=…&{name}[]=…",
            )
        if name in self.bracketed:
            raise QueryError(key, f"is given both as {name}=… and {name}[…]=…; PHP would drop one of them")
        self.scalar.add(name)

    def mark_bracketed(self, key: str, name: str) -> None:
        if name in self.scalar:
            raise QueryError(key, f"is given both as {name}=… and {name}[…]=…; PHP would drop one of them")
        self.bracketed.add(name)

    def exact_or_range(self, key: str, name: str, op: str | None, raw: str) -> None:
        column = _COLUMN.get(name, name)
        if op is None:
            self.mark_scalar(key, name)
            self.clauses.append(f"{column} = ?")
            self.params.append(self.value(key, name, raw))
            return
        self.mark_bracketed(key, name)
        if op == "":
            self.lists.setdefault(name, []).append(self.value(key, name, raw))
            return
        if op not in _RANGE_SQL and op != "between":
            raise QueryError(key, f"unknown operator `{op}`; use [] for a list or one of gt, gte, lt, lte, between")
        if name not in RANGE_FIELDS:
            allowed = ", ".join(sorted(RANGE_FIELDS))
            raise QueryError(key, f"`{name}` takes no range operators; only {allowed} do")
        if (name, op) in self.ranges:
            raise QueryError(key, "is given more than once")
        self.ranges.add((name, op))
        if op == "between":
            low, sep, high = raw.partition("..")
            if not sep:
                raise QueryError(key, f"expected FROM..TO with two dots, got {raw!r}")
            self.clauses.append(f"{column} BETWEEN ? AND ?")
            self.params.extend((parse_int(key, low), parse_int(key, high)))
        else:
            self.clauses.append(f"{column} {_RANGE_SQL[op]} ?")
            self.params.append(parse_int(key, raw))

    def build(self) -> SmsQuery:
        clauses, params = list(self.clauses), list(self.params)
        for name, values in self.lists.items():
            unique = list(dict.fromkeys(values))
            clauses.append(f"{_COLUMN.get(name, name)} IN ({', '.join('?' for _ in unique)})")
            params.extend(unique)
        order = ", ".join(f"{field} {direction}" for field, direction in self.orders)
        return SmsQuery(
            where=" AND ".join(clauses) or "1 = 1",
            params=tuple(params),
            order_by=f"{order}, uuid ASC" if order else DEFAULT_ORDER,
            page=self.page or 1,
            unfiltered=not clauses,
        )


def parse_sms_query(raw_query: str, *, allow_page: bool) -> SmsQuery:
    """Parse LOX24's SMS filters from a raw (still percent-encoded) query string.

    Brackets may arrive literal (`iso2[]=DE`) or encoded (`iso2%5B%5D=DE`). Raises `QueryError` for
    unknown keys, malformed values, range operators on fields without ranges, a repeated single-value key,
    and `page` when `allow_page` is false (batch operations).
    """
    builder = _Builder()
    for key, value in _pairs(raw_query):
        builder.add(key, value, allow_page=allow_page)
    return builder.build()
