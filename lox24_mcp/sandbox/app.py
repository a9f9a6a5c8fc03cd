"""The sandbox's HTTP API: LOX24's routes, content negotiation, errors, auth and injected faults."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio
import anyio.lowlevel
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lox24_mcp.sandbox.filters import QueryError, parse_page_only, parse_sms_query
from lox24_mcp.sandbox.state import RecordedRequest, SandboxState, retry_after_header
from lox24_mcp.sandbox.store import page_count
from lox24_mcp.sandbox.validation import (
    BodyTypeError,
    Violation,
    ViolationsError,
    phone_item_errors,
    validate_group_write,
    validate_sms_write,
)

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-LOX24-REQUEST-ID"
AUTH_HEADER = "x-lox24-auth-token"
CLIENT_ID_HEADER = "x-lox24-client-id"
JSON = "application/json"
JSON_LD = "application/ld+json"
ERROR_TYPE = "https://tools.ietf.org/html/rfc2616#section-10"
ERROR_TITLE = "An error occurred"
DUPLICATE_DETAIL = "phone: This phone number already exists in the group."


class ApiError(Exception):
    """An error answer for the whole request."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        violations: list[Violation] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.violations = violations
        self.headers = headers


# ---------------------------------------------------------------------- representation


def wants_json_ld(accept: str | None) -> bool:
    """Whether the client asked for JSON-LD: `application/ld+json` listed before `application/json`."""
    for media_range in (accept or "").split(","):
        media = media_range.split(";", 1)[0].strip().lower()
        if media == JSON_LD:
            return True
        if media == JSON:
            return False
    return False


def _ld_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers, media_type=JSON_LD)


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers, media_type=JSON)


def error_body(detail: str, *, ld: bool, hydra_prefix: bool, violations: list[Violation] | None = None) -> Any:
    """LOX24's error object: `type/title/detail` (JSON) or `hydra:title/hydra:description` (JSON-LD)."""
    body: dict[str, Any]
    if not ld:
        body = {"type": ERROR_TYPE, "title": ERROR_TITLE, "detail": detail}
    elif hydra_prefix:
        body = {"@context": "/contexts/Error", "@type": "hydra:Error", "hydra:title": ERROR_TITLE}
        body["hydra:description"] = detail
    else:
        body = {"@context": "/contexts/Error", "@type": "Error", "title": ERROR_TITLE, "description": detail}
    if violations:
        body["violations"] = [v.as_json() for v in violations]
    return body


def error_response(
    state: SandboxState,
    status: int,
    detail: str,
    *,
    ld: bool,
    violations: list[Violation] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A whole-request error answer in the negotiated format."""
    body = error_body(detail, ld=ld, hydra_prefix=state.hydra_prefix, violations=violations)
    return (_ld_response if ld else _json_response)(body, status, headers)


def _key(state: SandboxState, name: str) -> str:
    return f"hydra:{name}" if state.hydra_prefix else name


def _collection(
    state: SandboxState,
    *,
    context: str,
    collection_id: str,
    members: list[dict[str, Any]],
    total: int,
    page: int,
    raw_query: str,
) -> dict[str, Any]:
    last = page_count(total, state.page_size)
    kept = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True) if k != "page"]

    def page_iri(number: int) -> str:
        return f"{collection_id}?{urlencode([*kept, ('page', str(number))])}"

    view: dict[str, Any] = {
        "@id": page_iri(page),
        "@type": _key(state, "PartialCollectionView"),
        _key(state, "first"): page_iri(1),
        _key(state, "last"): page_iri(last),
    }
    if page > 1:
        view[_key(state, "previous")] = page_iri(page - 1)
    if page < last:
        view[_key(state, "next")] = page_iri(page + 1)
    collection = {
        "@context": context,
        "@id": collection_id,
        "@type": _key(state, "Collection"),
        _key(state, "member"): members,
        _key(state, "totalItems"): total,
        _key(state, "view"): view,
    }
    if state.omit_totals:
        del collection[_key(state, "totalItems")]
    return collection


def _sms_ld(sms: dict[str, Any], *, context: bool) -> dict[str, Any]:
    head = {"@context": "/contexts/sms"} if context else {}
    return {**head, "@id": f"/sms/{sms['uuid']}", "@type": "sms", **sms}


def _group_ld(group: dict[str, Any], *, context: bool) -> dict[str, Any]:
    head = {"@context": "/contexts/groups"} if context else {}
    return {**head, "@id": f"/groups/{group['id']}", "@type": "groups", **group}


def _phone_ld(phone: dict[str, Any], *, context: bool) -> dict[str, Any]:
    head = {"@context": "/contexts/phones"} if context else {}
    return {**head, "@id": f"/phones/{phone['id']}", "@type": "phones", **phone}


# ---------------------------------------------------------------------- endpoints


class _Api:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @staticmethod
    def _ld(request: Request) -> bool:
        return wants_json_ld(request.headers.get("accept"))

    @staticmethod
    def _raw_query(request: Request) -> str:
        raw: bytes = request.scope["query_string"]
        return raw.decode("latin-1")

    @staticmethod
    async def _json_body(request: Request) -> Any:
        raw = await request.body()
        if not raw.strip():
            raise ApiError(400, "The request body is empty; a JSON document is expected.")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"Syntax error: the request body is not valid JSON ({exc}).") from exc

    @staticmethod
    def _no_query(request: Request) -> None:
        for key, _ in parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True):
            raise ApiError(400, f"{key}: unknown query parameter; this operation takes none")

    def _group_id(self, request: Request) -> int:
        group_id: int = request.path_params["id"]
        if not self.state.store.group_exists(group_id):
            raise ApiError(404, f"Group {group_id} not found.")
        return group_id

    def _page(self, request: Request) -> int:
        try:
            return parse_page_only(self._raw_query(request))
        except QueryError as exc:
            raise ApiError(400, exc.detail) from exc

    # -------------------------------------------------------------- /sms

    async def list_sms(self, request: Request) -> Response:
        raw = self._raw_query(request)
        try:
            query = parse_sms_query(raw, allow_page=True)
        except QueryError as exc:
            raise ApiError(400, exc.detail) from exc
        size = self.state.page_size
        items, total = self.state.store.search_sms(
            query.where, query.params, query.order_by, limit=size, offset=(query.page - 1) * size
        )
        if not self._ld(request):
            return _json_response(items)
        members = [_sms_ld(s, context=False) for s in items]
        return _ld_response(
            _collection(
                self.state,
                context="/contexts/sms",
                collection_id="/sms",
                members=members,
                total=total,
                page=query.page,
                raw_query=raw,
            )
        )

    async def create_sms(self, request: Request) -> Response:
        self._no_query(request)
        try:
            body = validate_sms_write(await self._json_body(request))
        except BodyTypeError as exc:
            raise ApiError(400, str(exc)) from exc
        except ViolationsError as exc:
            raise ApiError(422, str(exc), violations=exc.violations) from exc
        client = request.client
        delivery_at = body.get("delivery_at") or 0
        sms = self.state.add_sms(
            phone=body["phone"],
            text=body["text"],
            sender_id=body["sender_id"],
            delivery_at=delivery_at,
            callback_data=body.get("callback_data"),
            source=body.get("source"),
            is_unicode=body.get("is_unicode"),
            is_text_deleted=bool(body.get("is_text_deleted")),
            ip=client.host if client else "127.0.0.1",
            # Sending is immediate in the sandbox: pending only if scheduled for later.
            is_sent=delivery_at <= self.state.now(),
        )
        if self._ld(request):
            return _ld_response(_sms_ld(sms, context=True), 201)
        return _json_response(sms, 201)

    async def get_sms(self, request: Request) -> Response:
        self._no_query(request)
        sms = self.state.store.get_sms(request.path_params["uuid"])
        if sms is None:
            raise ApiError(404, "Not Found")
        return _ld_response(_sms_ld(sms, context=True)) if self._ld(request) else _json_response(sms)

    async def batch_cancel(self, request: Request) -> Response:
        try:
            query = parse_sms_query(self._raw_query(request), allow_page=False)
        except QueryError as exc:
            raise ApiError(400, exc.detail) from exc
        if (await request.body()).strip():
            raise ApiError(400, "batch_cancel takes its filters in the query string; the body must be empty.")
        if query.unfiltered:
            # LOX24 documents no guard; under API Platform semantics no filter means every pending SMS.
            logger.warning("sandbox: batch_cancel without filters cancels every pending SMS")
        count = self.state.store.cancel_sms(query.where, query.params)
        return _json_response({"deleted_sms_count": count})

    # -------------------------------------------------------------- /groups

    async def list_groups(self, request: Request) -> Response:
        page = self._page(request)
        size = self.state.page_size
        groups, total = self.state.store.list_groups(limit=size, offset=(page - 1) * size)
        if not self._ld(request):
            return _json_response(groups)
        return _ld_response(
            _collection(
                self.state,
                context="/contexts/groups",
                collection_id="/groups",
                members=[_group_ld(g, context=False) for g in groups],
                total=total,
                page=page,
                raw_query=self._raw_query(request),
            )
        )

    async def create_group(self, request: Request) -> Response:
        self._no_query(request)
        try:
            body = validate_group_write(await self._json_body(request))
        except BodyTypeError as exc:
            raise ApiError(400, str(exc)) from exc
        except ViolationsError as exc:
            raise ApiError(422, str(exc), violations=exc.violations) from exc
        group_id = self.state.store.add_group(body)
        group = self.state.store.get_group(group_id)
        assert group is not None
        if self._ld(request):
            return _ld_response(_group_ld(group, context=True), 201)
        return _json_response(group, 201)

    async def get_group(self, request: Request) -> Response:
        self._no_query(request)
        group = self.state.store.get_group(self._group_id(request))
        assert group is not None
        return _ld_response(_group_ld(group, context=True)) if self._ld(request) else _json_response(group)

    async def list_phones(self, request: Request) -> Response:
        group_id = self._group_id(request)
        page = self._page(request)
        size = self.state.page_size
        phones, total = self.state.store.list_phones(group_id, limit=size, offset=(page - 1) * size)
        if not self._ld(request):
            return _json_response(phones)
        return _ld_response(
            _collection(
                self.state,
                context="/contexts/phones",
                collection_id=f"/groups/{group_id}/phones",
                members=[_phone_ld(p, context=False) for p in phones],
                total=total,
                page=page,
                raw_query=self._raw_query(request),
            )
        )

    async def export_csv(self, request: Request) -> Response:
        """`GET /groups/{id}/file/csv`: the whole group in one CSV, as LOX24's spec shows it.

        Columns: `id`, `phone`, the five contact columns under the group's `name_a`…`name_e` (`col_A`…`col_E`
        where a name is unset, as in the spec's example), `callback_data`. One row per stored phone, in id
        order; an empty group is the header alone.
        """
        self._no_query(request)
        group_id = self._group_id(request)
        group = self.state.store.get_group(group_id)
        assert group is not None
        phones, _ = self.state.store.list_phones(group_id)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.state.export_delimiter, lineterminator="\r\n")
        captions = [group[f"name_{c}"] or f"col_{c.upper()}" for c in "abcde"]
        writer.writerow(["id", "phone", *captions, "callback_data"])
        writer.writerows(
            [p["id"], p["phone"], *(p[c] or "" for c in "abcde"), p["callback_data"] or ""] for p in phones
        )
        body = ("\ufeff" if self.state.export_bom else "") + out.getvalue()
        return Response(
            body.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="group-{group_id}.csv"'},
        )

    async def phones_batch(self, request: Request) -> Response:
        self._no_query(request)
        group_id = self._group_id(request)
        items = await self._json_body(request)
        if not isinstance(items, list):
            raise ApiError(400, "The request body must be a JSON array of phone objects.")
        if len(items) > self.state.max_batch_items:
            raise ApiError(413, f"Too many items: {len(items)}; at most {self.state.max_batch_items} per batch.")
        ld = self._ld(request)
        results = self._import(group_id, items, ld=ld)
        if not ld:
            return _json_response(results, 201)
        return _ld_response(
            {
                "@context": "/contexts/Batch",
                "@id": f"/groups/{group_id}/phones/batch",
                "@type": _key(self.state, "Collection"),
                _key(self.state, "member"): results,
                _key(self.state, "totalItems"): len(results),
            },
            201,
        )

    def _import(self, group_id: int, items: list[Any], *, ld: bool) -> list[dict[str, Any]]:
        hydra = self.state.hydra_prefix

        def failure(status: int, detail: str) -> dict[str, Any]:
            return {"status": status, "body": error_body(detail, ld=ld, hydra_prefix=hydra)}

        results: list[dict[str, Any] | None] = [None] * len(items)
        valid: list[tuple[int, dict[str, Any]]] = []
        for index, item in enumerate(items):
            errors = phone_item_errors(item)
            if errors:
                results[index] = failure(400, "\n".join(errors))
            else:
                valid.append((index, item))
        store_twice = self.state.duplicates == "store"
        existing = set() if store_twice else self.state.store.existing_phones(group_id, (i["phone"] for _, i in valid))
        to_insert: list[tuple[int, dict[str, Any]]] = []
        for index, item in valid:
            # LOX24 leaves open whether a number already in the group (or earlier in this batch) is refused
            # or stored again; `SandboxState.duplicates` picks one.
            if item["phone"] in existing:
                results[index] = failure(422, DUPLICATE_DETAIL)
            else:
                if not store_twice:
                    existing.add(item["phone"])
                to_insert.append((index, item))
        created = self.state.store.insert_phones(group_id, [item for _, item in to_insert], self.state.now())
        for (index, _), phone in zip(to_insert, created, strict=True):
            results[index] = {"status": 201, "body": _phone_ld(phone, context=True) if ld else phone}
        return [r for r in results if r is not None]


# ---------------------------------------------------------------------- cross-cutting middleware


class _Dropped(Exception):
    """Raised when a drop fault cannot reach the connection (not served by uvicorn, e.g. a test client)."""


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _wait_for_disconnect(receive: Receive, seconds: float) -> bool:
    """Wait up to `seconds`; True as soon as the client disconnects."""
    with anyio.move_on_after(seconds):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return True
            await anyio.lowlevel.checkpoint()
    return False


async def _pause(seconds: float, closing: asyncio.Event, receive: Receive | None = None) -> str:
    """Sleep `seconds` for a fault: "elapsed", or "closing" if the server stops first, or "disconnected"
    if `receive` is given and the client goes away first."""
    outcome = "elapsed"
    async with anyio.create_task_group() as group:

        async def on_closing() -> None:
            nonlocal outcome
            await closing.wait()
            outcome = "closing"
            group.cancel_scope.cancel()

        async def on_disconnect(source: Receive) -> None:
            nonlocal outcome
            if await _wait_for_disconnect(source, math.inf):
                outcome = "disconnected"
                group.cancel_scope.cancel()

        group.start_soon(on_closing)
        if receive is not None:
            group.start_soon(on_disconnect, receive)
        await anyio.sleep(seconds)
        group.cancel_scope.cancel()
    return outcome


class SandboxMiddleware:
    """Request ids, recording, faults and LOX24's auth rule, in front of the routes."""

    def __init__(self, app: ASGIApp, state: SandboxState, closing: asyncio.Event) -> None:
        self.app = app
        self.state = state
        #: Routers over the data of the accounts added with `SandboxState.add_account`.
        self._account_apps: dict[int, ASGIApp] = {}
        #: Set when the server stops: requests held by a fault are then dropped instead of being cancelled
        #: mid-sleep (which uvicorn would log as an application error).
        self.closing = closing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        body = await _read_body(receive)
        path: str = scope["path"]
        slot = state.begin_request(
            RecordedRequest(
                method=scope["method"],
                path=path,
                query=scope["query_string"].decode("latin-1"),
                headers=headers,
                body=body,
                status=0,
            )
        )
        request_id = secrets.token_hex(16)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.answer_request(slot, message["status"])
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())],
                }
            await send(message)

        try:
            await self._handle(scope, receive, send_with_id, body, headers)
        finally:
            state.finish_request()

    async def _handle(self, scope: Scope, receive: Receive, send: Send, body: bytes, headers: dict[str, str]) -> None:
        state = self.state
        ld = wants_json_ld(headers.get("accept"))
        plan = state.plan_faults(scope["path"])
        # Latency does not look at the client: the work is still done if it gave up meanwhile, which is the
        # "outcome unknown" case clients must handle. A slow request, below, is skipped instead.
        if plan.latency and await _pause(plan.latency, self.closing) == "closing":
            await self._drop(receive)
            return
        if plan.drop:
            await self._drop(receive)
            return
        if plan.error_status is not None:
            detail = f"Injected sandbox fault: HTTP {plan.error_status}."
            await error_response(state, plan.error_status, detail, ld=ld)(scope, receive, send)
            return
        if plan.slow_seconds:
            outcome = await _pause(plan.slow_seconds, self.closing, receive)
            if outcome == "closing":
                await self._drop(receive)
                return
            if outcome == "disconnected":
                return  # the client gave up while we were slow: like a gateway that never got to the work
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        token = headers.get(AUTH_HEADER)
        if token is not None and CLIENT_ID_HEADER in headers:
            token = f"{headers[CLIENT_ID_HEADER]}:{token}"  # LOX24's legacy two-header form
        verdict, retry_after = state.check_auth(ip, token)
        if verdict == 429:
            detail = "Too many failed authentication attempts from this IP; it is blocked for 10 minutes."
            response = error_response(
                state, 429, detail, ld=ld, headers={"Retry-After": retry_after_header(retry_after)}
            )
            await response(scope, receive, send)
            return
        if verdict == 401:
            detail = "Client ID or API key isn't active or invalid."
            await error_response(state, 401, detail, ld=ld)(scope, receive, send)
            return

        replayed = False

        async def replay() -> Message:
            # The body was read above for the record; hand it to the routes once, then pass through.
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        account = state.account_for(token) if token is not None else None
        app = self.app
        if account is not None and account is not state:
            found = self._account_apps.get(id(account))
            if found is None:
                found = self._account_apps[id(account)] = _router(account)
            app = found
        if plan.after_status is None and not plan.drop_after:
            await app(scope, replay, send)
            return

        async def swallow(message: Message) -> None:
            del message  # the work is done; its answer never reaches the client

        await app(scope, replay, swallow)
        if plan.drop_after:
            await self._drop(receive)
            return
        status = plan.after_status or 502
        detail = f"Injected sandbox fault: HTTP {status} after the request was carried out."
        await error_response(state, status, detail, ld=ld)(scope, receive, send)

    @staticmethod
    async def _drop(receive: Receive) -> None:
        # uvicorn's receive() is a bound method of the request cycle, which holds the connection's transport.
        transport = getattr(getattr(receive, "__self__", None), "transport", None)
        abort: Callable[[], None] | None = getattr(transport, "abort", None)
        if abort is None:
            raise _Dropped("drop fault: no transport to close")
        abort()
        # Returning before uvicorn notices the disconnect would make it log "returned without a response".
        await _wait_for_disconnect(receive, 1.0)


def _router(state: SandboxState, middleware: list[Middleware] | None = None) -> Starlette:
    """The routes over one account's data."""
    api = _Api(state)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(
            state,
            exc.status,
            exc.detail,
            ld=wants_json_ld(request.headers.get("accept")),
            violations=exc.violations,
            headers=exc.headers,
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(
            state,
            exc.status_code,
            exc.detail,
            ld=wants_json_ld(request.headers.get("accept")),
            headers=dict(exc.headers) if exc.headers else None,
        )

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ApiError: on_api_error,
        HTTPException: on_http_error,
    }
    return Starlette(
        routes=[
            Route("/sms", api.list_sms, methods=["GET"]),
            Route("/sms", api.create_sms, methods=["POST"]),
            Route("/sms/ops/batch_cancel", api.batch_cancel, methods=["POST"]),
            Route("/sms/{uuid}", api.get_sms, methods=["GET"]),
            Route("/groups", api.list_groups, methods=["GET"]),
            Route("/groups", api.create_group, methods=["POST"]),
            Route("/groups/{id:int}", api.get_group, methods=["GET"]),
            Route("/groups/{id:int}/phones", api.list_phones, methods=["GET"]),
            Route("/groups/{id:int}/phones/batch", api.phones_batch, methods=["POST"]),
            Route("/groups/{id:int}/file/csv", api.export_csv, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers=handlers,
    )


def create_app(state: SandboxState) -> Starlette:
    """The LOX24-compatible ASGI app over `state`.

    Routes: `GET/POST /sms`, `GET /sms/{uuid}`, `POST /sms/ops/batch_cancel`, `GET/POST /groups`,
    `GET /groups/{id}`, `GET /groups/{id}/phones`, `POST /groups/{id}/phones/batch`,
    `GET /groups/{id}/file/csv`. Drop faults need uvicorn on asyncio (they close its transport); under
    other servers they raise instead. Set `app.state.closing` (an asyncio.Event) on the serving loop when
    stopping, so that requests held by a latency or slow fault are dropped rather than cancelled.
    """
    closing = asyncio.Event()
    app = _router(state, middleware=[Middleware(SandboxMiddleware, state=state, closing=closing)])
    #: The runner sets this (on the server's loop) when it stops; see `SandboxMiddleware.closing`.
    app.state.closing = closing
    return app
