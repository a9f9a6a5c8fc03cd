"""Local times: the zone setting, dates as local days (across DST), and the readable form of timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from lox24_mcp.config import ConfigError, Settings
from lox24_mcp.lox24 import times
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.lox24.times import day_bounds, format_local, short_local, zone_override

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def unix(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def query_in(zone: ZoneInfo, **filters: object) -> list[tuple[str, str]]:
    with zone_override(zone):
        return SmsFilters.model_validate(filters).to_query()


# ----------------------------------------------------------------------------- the setting


def test_the_zone_comes_from_lox24_mcp_timezone() -> None:
    settings = Settings.from_env({"LOX24_MCP_TIMEZONE": " Europe/Vienna "})
    assert settings.timezone == "Europe/Vienna"
    assert settings.zone() == ZoneInfo("Europe/Vienna")


@pytest.mark.parametrize("name", ["Europe/Berln", "CET+1", "../../etc/passwd", "/etc/localtime", "Mars/Olympus"])
def test_an_unknown_zone_is_one_clear_config_error_naming_the_variable(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"LOX24_MCP_TIMEZONE": name})
    message = str(info.value)
    assert message.startswith("invalid configuration in LOX24_MCP_TIMEZONE (")
    assert "is not an IANA time-zone name (e.g. Europe/Berlin" in message


def test_unset_means_the_machines_zone() -> None:
    assert Settings.from_env({}).timezone is None
    assert Settings.from_env({}).zone() == times.machine_zone()


def test_a_task_override_wins_over_the_configured_zone_and_ends_with_its_block() -> None:
    times.configure_zone(NEW_YORK)
    with zone_override(BERLIN):
        assert times.current_zone() is BERLIN
    assert times.current_zone() is NEW_YORK


# ----------------------------------------------------------------------------- in: dates and naive times


def test_a_date_alone_is_the_local_day_from_midnight_to_midnight() -> None:
    assert query_in(BERLIN, delivery_at="2026-12-01") == [
        ("delivery_at[gte]", str(unix("2026-12-01T00:00:00+01:00"))),
        ("delivery_at[lt]", str(unix("2026-12-02T00:00:00+01:00"))),
    ]


def test_range_bounds_written_as_dates_are_local_midnights() -> None:
    assert query_in(BERLIN, delivery_at={"gte": "2026-12-01", "lt": "2026-12-02"}) == query_in(
        BERLIN, delivery_at="2026-12-01"
    )


def test_lte_and_gt_with_a_date_include_and_exclude_that_whole_day() -> None:
    end_of_day = unix("2026-12-02T00:00:00+01:00") - 1
    assert query_in(BERLIN, created_at={"lte": "2026-12-01"}) == [("created_at[lte]", str(end_of_day))]
    assert query_in(BERLIN, created_at={"gt": "2026-12-01"}) == [("created_at[gt]", str(end_of_day))]


def test_the_same_date_is_a_different_day_in_another_zone() -> None:
    berlin, new_york = query_in(BERLIN, delivery_at="2026-12-01"), query_in(NEW_YORK, delivery_at="2026-12-01")
    assert int(new_york[0][1]) - int(berlin[0][1]) == 6 * 3600


@pytest.mark.parametrize(("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24)])
def test_a_local_day_across_a_dst_change_has_23_or_25_hours(day: str, hours: int) -> None:
    start, end = day_bounds(day, zone=BERLIN)
    assert (end - start) == hours * 3600
    assert datetime.fromtimestamp(start, BERLIN).hour == 0
    assert datetime.fromtimestamp(end, BERLIN).hour == 0


def test_a_day_whose_midnight_does_not_exist_starts_at_its_first_moment() -> None:
    # Santiago skips 00:00-01:00 when DST starts (first Sunday of September in 2026).
    santiago = ZoneInfo("America/Santiago")
    start, end = day_bounds("2026-09-06", zone=santiago)
    assert datetime.fromtimestamp(start, santiago).strftime("%Y-%m-%d %H:%M") == "2026-09-06 01:00"
    assert end - start == 23 * 3600


def test_an_iso_time_without_offset_is_local_time_and_with_one_means_what_it_says() -> None:
    assert query_in(BERLIN, delivery_at="2026-12-01T09:00") == [("delivery_at", str(unix("2026-12-01T08:00:00Z")))]
    assert query_in(BERLIN, delivery_at="2026-07-01T09:00") == [("delivery_at", str(unix("2026-07-01T07:00:00Z")))]
    assert query_in(BERLIN, delivery_at="2026-12-01T09:00Z") == [("delivery_at", str(unix("2026-12-01T09:00:00Z")))]
    assert query_in(BERLIN, delivery_at=1796112000) == [("delivery_at", "1796112000")]


def test_a_local_time_the_clocks_skip_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValidationError, match=r"2026-03-29 02:30 does not exist in Europe/Berlin"):
        query_in(BERLIN, delivery_at="2026-03-29T02:30")


def test_a_local_time_that_occurs_twice_is_its_first_occurrence() -> None:
    assert query_in(BERLIN, delivery_at="2026-10-25T02:30") == [("delivery_at", str(unix("2026-10-25T02:30+02:00")))]


def test_a_list_of_dates_is_refused_with_what_to_write_instead() -> None:
    with pytest.raises(ValidationError, match=r"for a whole day give the date alone"):
        query_in(BERLIN, delivery_at=["2026-12-01", "2026-12-02"])


# ----------------------------------------------------------------------------- out: the readable form


def test_a_timestamp_reads_with_weekday_local_time_and_offset() -> None:
    assert format_local(unix("2026-12-01T08:00:00Z"), zone=BERLIN) == "Tue 2026-12-01 09:00 +01:00"
    assert format_local(unix("2026-07-01T08:00:00Z"), zone=BERLIN) == "Wed 2026-07-01 10:00 +02:00"
    assert format_local(unix("2026-12-01T08:00:00Z"), zone=NEW_YORK) == "Tue 2026-12-01 03:00 -05:00"
    assert format_local(unix("2026-12-01T08:00:00Z"), zone=ZoneInfo("Asia/Kolkata")) == "Tue 2026-12-01 13:30 +05:30"


@pytest.mark.parametrize("value", [0, None])
def test_zero_reads_as_what_lox24_means_never_as_1970(value: int | None) -> None:
    assert format_local(value, zone=BERLIN) == "immediately"
    assert format_local(value, zero="not sent", zone=BERLIN) == "not sent"


def test_sentences_name_the_zone_and_leave_out_the_date_on_the_same_day() -> None:
    ts = unix("2026-11-30T13:44:00Z")
    assert short_local(ts, now=ts - 600, zone=BERLIN) == "14:44 Europe/Berlin time"
    assert short_local(ts, now=ts - 86_400, zone=BERLIN) == "Mon 2026-11-30 14:44 Europe/Berlin time"
    assert short_local(ts, now=ts, zone=ZoneInfo("UTC")) == "13:44 UTC"
    assert short_local(ts, now=ts, zone=ZoneInfo("Etc/UTC")) == "13:44 UTC"


def test_now_is_the_current_local_time_in_the_same_form() -> None:
    before = datetime.now(UTC).timestamp()
    text = times.now_local(zone=BERLIN)
    parsed = datetime.strptime(text[4:], "%Y-%m-%d %H:%M %z")
    assert abs(parsed.timestamp() - before) < 120


def test_filter_summaries_show_local_times_and_whole_days() -> None:
    with zone_override(BERLIN):
        one_day = SmsFilters.model_validate({"delivery_at": "2026-12-01", "callback_data": "x" * 36}).summary()
        from_nine = SmsFilters.model_validate({"delivery_at": {"gte": "2026-12-01T09:00"}}).summary()
    assert one_day == 'callback_data="xxxxxxxxxxxxxxxxxxxxxxxxxxxxx…", delivery_at=Tue 2026-12-01 (whole day)'
    assert from_nine == "delivery_at=≥Tue 2026-12-01 09:00 +01:00"
