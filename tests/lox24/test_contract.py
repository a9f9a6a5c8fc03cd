"""The client's wire contract checked against LOX24's own OpenAPI spec (the vendored 2.22 copy in shared/reference).

Every query key the client can emit must be a parameter of the operation it is sent to; every phone field
must be in the spec's phone-write schema; every response key the client reads must exist in the spec.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx2
import pytest
from pydantic import SecretStr

from lox24_mcp.lox24.client import NO_RETRY, Lox24Client
from lox24_mcp.lox24.models import (
    DLR_CODES,
    FILTER_FIELDS,
    RANGE_FIELDS,
    STATUS_CODES,
    BatchItemResult,
    Group,
    PhoneEntry,
    Sms,
    SmsFilters,
)
from tests.helpers import ROOT

SPEC_PATH = ROOT.parent / "shared/reference/lox24-openapi.json"
if not SPEC_PATH.exists():
    pytest.skip(f"LOX24 OpenAPI spec not found at {SPEC_PATH}; contract tests need it", allow_module_level=True)

SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
RANGE_OPS = ("gt", "gte", "lt", "lte", "between")
U1 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
U2 = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
T = 1_795_503_600

SEARCH = ("/sms", "get")
CANCEL = ("/sms/ops/batch_cancel", "post")


def resolve(node: Any) -> Any:
    """Follow `$ref`s (`#/a/b/c`) until a concrete node."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert isinstance(ref, str) and ref.startswith("#/"), ref
        assert ref not in seen, f"$ref cycle at {ref}"
        seen.add(ref)
        node = SPEC
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def query_parameters(path: str, method: str) -> dict[str, dict[str, Any]]:
    """The operation's query parameters by name, with `$ref`s resolved."""
    params = [resolve(p) for p in SPEC["paths"][path][method].get("parameters", [])]
    return {p["name"]: p for p in params if p.get("in") == "query"}


def properties(schema: Any) -> dict[str, Any]:
    schema = resolve(schema)
    props = schema.get("properties", {})
    assert isinstance(props, dict)
    return props


# ----------------------------------------------------------------------------- every filter in every form


def sample_values(field: str) -> list[Any]:
    """Two distinct valid values for `field`."""
    samples: dict[str, list[Any]] = {
        "uuid": [U1, U2],
        "bulk": [U1, U2],
        "callback_data": ["a", "b"],
        "iso2": ["DE", "AT"],
        "status_code": sorted(STATUS_CODES)[:2],
        "dlr_code": sorted(DLR_CODES)[:2],
        "delivery_at": [T, T + 1],
        "created_at": [T, T + 1],
        "gateway_sent_at": [T, T + 1],
        "chars_count": [70, 160],
        "parts_count": [1, 2],
        "source": [5, 6],
        "key_id": [1, 2],
    }
    return samples.get(field, [])


def every_filter_form() -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, data) for every filter field in every value form it accepts, and every ordering."""
    for field in FILTER_FIELDS:
        values = sample_values(field)
        if field in ("is_sent", "is_unicode"):
            yield f"{field}=true", {field: True}
            yield f"{field}=false", {field: False}
        elif field in ("phone", "text", "sender_id", "ip"):
            yield (
                f"{field}-partial",
                {field: {"phone": "+49151", "text": "sale", "sender_id": "ACME", "ip": "10.0."}[field]},
            )
        else:
            assert values, f"no sample values for {field}; extend sample_values()"
            yield f"{field}-one", {field: values[0]}
            yield f"{field}-list", {field: values}
        if field in RANGE_FIELDS:
            low, high = sample_values(field)
            for op, bound in (("gt", low), ("gte", low), ("lt", high), ("lte", high)):
                yield f"{field}-{op}", {field: {op: bound}}
            yield f"{field}-gte-lte", {field: {"gte": low, "lte": high}}
    for order_by in ("created_at", "gateway_sent_at"):
        for order in ("asc", "desc"):
            yield f"order-{order_by}-{order}", {"iso2": "DE", "order_by": order_by, "order": order}


FORMS = list(every_filter_form())


def spec_name(key: str) -> str:
    """Which spec parameter a wire key belongs to: `x[op]` → `x[]`; `x[]`, `x`, `_order[f]` → themselves."""
    if key.startswith("_order["):
        return key
    base, bracket, rest = key.partition("[")
    if bracket and rest != "]":
        op = rest.rstrip("]")
        assert op in RANGE_OPS, f"unknown range operator in {key}"
        return f"{base}[]"
    return key


async def sent_queries(
    data: dict[str, Any], operation: Literal["search", "cancel"]
) -> tuple[str, str, list[tuple[str, str]]]:
    """Method, path and query pairs the client really puts on the wire for these filters."""
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.path == "/sms":
            return httpx2.Response(200, json={"hydra:member": [], "hydra:totalItems": 0})
        return httpx2.Response(200, json={"deleted_sms_count": 0})

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = Lox24Client(SecretStr("1:k"), base_url="http://lox24.test", http_client=http, retry=NO_RETRY)
        if operation == "search":
            await client.search_sms(SmsFilters.model_validate(data), page=2)
        else:
            await client.cancel_sms(SmsFilters.model_validate(data))
    assert len(seen) == 1
    request = seen[0]
    return request.method, request.url.path, parse_qsl(request.url.query.decode(), keep_blank_values=True)


@pytest.mark.anyio
@pytest.mark.parametrize("operation", ["search", "cancel"])
@pytest.mark.parametrize("data", [d for _, d in FORMS], ids=[i for i, _ in FORMS])
async def test_every_query_key_the_client_sends_is_a_parameter_of_that_operation_in_the_spec(
    data: dict[str, Any], operation: Literal["search", "cancel"]
) -> None:
    method, path, pairs = await sent_queries(data, operation)
    assert (path, method.lower()) == (SEARCH if operation == "search" else CANCEL)
    declared = query_parameters(path, method.lower())
    assert pairs, "the filter produced no query"
    for key, _value in pairs:
        if key == "page":
            assert operation == "search", "page was sent to batch_cancel, which has no page parameter"
        name = spec_name(key)
        assert name in declared, f"{key} (spec name {name}) is not a parameter of {method} {path}"
        if name != key and not key.startswith("_order["):
            assert "range" in declared[name].get("description", "").lower(), f"{name} does not take ranges"


def test_the_generated_forms_cover_every_field_every_range_operator_and_every_ordering() -> None:
    keys = {key for _, data in FORMS for key in SmsFilters.model_validate(data).to_query()}
    names = {k for k, _ in keys}
    for field in FILTER_FIELDS:
        assert field in names
    for field in RANGE_FIELDS:
        assert {f"{field}[{op}]" for op in ("gt", "gte", "lt", "lte")} <= names
        assert f"{field}[]" in names
    assert {"_order[created_at]", "_order[gateway_sent_at]"} <= names


@pytest.mark.parametrize("operation", [SEARCH, CANCEL], ids=["GET /sms", "POST batch_cancel"])
def test_spec_takes_scalar_and_list_forms_of_every_filter_field(operation: tuple[str, str]) -> None:
    declared = query_parameters(*operation)
    for field in FILTER_FIELDS:
        assert field in declared, field
        if field not in ("phone", "text", "sender_id", "ip", "is_sent", "is_unicode"):
            assert f"{field}[]" in declared, field
    for field in RANGE_FIELDS:
        assert "range" in declared[f"{field}[]"]["description"].lower(), field


def test_page_is_a_parameter_of_get_sms_only() -> None:
    assert "page" in query_parameters(*SEARCH)
    assert "page" not in query_parameters(*CANCEL)


def test_get_groups_takes_page() -> None:
    assert "page" in query_parameters("/groups", "get")


# ----------------------------------------------------------------------------- phones batch


def phone_write_schema() -> dict[str, Any]:
    body = SPEC["paths"]["/groups/{id}/phones/batch"]["post"]["requestBody"]
    batch = resolve(resolve(body)["content"]["application/json"]["schema"])
    assert batch["type"] == "array"
    schema = resolve(batch["items"])
    assert isinstance(schema, dict)
    return schema


def test_every_phone_entry_field_is_a_property_of_the_spec_phone_write_schema() -> None:
    schema = phone_write_schema()
    assert set(PhoneEntry.model_fields) <= set(properties(schema))
    assert set(schema.get("required", [])) <= {n for n, f in PhoneEntry.model_fields.items() if f.is_required()}


@pytest.mark.parametrize("field", ["a", "b", "c", "d", "e", "callback_data"])
def test_phone_entry_limits_match_the_spec(field: str) -> None:
    limit = resolve(properties(phone_write_schema())[field])["maxLength"]
    PhoneEntry.model_validate({"phone": "+4915112345678", field: "x" * limit})
    with pytest.raises(ValueError, match="at most"):
        PhoneEntry.model_validate({"phone": "+4915112345678", field: "x" * (limit + 1)})


def test_phones_batch_item_has_the_status_and_body_the_client_reads() -> None:
    created = SPEC["paths"]["/groups/{id}/phones/batch"]["post"]["responses"]["201"]
    read = resolve(resolve(created)["content"]["application/json"]["schema"])
    assert read["type"] == "array"
    item = properties(read["items"])
    assert {"status", "body"} <= set(item)
    assert resolve(item["status"])["type"] == "integer"
    body_forms = [resolve(form) for form in resolve(item["body"])["oneOf"]]
    assert any("id" in f.get("properties", {}) for f in body_forms)  # the created phone: BatchItemResult.phone_id
    assert any("detail" in f.get("properties", {}) for f in body_forms)  # the error: BatchItemResult.detail
    assert {"status", "phone_id", "detail"} == {f.name for f in dataclasses.fields(BatchItemResult)}


def test_phones_batch_json_ld_form_has_the_keys_the_client_reads() -> None:
    created = SPEC["paths"]["/groups/{id}/phones/batch"]["post"]["responses"]["201"]
    ld = properties(resolve(created)["content"]["application/ld+json"]["schema"])
    assert {"hydra:member", "hydra:totalItems"} <= set(ld)
    error = resolve(SPEC["components"]["schemas"]["schema.response.jsonld-bad-request"])
    assert "hydra:description" in error["properties"]


# ----------------------------------------------------------------------------- responses the client reads


def test_batch_cancel_answers_200_with_deleted_sms_count() -> None:
    responses = SPEC["paths"]["/sms/ops/batch_cancel"]["post"]["responses"]
    ok = resolve(responses["200"])
    count = properties(ok["content"]["application/json"]["schema"])["deleted_sms_count"]
    assert resolve(count)["type"] == "integer"


@pytest.mark.parametrize(
    ("path", "model"),
    [("/sms", Sms), ("/groups", Group)],
)
def test_collection_json_ld_has_member_and_total_and_every_field_the_client_models(
    path: str, model: type[Sms] | type[Group]
) -> None:
    ok = resolve(SPEC["paths"][path]["get"]["responses"]["200"])
    ld = properties(ok["content"]["application/ld+json"]["schema"])
    assert {"hydra:member", "hydra:totalItems"} <= set(ld)
    member = properties(ld["hydra:member"]["items"])
    assert set(model.model_fields) <= set(member)
    plain = resolve(ok["content"]["application/json"]["schema"])
    assert plain["type"] == "array"
    assert set(model.model_fields) <= set(properties(plain["items"]))
