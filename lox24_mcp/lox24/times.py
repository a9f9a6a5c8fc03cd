"""Local time: which zone the server speaks, how people's dates become unix seconds, and back.

LOX24 stores unix seconds. People say "tomorrow" and "2026-12-01 09:00" and mean their own wall clock,
so the server has one zone (`LOX24_MCP_TIMEZONE`, default the machine's) and uses it both ways:

- **in:** a date alone (`2026-12-01`) is that local day, `[local midnight, next local midnight)`; an ISO
  date-time without an offset is local time (one with an offset or `Z` means what it says);
- **out:** every timestamp also comes as `"Tue 2026-12-01 09:00 +01:00"`, and `0` reads as what LOX24
  means by it ("immediately", "not sent"), never as 1970.

The zone is read by `SmsFilters` validation, which runs inside the MCP SDK's argument parsing, where no
validation context can be passed. So it is a process setting (`configure_zone`, called once by the server
at start-up) that a `ContextVar` can override for one task (`zone_override`, for tests and embedding).
This module imports neither `mcp` nor anything else of the project.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "InvalidZoneError",
    "configure_zone",
    "current_zone",
    "day_bounds",
    "format_local",
    "is_date_only",
    "load_zone",
    "local_to_unix",
    "now_local",
    "short_local",
    "zone_label",
    "zone_override",
]

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidZoneError(ValueError):
    """The name is not an IANA time-zone name this machine knows."""


def load_zone(name: str) -> ZoneInfo:
    """The zone called `name` (IANA, e.g. `Europe/Berlin`, `UTC`).

    Raises:
        InvalidZoneError: unknown name; the message gives examples.
    """
    text = name.strip()
    try:
        if not text or text.startswith(("/", ".")) or ".." in text:
            raise ValueError
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidZoneError(
            f"{name[:40]!r} is not an IANA time-zone name (e.g. Europe/Berlin, Europe/Vienna, UTC)"
        ) from None


def machine_zone() -> tzinfo:
    """The machine's local zone: `TZ` if it names an IANA zone, else `/etc/localtime`, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return load_zone(name)
        except InvalidZoneError:
            pass
    localtime = Path("/etc/localtime")
    try:
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
        with localtime.open("rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError, ZoneInfoNotFoundError):
        pass
    # No tz database entry (e.g. Windows without tzdata): a fixed offset is better than guessing.
    return datetime.now().astimezone().tzinfo or UTC


_configured: list[tzinfo] = []
_override: ContextVar[tzinfo | None] = ContextVar("lox24_mcp_zone", default=None)


def configure_zone(zone: tzinfo | None) -> None:
    """Set the process's zone (the server does this once from `LOX24_MCP_TIMEZONE`); None: the machine's."""
    _configured[:] = [zone if zone is not None else machine_zone()]


def current_zone() -> tzinfo:
    """The zone in force: a `zone_override` of this task, else the configured one, else the machine's."""
    zone = _override.get()
    if zone is not None:
        return zone
    if not _configured:
        configure_zone(None)
    return _configured[0]


@contextmanager
def zone_override(zone: tzinfo) -> Iterator[None]:
    """Use `zone` in this task (and tasks it starts) while the block runs."""
    token = _override.set(zone)
    try:
        yield
    finally:
        _override.reset(token)


def zone_label(zone: tzinfo | None = None) -> str:
    """How messages name the zone: its IANA name (`Europe/Berlin`), `UTC`, or the machine's abbreviation."""
    zone = zone or current_zone()
    key = getattr(zone, "key", None)
    if key in ("UTC", "Etc/UTC", "Etc/UCT", "Etc/Zulu", "Zulu", "UCT", "Universal", "Etc/Universal"):
        return "UTC"
    if isinstance(key, str) and key != "localtime":
        return key
    return datetime.now(zone).tzname() or "local"


# ----------------------------------------------------------------------------- out


_offsets: dict[timedelta | None, str] = {}


def _offset(moment: datetime) -> str:
    """`+01:00`; a zone has only a few offsets, so each is worked out once."""
    delta = moment.utcoffset()
    text = _offsets.get(delta)
    if text is None:
        minutes = int((delta or timedelta(0)).total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        text = _offsets[delta] = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


def format_local(
    ts: int | None, *, zero: str = "immediately", zone: tzinfo | None = None, seconds: bool = False
) -> str:
    """`"Tue 2026-12-01 09:00 +01:00"` for unix seconds `ts`; `zero` for 0 or None (LOX24's "not set").

    The weekday is English and fixed-width, so a model and a person read the same thing whatever the
    machine's locale.
    """
    if not ts:
        return zero
    moment = datetime.fromtimestamp(ts, zone or current_zone())
    # Fields rather than strftime: faster, and a page of search results formats 60 of these.
    clock = f"{moment.hour:02d}:{moment.minute:02d}" + (f":{moment.second:02d}" if seconds else "")
    day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    return f"{_WEEKDAYS[moment.weekday()]} {day} {clock} {_offset(moment)}"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def short_local(ts: int, *, now: int | None = None, zone: tzinfo | None = None) -> str:
    """For sentences: `"14:44 Europe/Berlin time"` on the current local day, else with weekday and date."""
    zone = zone or current_zone()
    moment = datetime.fromtimestamp(ts, zone)
    today = datetime.fromtimestamp(now, zone).date() if now is not None else datetime.now(zone).date()
    label = zone_label(zone)
    suffix = "UTC" if label == "UTC" else f"{label} time"
    if moment.date() == today:
        return f"{moment:%H:%M} {suffix}"
    return f"{_WEEKDAYS[moment.weekday()]} {moment:%Y-%m-%d %H:%M} {suffix}"


def now_local(now: int | None = None, *, zone: tzinfo | None = None) -> str:
    """The current local time in the result form (`"now"` in results anchors "today" for a model)."""
    return format_local(int(datetime.now(UTC).timestamp()) if now is None else now, zone=zone)


def local_day(ts: int, *, zone: tzinfo | None = None) -> date:
    """The local calendar day of unix seconds `ts`."""
    return datetime.fromtimestamp(ts, zone or current_zone()).date()


# ----------------------------------------------------------------------------- in


def is_date_only(value: object) -> bool:
    """True for a calendar date written alone, `2026-12-01`."""
    return isinstance(value, str) and _DATE_ONLY.fullmatch(value.strip()) is not None


def _midnight(day: date, zone: tzinfo) -> int:
    """Unix seconds of the first moment of `day` in `zone` (00:00, or the first hour after a DST gap)."""
    return local_to_unix(datetime(day.year, day.month, day.day), zone=zone, exact=False)


def day_bounds(day: date | str, *, zone: tzinfo | None = None) -> tuple[int, int]:
    """`(start, end)` of a local day as unix seconds: the day is `start <= t < end` (23 or 25 hours at DST)."""
    zone = zone or current_zone()
    if isinstance(day, str):
        day = _parse_date(day)
    return _midnight(day, zone), _midnight(day + timedelta(days=1), zone)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a calendar date (YYYY-MM-DD)") from None


def local_to_unix(moment: datetime, *, zone: tzinfo | None = None, exact: bool = True) -> int:
    """Unix seconds of `moment`; without an offset it is read as a local time in `zone`.

    A local time that occurs twice (the hour the clocks go back) is its first occurrence. A local time
    that does not exist (the hour the clocks skip) is refused when `exact`, else moved past the gap.

    Raises:
        ValueError: `exact` and the local time does not exist in the zone.
    """
    if moment.tzinfo is not None:
        return int(moment.timestamp())
    zone = zone or current_zone()
    aware = moment.replace(tzinfo=zone, fold=0)
    ts = int(aware.timestamp())
    back = datetime.fromtimestamp(ts, zone).replace(tzinfo=None)
    if exact and back != moment.replace(microsecond=0):
        raise ValueError(
            f"{moment:%Y-%m-%d %H:%M} does not exist in {zone_label(zone)} (the clocks skip that hour); "
            "give a time outside the gap or an explicit offset"
        )
    # In a gap, fold=0 reads the time with the offset from before the jump: the moment after the gap.
    return ts


def parse_time(text: str, *, zone: tzinfo | None = None) -> int:
    """Unix seconds for an ISO 8601 date-time (local when it has no offset) or a date (its local midnight)."""
    value = text.strip()
    if is_date_only(value):
        return day_bounds(value, zone=zone)[0]
    parsed = datetime.fromisoformat(value)
    return local_to_unix(parsed, zone=zone)
