"""What a cancel may touch: `pending_selection` narrows any filters to unsent, new SMS created before the preview."""

from __future__ import annotations

from typing import Any

import pytest

from lox24_mcp.lox24.models import (
    SmsFilters,
)
from lox24_mcp.ops.cancel import pending_selection

P = 1_800_000_000  # a preview time


def filters(**data: Any) -> SmsFilters:
    """Validate like the MCP layer does: from plain JSON-ish data (dict ranges, ISO strings)."""
    return SmsFilters.model_validate(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, [("status_code", "0"), ("created_at[lt]", str(P)), ("is_sent", "0")]),
        (
            {"iso2": "DE", "callback_data": "x"},
            [
                ("callback_data", "x"),
                ("iso2", "DE"),
                ("status_code", "0"),
                ("created_at[lt]", str(P)),
                ("is_sent", "0"),
            ],
        ),
        (
            {"status_code": [0, 100]},
            [("status_code[]", "0"), ("status_code[]", "100"), ("created_at[lt]", str(P)), ("is_sent", "0")],
        ),
        ({"status_code": 6000}, [("status_code", "6000"), ("created_at[lt]", str(P)), ("is_sent", "0")]),
        (
            {"created_at": {"gte": P - 100}},
            [("status_code", "0"), ("created_at[gte]", str(P - 100)), ("created_at[lt]", str(P)), ("is_sent", "0")],
        ),
        (
            {"created_at": {"gt": P - 2}},
            [("status_code", "0"), ("created_at[gt]", str(P - 2)), ("created_at[lt]", str(P)), ("is_sent", "0")],
        ),
        ({"created_at": {"lt": P + 5}}, [("status_code", "0"), ("created_at[lt]", str(P)), ("is_sent", "0")]),
        ({"created_at": {"lt": P - 5}}, [("status_code", "0"), ("created_at[lt]", str(P - 5)), ("is_sent", "0")]),
        ({"created_at": {"lte": P}}, [("status_code", "0"), ("created_at[lte]", str(P - 1)), ("is_sent", "0")]),
        ({"created_at": {"lte": P - 9}}, [("status_code", "0"), ("created_at[lte]", str(P - 9)), ("is_sent", "0")]),
        (
            {"created_at": {"gte": P - 1, "lte": P + 100}},
            [("status_code", "0"), ("created_at[gte]", str(P - 1)), ("created_at[lte]", str(P - 1)), ("is_sent", "0")],
        ),
        ({"created_at": P - 1}, [("status_code", "0"), ("created_at", str(P - 1)), ("is_sent", "0")]),
        (
            {"created_at": [P - 10, P, P + 1]},
            [("status_code", "0"), ("created_at", str(P - 10)), ("is_sent", "0")],
        ),
        (
            {"created_at": [P - 10, P - 5, P]},
            [("status_code", "0"), ("created_at[]", str(P - 10)), ("created_at[]", str(P - 5)), ("is_sent", "0")],
        ),
        ({"is_sent": True}, [("status_code", "0"), ("created_at[lt]", str(P)), ("is_sent", "0")]),
        (
            {"iso2": "DE", "order_by": "created_at"},
            [
                ("iso2", "DE"),
                ("status_code", "0"),
                ("created_at[lt]", str(P)),
                ("is_sent", "0"),
                ("_order[created_at]", "desc"),
            ],
        ),
    ],
)
def test_pending_selection_adds_unsent_new_and_bounds_created_at_before_the_preview(
    data: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    pending = pending_selection(filters(**data), P)
    assert pending is not None
    assert pending.to_query() == expected
    # What it builds is itself a valid selection.
    assert SmsFilters.model_validate(pending.model_dump()).to_query() == expected


@pytest.mark.parametrize(
    "data",
    [
        {"created_at": P},
        {"created_at": P + 1},
        {"created_at": [P, P + 1]},
        {"created_at": {"gte": P}},
        {"created_at": {"gt": P - 1}},
        {"created_at": {"gte": P + 50, "lte": P + 100}},
        {"created_at": {"gt": P + 5, "lt": P + 100}},
    ],
)
def test_pending_selection_is_none_when_nothing_can_be_before_the_preview(data: dict[str, Any]) -> None:
    assert pending_selection(filters(**data), P) is None


def test_pending_selection_does_not_change_the_callers_filters() -> None:
    original = filters(iso2="DE", created_at={"gte": P - 100})
    before = original.to_query()
    pending_selection(original, P)
    assert original.to_query() == before
