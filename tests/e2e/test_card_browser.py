"""The confirmation card in a real browser: headless Chromium, the official AppBridge host, the real server.

The host is split like a real one: this test talks to the MCP server with the official Python client
(declaring the UI extension), and a page built on ext-apps' `AppBridge` (ui/test-host) renders the card
from `resources/read` in a sandboxed iframe, behind a sandbox proxy on another origin that serves it
under the spec's CSP. The card's `tools/call` goes back through the bridge to this test, which forwards
it to the server with the same client. The sandbox LOX24 API says what was really cancelled.

Needs Debian's `chromium`, the `playwright` driver (it never downloads a browser here: it is pointed
at /usr/bin/chromium) and `npm ci` in ui/. Skipped without them, unless LOX24_REQUIRE_BROWSER=1 (CI)
turns the skip into a failure. UPDATE_SCREENSHOTS=1 writes docs/confirm-card-{light,dark}.png.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from mcp import Client
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import CallToolResult
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.mcp.app import create_server
from lox24_mcp.mcp.card import CARD_URI, CONFIRM_TOOL, META_KEY
from lox24_mcp.ops.card import mint_card_secret
from lox24_mcp.ops.confirm import TokenSigner
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "ui"
CHROMIUM = Path(os.environ.get("LOX24_CHROMIUM", "/usr/bin/chromium"))
SECRET = "browser-test-secret-0123456789abcdef"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
_launches = itertools.count()


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; no browser download is needed)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if shutil.which("node") is None or not (UI / "node_modules" / "@modelcontextprotocol" / "ext-apps").exists():
        return "ui/node_modules is missing (cd ui && npm ci)"
    return None


_why = _missing()
if _why is not None:
    if os.environ.get("LOX24_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"LOX24_REQUIRE_BROWSER=1 but {_why}")
    pytest.skip(_why, allow_module_level=True)

from playwright.async_api import ConsoleMessage, FrameLocator, Page, async_playwright  # noqa: E402

pytestmark = pytest.mark.anyio

# ----------------------------------------------------------------------------- the host's two origins


def csp_for(declared: dict[str, list[str]]) -> str:
    """The sandbox's Content-Security-Policy from a resource's `_meta.ui.csp`, as the 2026-01-26 spec says."""
    resources = " ".join(declared.get("resourceDomains", []))
    connect = " ".join(declared.get("connectDomains", [])) or "'none'"
    frames = " ".join(declared.get("frameDomains", [])) or "'none'"
    base = " ".join(declared.get("baseUriDomains", [])) or "'self'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'unsafe-inline' {resources}".strip(),
            f"style-src 'self' 'unsafe-inline' {resources}".strip(),
            f"img-src 'self' data: {resources}".strip(),
            f"font-src 'self' {resources}".strip(),
            f"media-src 'self' data: {resources}".strip(),
            f"connect-src {connect}",
            f"frame-src {frames}",
            "object-src 'none'",
            f"base-uri {base}",
        ]
    )


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        del format, args


class _SandboxHandler(_Quiet):
    """Serves sandbox.html with the CSP derived from `?csp=` (an HTTP header, which the page cannot loosen)."""

    def end_headers(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        declared = json.loads(query.get("csp", ["{}"])[0])
        self.send_header("Content-Security-Policy", csp_for(declared))
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@dataclass
class Origins:
    host: str
    sandbox: str


@pytest.fixture(scope="module")
def origins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origins]:
    """The test host page on one loopback origin and the sandbox proxy on another."""
    site = tmp_path_factory.mktemp("host")
    subprocess.run(["node", str(UI / "build.mjs"), "--test-host", str(site)], check=True, timeout=120)  # noqa: S603, S607
    shutil.copy(UI / "test-host" / "host.html", site / "host.html")
    sandbox_dir = tmp_path_factory.mktemp("sandbox")
    shutil.copy(UI / "test-host" / "sandbox.html", sandbox_dir / "sandbox.html")
    servers = [
        ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site))),
        ThreadingHTTPServer(("127.0.0.1", 0), partial(_SandboxHandler, directory=str(sandbox_dir))),
    ]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield Origins(
            host=f"http://127.0.0.1:{servers[0].server_address[1]}/host.html",
            sandbox=f"http://127.0.0.1:{servers[1].server_address[1]}/sandbox.html",
        )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


# ----------------------------------------------------------------------------- one rendering of the card


@dataclass
class Rendered:
    page: Page
    frame: FrameLocator
    result: CallToolResult
    forwarded: list[dict[str, Any]]
    console: list[str]


def _dump(result: CallToolResult) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


@asynccontextmanager
async def card_in_browser(
    origins: Origins,
    sandbox: SandboxServer,
    tmp_path: Path,
    *,
    arguments: dict[str, Any],
    theme: str = "light",
    replace_secret: str | None = None,
) -> AsyncIterator[Rendered]:
    """Call cancel_pending_sms as a UI-capable client and render its result in the card."""
    settings = Settings(
        api_token=SecretStr(DEMO_TOKEN),
        base_url=sandbox.url,
        secret=SecretStr(SECRET),
        audit_log=tmp_path / "audit.jsonl",
    )
    server = create_server(settings, sandbox=True)
    ui = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    async with Client(server, extensions=[ui]) as client, async_playwright() as pw:
        result = await client.call_tool("cancel_pending_sms", arguments)
        resource = (await client.read_resource(CARD_URI)).contents[0]
        assert resource.mime_type == APP_MIME_TYPE
        declared_csp = ((resource.meta or {}).get("ui") or {}).get("csp") or {}
        delivered = _dump(result)
        if replace_secret is not None:
            delivered["_meta"][META_KEY]["secret"] = replace_secret

        forwarded: list[dict[str, Any]] = []

        async def forward(params: dict[str, Any]) -> dict[str, Any]:
            forwarded.append(params)
            answer = await client.call_tool(params["name"], params.get("arguments") or {})
            return _dump(answer)

        profile = tmp_path / f"profile-{next(_launches)}"  # a fresh, empty profile for every launch
        browser = await pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            timeout=TIMEOUT_MS,
            viewport={"width": 720, "height": 640},
            color_scheme="dark" if theme == "dark" else "light",
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            console: list[str] = []

            def on_console(message: ConsoleMessage) -> None:
                console.append(f"{message.type}: {message.text}")

            page.on("console", on_console)
            await page.expose_function("lox24ForwardToolCall", forward)
            await page.goto(origins.host)
            await page.evaluate(
                "options => window.lox24Host.show(options)",
                {
                    "html": resource.text,  # type: ignore[union-attr]
                    "csp": declared_csp,
                    "sandboxUrl": origins.sandbox,
                    "theme": theme,
                    "toolInput": arguments,
                    "toolResult": delivered,
                },
            )
            # host page → sandbox proxy (another origin) → the card; frame locators wait for each.
            frame = page.frame_locator("#stage iframe").frame_locator("iframe")
            await frame.locator("#title").filter(has_not_text="Waiting").wait_for()
            yield Rendered(page=page, frame=frame, result=result, forwarded=forwarded, console=console)
        finally:
            await browser.close()


def statuses(sandbox: SandboxServer) -> dict[str, int]:
    return {sms["uuid"]: sms["status_code"] for sms in sandbox.state.all_sms()}


def spring_sale_pending(sandbox: SandboxServer) -> set[str]:
    return {
        sms["uuid"]
        for sms in sandbox.state.all_sms()
        if sms["callback_data"] == "spring-sale" and sms["status_code"] == 0 and not sms["is_sent"]
    }


def assert_secret_only_in_meta(result: CallToolResult) -> str:
    secret = result.meta[META_KEY]["secret"] if result.meta else None
    assert isinstance(secret, str) and len(secret) > 40
    assert secret not in json.dumps([block.model_dump() for block in result.content])
    assert secret not in json.dumps(result.structured_content)
    assert (result.structured_content or {}).get("confirmation_token") is None
    return secret


def assert_no_csp_violations(console: list[str]) -> None:
    violations = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    assert not violations, violations


def audit_of(tmp_path: Path) -> list[tuple[str, str, int | None]]:
    """(confirmation, outcome, cancelled) of each line of the audit file the server wrote."""
    path = tmp_path / "audit.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [(line["confirmation"], line["outcome"], line["cancelled"]) for line in lines]


def save_screenshot(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    if os.environ.get("UPDATE_SCREENSHOTS"):
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(path, ROOT / "docs" / path.name)


# ----------------------------------------------------------------------------- the tests


async def test_a_click_on_cancel_cancels_exactly_the_previewed_sms(
    origins: Origins, sandbox: SandboxServer, tmp_path: Path
) -> None:
    previewed = spring_sale_pending(sandbox)
    before = statuses(sandbox)
    async with card_in_browser(origins, sandbox, tmp_path, arguments={"callback_data": "spring-sale"}) as card:
        assert_secret_only_in_meta(card.result)
        button = card.frame.get_by_role("button", name=f"Cancel {len(previewed)} SMS")
        await button.wait_for()
        assert await card.frame.get_by_role("button", name="Keep them").is_enabled()
        save_screenshot(tmp_path / "confirm-card-light.png", await card.page.screenshot())
        # Rendering the card cancelled nothing; an SMS scheduled after the preview is not the user's to lose.
        assert statuses(sandbox) == before
        late = sandbox.state.add_sms(
            phone="+4915100009999",
            text="Spring sale, late addition",
            delivery_at=sandbox.state.now() + 86_400,
            callback_data="spring-sale",
            created_at=sandbox.state.now() + 2,
        )

        await button.focus()
        await card.page.keyboard.press("Enter")  # keyboard-operable: a real <button>
        await card.frame.get_by_role("heading", name=f"Cancelled {len(previewed)} SMS").wait_for()
        after = statuses(sandbox)
        assert {uuid for uuid in before if after[uuid] != before[uuid]} == previewed
        assert after[late["uuid"]] == 0
        assert [call["name"] for call in card.forwarded] == [CONFIRM_TOOL]
        assert card.forwarded[0]["arguments"]["decision"] == "cancel"
        context = await card.page.evaluate("window.lox24ModelContext")
        assert f"cancelled {len(previewed)} SMS" in json.dumps(context)
        assert_no_csp_violations(card.console)
    assert audit_of(tmp_path) == [("app_click", "cancelled", len(previewed))]


async def test_keep_them_cancels_nothing(origins: Origins, sandbox: SandboxServer, tmp_path: Path) -> None:
    before = statuses(sandbox)
    async with card_in_browser(
        origins, sandbox, tmp_path, arguments={"callback_data": "spring-sale"}, theme="dark"
    ) as card:
        await card.frame.get_by_role("button", name="Keep them").wait_for()
        assert await card.frame.locator("html").get_attribute("data-theme") == "dark"
        save_screenshot(tmp_path / "confirm-card-dark.png", await card.page.screenshot())
        await card.frame.get_by_role("button", name="Keep them").click()
        await card.frame.get_by_role("heading", name="Kept: nothing was cancelled").wait_for()
        assert statuses(sandbox) == before
        assert card.forwarded[0]["arguments"]["decision"] == "keep"
        assert_no_csp_violations(card.console)
    assert audit_of(tmp_path) == [("declined", "not_cancelled", None)]


async def test_a_tampered_secret_is_refused_and_cancels_nothing(
    origins: Origins, sandbox: SandboxServer, tmp_path: Path
) -> None:
    before = statuses(sandbox)
    # Same selection, another one's secret: swap the last character of the MAC.
    async with card_in_browser(origins, sandbox, tmp_path, arguments={"callback_data": "spring-sale"}) as probe:
        genuine = assert_secret_only_in_meta(probe.result)
    tampered = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    async with card_in_browser(
        origins, sandbox, tmp_path, arguments={"callback_data": "spring-sale"}, replace_secret=tampered
    ) as card:
        await card.frame.get_by_role("button", name="Cancel 5 SMS").click()
        await card.frame.get_by_role("status").filter(has_text="not valid").wait_for()
        assert statuses(sandbox) == before
    assert audit_of(tmp_path) == [("refused", "not_cancelled", None)]


async def test_an_expired_secret_is_refused_and_cancels_nothing(
    origins: Origins, sandbox: SandboxServer, tmp_path: Path
) -> None:
    before = statuses(sandbox)
    long_ago = int(time.time()) - 3_600
    signer = TokenSigner(SECRET.encode(), ttl=600)
    expired, _ = mint_card_secret(
        signer,
        account_id=DEMO_TOKEN.split(":", 1)[0],
        base_url=sandbox.url,
        filters=SmsFilters(callback_data="spring-sale"),
        cancel_all_pending=False,
        preview_time=long_ago,
        matched=5,
    )
    async with card_in_browser(
        origins, sandbox, tmp_path, arguments={"callback_data": "spring-sale"}, replace_secret=expired
    ) as card:
        await card.frame.get_by_role("button", name="Cancel 5 SMS").click()
        await card.frame.get_by_role("status").filter(has_text="has expired").wait_for()
        assert statuses(sandbox) == before
    assert audit_of(tmp_path) == [("expired", "not_cancelled", None)]
