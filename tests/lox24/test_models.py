"""Pure unit tests: `SmsFilters` validation, wire form, canonical form and summary; `PhoneEntry`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lox24_mcp.lox24.models import (
    DLR_CODES,
    FILTER_FIELDS,
    ISO2_CODES,
    MAX_LIST,
    RANGE_FIELDS,
    STATUS_CODES,
    PhoneEntry,
    SmsFilters,
)
from lox24_mcp.lox24.times import zone_override

U1 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
U2 = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
#: 2026-11-24T08:00:00+01:00 == 2026-11-24T07:00:00Z.
T = 1_795_503_600
P = 1_800_000_000  # a preview time


def filters(**data: Any) -> SmsFilters:
    """Validate like the MCP layer does: from plain JSON-ish data (dict ranges, ISO strings)."""
    return SmsFilters.model_validate(data)


def errors_of(data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str, str]]:
    with pytest.raises(ValidationError) as info:
        SmsFilters.model_validate(data)
    return [(err["loc"], err["msg"], err["type"]) for err in info.value.errors()]


# ----------------------------------------------------------------------------- wire form: one field at a time

#: One example per field and value form, with the exact query pairs LOX24 must receive.
WIRE_CASES: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
    ({"uuid": U1}, [("uuid", U1)]),
    ({"uuid": U1.upper()}, [("uuid", U1)]),
    ({"uuid": [U1, U2]}, [("uuid[]", U1), ("uuid[]", U2)]),
    ({"bulk": U2}, [("bulk", U2)]),
    ({"bulk": [U2, U1]}, [("bulk[]", U2), ("bulk[]", U1)]),
    ({"callback_data": "spring-sale"}, [("callback_data", "spring-sale")]),
    ({"callback_data": ["a", "b c"]}, [("callback_data[]", "a"), ("callback_data[]", "b c")]),
    ({"iso2": "DE"}, [("iso2", "DE")]),
    ({"iso2": "de"}, [("iso2", "DE")]),
    ({"iso2": ["DE", "AT"]}, [("iso2[]", "DE"), ("iso2[]", "AT")]),
    ({"phone": "+49151"}, [("phone", "+49151")]),
    ({"phone": "4917"}, [("phone", "4917")]),
    ({"text": "Spring sale"}, [("text", "Spring sale")]),
    ({"sender_id": "ACME"}, [("sender_id", "ACME")]),
    ({"status_code": 0}, [("status_code", "0")]),
    ({"status_code": [0, 6000]}, [("status_code[]", "0"), ("status_code[]", "6000")]),
    ({"dlr_code": 16}, [("dlr_code", "16")]),
    ({"dlr_code": [1, 8]}, [("dlr_code[]", "1"), ("dlr_code[]", "8")]),
    ({"delivery_at": T}, [("delivery_at", str(T))]),
    ({"delivery_at": [T, T + 60]}, [("delivery_at[]", str(T)), ("delivery_at[]", str(T + 60))]),
    ({"created_at": T}, [("created_at", str(T))]),
    ({"gateway_sent_at": [T, T + 1]}, [("gateway_sent_at[]", str(T)), ("gateway_sent_at[]", str(T + 1))]),
    ({"chars_count": 160}, [("chars_count", "160")]),
    ({"chars_count": [70, 160]}, [("chars_count[]", "70"), ("chars_count[]", "160")]),
    ({"parts_count": 2}, [("parts_count", "2")]),
    ({"source": [5, 7]}, [("source[]", "5"), ("source[]", "7")]),
    ({"key_id": 3}, [("key_id", "3")]),
    ({"key_id": [3, 4]}, [("key_id[]", "3"), ("key_id[]", "4")]),
    ({"ip": "192.168."}, [("ip", "192.168.")]),
    ({"ip": "2001:db8::"}, [("ip", "2001:db8::")]),
    ({"is_unicode": True}, [("is_unicode", "1")]),
    ({"is_unicode": False}, [("is_unicode", "0")]),
    ({"is_sent": True}, [("is_sent", "1")]),
    ({"is_sent": False}, [("is_sent", "0")]),
    ({"is_sent": "false"}, [("is_sent", "0")]),
    ({"order_by": "created_at"}, [("_order[created_at]", "desc")]),
    ({"order_by": "gateway_sent_at", "order": "asc"}, [("_order[gateway_sent_at]", "asc")]),
]


@pytest.mark.parametrize(("data", "expected"), WIRE_CASES, ids=[json.dumps(c[0]) for c in WIRE_CASES])
def test_each_filter_value_form_produces_lox24_query_pairs(
    data: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert filters(**data).to_query() == expected


def test_wire_cases_cover_every_filter_field_and_ordering() -> None:
    covered = {key for data, _ in WIRE_CASES for key in data}
    assert covered >= {*FILTER_FIELDS, "order_by", "order"}


@pytest.mark.parametrize("field", sorted(RANGE_FIELDS))
@pytest.mark.parametrize(
    ("bounds", "expected_ops"),
    [
        ({"gte": 100, "lte": 200}, [("gte", "100"), ("lte", "200")]),
        ({"gt": 100, "lt": 200}, [("gt", "100"), ("lt", "200")]),
        ({"lt": 200, "gt": 100}, [("gt", "100"), ("lt", "200")]),
        ({"gte": 100}, [("gte", "100")]),
        ({"gt": 100}, [("gt", "100")]),
        ({"lt": 200}, [("lt", "200")]),
        ({"lte": 200}, [("lte", "200")]),
        ({"gte": 150, "lte": 150}, [("gte", "150"), ("lte", "150")]),
    ],
)
def test_range_object_becomes_field_op_pairs_in_fixed_order(
    field: str, bounds: dict[str, int], expected_ops: list[tuple[str, str]]
) -> None:
    base = T if field.endswith("_at") else 0  # timestamps before 2000 are refused as typos
    shifted = {op: base + bound for op, bound in bounds.items()}
    expected = [(f"{field}[{op}]", str(base + int(value))) for op, value in expected_ops]
    assert filters(**{field: shifted}).to_query() == expected


@pytest.mark.parametrize(
    ("field", "values", "expected"),
    [
        ("iso2", ["DE"], [("iso2", "DE")]),
        ("iso2", ["DE", "de", "De"], [("iso2", "DE")]),
        ("iso2", ["AT", "DE", "AT", "CH", "DE"], [("iso2[]", "AT"), ("iso2[]", "DE"), ("iso2[]", "CH")]),
        ("uuid", [U1, U1.upper()], [("uuid", U1)]),
        ("status_code", [6000, 6000], [("status_code", "6000")]),
        ("created_at", [T, "2026-11-24T07:00:00Z"], [("created_at", str(T))]),
        ("callback_data", ["x", "y", "x"], [("callback_data[]", "x"), ("callback_data[]", "y")]),
    ],
)
def test_list_duplicates_are_dropped_in_first_seen_order_and_a_single_value_goes_out_as_scalar(
    field: str, values: list[Any], expected: list[tuple[str, str]]
) -> None:
    assert filters(**{field: values}).to_query() == expected


@pytest.mark.parametrize(
    "written",
    [
        "2026-11-24T08:00:00+01:00",
        "2026-11-24T07:00:00+00:00",
        "2026-11-24T07:00:00Z",
        "2026-11-24T07:00:00",  # naive = local time (UTC in this test)
        "2026-11-24 07:00:00",
        "  2026-11-24T02:00:00-05:00 ",
        T,
        str(T),
        float(T),
        datetime(2026, 11, 24, 8, 0, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 11, 24, 7, 0),  # naive = local time (UTC in this test)
    ],
)
def test_iso_8601_with_offset_naive_and_unix_seconds_all_go_out_as_the_same_unix_seconds(written: Any) -> None:
    with zone_override(UTC):
        check_same_unix_seconds(written)


def check_same_unix_seconds(written: Any) -> None:
    assert filters(delivery_at=written).to_query() == [("delivery_at", str(T))]
    assert filters(created_at={"gte": written}).to_query() == [("created_at[gte]", str(T))]
    assert filters(gateway_sent_at=[written]).to_query() == [("gateway_sent_at", str(T))]


def test_a_date_object_means_local_midnight() -> None:
    with zone_override(UTC):
        assert filters(created_at=date(2026, 11, 24)).to_query() == [("created_at", str(T - 7 * 3600))]


def test_all_fields_together_come_out_in_one_deterministic_query() -> None:
    f = filters(
        uuid=[U1, U2],
        iso2="AT",
        status_code=0,
        created_at={"gte": "2026-11-24T08:00:00+01:00", "lt": T + 3600},
        is_sent=False,
        order_by="created_at",
        order="asc",
    )
    assert f.to_query() == [
        ("uuid[]", U1),
        ("uuid[]", U2),
        ("iso2", "AT"),
        ("status_code", "0"),
        ("created_at[gte]", str(T)),
        ("created_at[lt]", str(T + 3600)),
        ("is_sent", "0"),
        ("_order[created_at]", "asc"),
    ]


def test_order_without_order_by_sends_no_ordering() -> None:
    assert filters(iso2="DE", order="asc").to_query() == [("iso2", "DE")]


@pytest.mark.hypothesis
@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(ISO2_CODES)), min_size=1, max_size=MAX_LIST))
def test_any_country_list_goes_out_once_per_distinct_code_in_first_seen_order(codes: list[str]) -> None:
    unique = list(dict.fromkeys(codes))
    expected = [("iso2", unique[0])] if len(unique) == 1 else [("iso2[]", c) for c in unique]
    assert filters(iso2=codes).to_query() == expected


@pytest.mark.hypothesis
@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 31), timezones=st.timezones()))
def test_any_aware_iso_timestamp_goes_out_as_its_unix_seconds(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    expected = int(moment.timestamp())
    assert filters(created_at=moment.isoformat()).to_query() == [("created_at", str(expected))]


# ----------------------------------------------------------------------------- validation errors


@pytest.mark.parametrize(
    ("data", "loc", "phrase"),
    [
        ({"iso2": "XX"}, ("iso2", "one"), "not an ISO 3166-1 alpha-2 country code"),
        ({"iso2": "DEU"}, ("iso2", "one"), "not an ISO 3166-1 alpha-2 country code"),
        ({"iso2": ["DE", "ZZ"]}, ("iso2", "many", 1), "not an ISO 3166-1 alpha-2 country code"),
        ({"dlr_code": 3}, ("dlr_code", "one"), "0, 1, 2, 4, 8 or 16"),
        ({"dlr_code": [1, 32]}, ("dlr_code", "many", 1), "0, 1, 2, 4, 8 or 16"),
        ({"status_code": 7}, ("status_code", "one"), "0, 100, 208, 400, 410, 2000, 3000, 5000 or 6000"),
        ({"status_code": [0, 200]}, ("status_code", "many", 1), "6000"),
        ({"uuid": "not-a-uuid"}, ("uuid", "one"), "valid UUID"),
        ({"bulk": [U1, "1234"]}, ("bulk", "many", 1), "valid UUID"),
        ({"iso2": ["DE"] * (MAX_LIST + 1)}, ("iso2", "many"), "at most 100 items"),
        ({"uuid": [U1] * (MAX_LIST + 1)}, ("uuid", "many"), "at most 100 items"),
        ({"iso2": []}, ("iso2", "many"), "at least 1 item"),
        ({"key_id": []}, ("key_id", "many"), "at least 1 item"),
        ({"created_at": {}}, ("created_at", "range"), "at least one of gt, gte, lt, lte"),
        ({"created_at": {"gt": T + 1, "gte": T + 2}}, ("created_at", "range"), "either gt or gte"),
        ({"chars_count": {"lt": 5, "lte": 6}}, ("chars_count", "range"), "either lt or lte"),
        (
            {"created_at": {"gte": T + 5, "lte": T + 4}},
            ("created_at", "range"),
            f"lower bound {T + 5} is above upper bound {T + 4}",
        ),
        ({"source": {"gt": 9, "lt": 3}}, ("source", "range"), "lower bound 9 is above upper bound 3"),
        (
            {"delivery_at": {"gte": "2026-11-25T00:00:00Z", "lte": "2026-11-24T00:00:00Z"}},
            ("delivery_at", "range"),
            "the range is empty",
        ),
        ({"created_at": {"after": 5}}, ("created_at", "range", "after"), "Extra inputs are not permitted"),
        ({"callback_data": "a\nb"}, ("callback_data", "one"), "control characters"),
        ({"callback_data": ["ok", "tab\there"]}, ("callback_data", "many", 1), "control characters"),
        ({"text": "x\x00y"}, ("text",), "control characters"),
        ({"sender_id": "ACME\x7f"}, ("sender_id",), "control characters"),
        ({"created_at": "garbage"}, ("created_at", "one"), "neither unix seconds nor an ISO 8601"),
        ({"created_at": "24.11.2026"}, ("created_at", "one"), "neither unix seconds nor an ISO 8601"),
        ({"delivery_at": {"gte": "tomorrow"}}, ("delivery_at", "range", "gte"), "neither unix seconds nor an ISO"),
        ({"created_at": True}, ("created_at", "one"), "not a boolean"),
        ({"created_at": 1.5}, ("created_at", "one"), "integer"),
        ({"created_at": -1}, ("created_at", "one"), "before 2000-01-01"),
        ({"created_at": "2100-01-01T00:00:01Z"}, ("created_at", "one"), "less than or equal to 4102444800"),
        ({"chars_count": -1}, ("chars_count", "one"), "greater than or equal to 0"),
        ({"key_id": 0}, ("key_id", "one"), "greater than or equal to 1"),
        ({"phone": "+49 151 x"}, ("phone",), "a phone filter takes digits"),
        ({"ip": "10.0.0.1; drop"}, ("ip",), "pattern"),
        ({"order_by": "delivery_at"}, ("order_by",), "'created_at' or 'gateway_sent_at'"),
        ({"order": "up"}, ("order",), "'asc' or 'desc'"),
        ({"phone_country": "DE"}, ("phone_country",), "Extra inputs are not permitted"),
        ({"bulk_id": U1}, ("bulk_id",), "Extra inputs are not permitted"),
    ],
)
def test_bad_filter_gives_one_clear_error_at_the_field(
    data: dict[str, Any], loc: tuple[int | str, ...], phrase: str
) -> None:
    errors = errors_of(data)
    assert len(errors) == 1, errors  # the form it was written in, not every form of the union
    (got_loc, message, _type) = errors[0]
    assert got_loc == loc
    assert phrase in message


def test_filters_are_frozen() -> None:
    f = filters(iso2="DE")
    with pytest.raises(ValidationError):
        f.iso2 = "AT"  # type: ignore[misc]


@pytest.mark.parametrize("code", sorted(STATUS_CODES))
def test_every_documented_status_code_is_accepted(code: int) -> None:
    assert filters(status_code=code).to_query() == [("status_code", str(code))]


@pytest.mark.parametrize("code", sorted(DLR_CODES))
def test_every_documented_dlr_code_is_accepted(code: int) -> None:
    assert filters(dlr_code=code).to_query() == [("dlr_code", str(code))]


# ----------------------------------------------------------------------------- is_empty, canonical, summary


def test_no_filter_and_ordering_alone_are_empty() -> None:
    assert filters().is_empty()
    assert filters(order_by="created_at", order="asc").is_empty()


@pytest.mark.parametrize("field", FILTER_FIELDS)
def test_any_single_filter_makes_the_selection_non_empty(field: str) -> None:
    data = next(d for d, _ in WIRE_CASES if set(d) == {field})
    assert not filters(**data).is_empty()


def test_false_booleans_still_count_as_filters() -> None:
    assert not filters(is_sent=False).is_empty()
    assert not filters(is_unicode=False).is_empty()
    assert not filters(status_code=0).is_empty()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"iso2": ["DE", "AT"]}, {"iso2": ["at", "DE", "AT"]}),
        ({"iso2": "DE"}, {"iso2": ["DE"]}),
        ({"uuid": [U1, U2]}, {"uuid": [U2.upper(), U1]}),
        ({"created_at": T}, {"created_at": "2026-11-24T08:00:00+01:00"}),
        ({"created_at": {"gte": T, "lt": T + 9}}, {"created_at": {"lt": T + 9, "gte": "2026-11-24T07:00:00"}}),
        ({"iso2": "DE", "is_sent": False}, {"is_sent": "0", "iso2": "de"}),
        ({"status_code": [0, 100]}, {"status_code": [100, 0, 100]}),
        ({"iso2": "DE"}, {"iso2": "DE", "order": "asc"}),
    ],
)
def test_the_same_selection_written_differently_has_the_same_canonical_form(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    assert filters(**first).canonical() == filters(**second).canonical()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"iso2": "DE"}, {"iso2": "AT"}),
        ({"iso2": "DE"}, {"iso2": ["DE", "AT"]}),
        ({"created_at": {"gte": T}}, {"created_at": {"gt": T}}),
        ({"created_at": T}, {"delivery_at": T}),
        ({"is_sent": True}, {"is_sent": False}),
        ({}, {"is_sent": False}),
    ],
)
def test_different_selections_have_different_canonical_forms(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert filters(**first).canonical() != filters(**second).canonical()


def test_canonical_form_is_the_sorted_query() -> None:
    f = filters(iso2=["DE", "AT"], callback_data="x", is_sent=False)
    assert f.canonical() == '[["callback_data","x"],["is_sent","0"],["iso2[]","AT"],["iso2[]","DE"]]'


def test_summary_names_each_filter_once_with_its_values_and_range_operators() -> None:
    f = filters(
        iso2=["DE", "AT"],
        callback_data="spring-sale",
        created_at={"gte": T + 100, "lt": T + 200},
        is_sent=False,
        order_by="created_at",
    )
    with zone_override(UTC):
        summary = f.summary()
    assert summary == (
        'callback_data="spring-sale", iso2=DE|AT, created_at=≥Tue 2026-11-24 07:01 +00:00 <Tue 2026-11-24 07:03 +00:00,'
        " is_sent=0"
    )


def test_summary_of_no_filter_says_so_even_with_ordering() -> None:
    assert filters().summary() == "no filter"
    assert filters(order_by="gateway_sent_at").summary() == "no filter"


# ----------------------------------------------------------------------------- PhoneEntry


def test_phone_entry_accepts_every_lox24_field_at_its_limit() -> None:
    entry = PhoneEntry.model_validate(
        {"phone": "+4915112345678", "a": "x" * 1530, "b": "", "c": "c", "d": "d", "e": "e", "callback_data": "t" * 36}
    )
    assert entry.wire("+4915112345678") == {
        "phone": "+4915112345678",
        "a": "x" * 1530,
        "b": "",
        "c": "c",
        "d": "d",
        "e": "e",
        "callback_data": "t" * 36,
    }


def test_phone_entry_wire_form_uses_the_normalised_number_and_omits_unset_fields() -> None:
    entry = PhoneEntry(phone="0151 1234 5678", b="Smith")
    assert entry.wire("+4915112345678") == {"phone": "+4915112345678", "b": "Smith"}


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"phone": "+4915112345678", "a": "x" * 1531}, ("a",)),
        ({"phone": "+4915112345678", "e": "x" * 1531}, ("e",)),
        ({"phone": "+4915112345678", "callback_data": "t" * 37}, ("callback_data",)),
        ({"phone": ""}, ("phone",)),
        ({"phone": "1" * 41}, ("phone",)),
        ({"a": "no phone"}, ("phone",)),
        ({"phone": "+4915112345678", "f": "x"}, ("f",)),
        ({"phone": "+4915112345678", "name": "x"}, ("name",)),
        ({"phone": "+4915112345678", "id": "1"}, ("id",)),
    ],
)
def test_phone_entry_rejects_values_over_limits_and_keys_lox24_does_not_know(
    data: dict[str, Any], loc: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as info:
        PhoneEntry.model_validate(data)
    assert [err["loc"] for err in info.value.errors()] == [loc]


def test_phone_entry_has_exactly_lox24_phone_write_fields() -> None:
    assert set(PhoneEntry.model_fields) == {"phone", "a", "b", "c", "d", "e", "callback_data"}
