"""LOX24's error answers become the `Lox24Error` tree: the right class, the status, LOX24's request id, the
detail and a sentence saying what to do (through the client, with mocked answers)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from lox24_mcp.lox24.errors import (
    BadRequestError,
    Lox24APIStatusError,
    NotFoundError,
    PayloadTooLargeError,
    PaymentRequiredError,
    PermissionDeniedError,
    ServerError,
    UnprocessableEntityError,
)
from lox24_mcp.lox24.models import SmsFilters
from tests.helpers import REQUEST_ID, assert_actionable, mocked, sequence, status

pytestmark = pytest.mark.anyio


VIOLATIONS = {
    "type": "https://tools.ietf.org/html/rfc2616#section-10",
    "title": "An error occurred",
    "detail": "",
    "violations": [
        {"propertyPath": "phone", "message": "This value is not a valid phone number.", "code": "x"},
        {"propertyPath": "callback_data", "message": "This value is too long.", "code": "y"},
    ],
}


@pytest.mark.parametrize(
    ("code", "body", "cls", "expected_detail", "in_text"),
    [
        (400, {"detail": "service_code: invalid"}, BadRequestError, "service_code: invalid", "nothing was changed"),
        (402, {"title": "Payment Required", "detail": "Not enough balance"}, PaymentRequiredError, None, "Top up"),
        (403, {"detail": "Account not activated"}, PermissionDeniedError, None, "not be activated"),
        (404, {"detail": "Not Found"}, NotFoundError, None, "list what exists"),
        (409, {"detail": "Conflict"}, Lox24APIStatusError, None, "try again"),
        (413, b"<html>too big</html>", PayloadTooLargeError, None, "fewer items"),
        (422, VIOLATIONS, UnprocessableEntityError, None, "phone: This value is not a valid phone number"),
        (500, b"<html><body>Internal Server Error</body></html>", ServerError, None, "contact LOX24 support"),
        (501, {"detail": "nope"}, ServerError, None, "Try again in a few minutes"),
        (
            400,
            {
                "@context": "/contexts/Error",
                "@type": "hydra:Error",
                "hydra:title": "An error occurred",
                "hydra:description": "uuid: This is not a valid UUID.",
            },
            BadRequestError,
            "uuid: This is not a valid UUID.",
            "uuid: This is not a valid UUID",
        ),
        (403, {"hydra:title": "Forbidden"}, PermissionDeniedError, "Forbidden", "Forbidden"),
        (400, {"title": "An error occurred"}, BadRequestError, None, "HTTP 400"),
        (400, b"", BadRequestError, None, "HTTP 400"),
        (400, ["not", "an", "object"], BadRequestError, None, "HTTP 400"),
    ],
)
async def test_error_status_maps_to_its_exception_with_status_request_id_and_advice(
    code: int, body: Any, cls: type[Lox24APIStatusError], expected_detail: str | None, in_text: str
) -> None:
    handler, seen = sequence(status(code, body))
    async with mocked(handler) as client:
        with pytest.raises(Lox24APIStatusError) as info:
            await client.search_sms(SmsFilters(iso2="DE"))
    exc = info.value
    assert type(exc) is cls
    assert_actionable(exc, code)
    assert exc.request_id == REQUEST_ID
    assert in_text in str(exc)
    assert "searching SMS" in str(exc)
    if expected_detail is not None:
        assert exc.detail == expected_detail
    assert len(seen) == 1  # none of these is retried


async def test_unprocessable_entity_lists_every_violation() -> None:
    handler, _ = sequence(status(422, VIOLATIONS))
    async with mocked(handler) as client:
        with pytest.raises(UnprocessableEntityError) as info:
            await client.add_phones(5, [{"phone": "x"}])
    assert info.value.violations == [
        ("phone", "This value is not a valid phone number."),
        ("callback_data", "This value is too long."),
    ]
    assert "callback_data: This value is too long" in str(info.value)


async def test_error_without_request_id_still_reads_well() -> None:
    handler, _ = sequence(httpx2.Response(404, json={"detail": "Not Found"}))
    async with mocked(handler) as client:
        with pytest.raises(NotFoundError) as info:
            await client.list_groups()
    assert info.value.request_id is None
    assert "HTTP 404" in str(info.value)
    assert "request id" not in str(info.value)
