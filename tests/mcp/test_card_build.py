"""The committed confirmation card is built from the committed sources, and is self-contained."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from lox24_mcp.mcp.card import card_html

UI = Path(__file__).resolve().parents[2] / "ui"


def source_hash() -> str:
    """The same digest ui/build.mjs embeds: build.mjs, package.json, package-lock.json and card/*, sorted."""
    names = sorted(
        ["build.mjs", "package.json", "package-lock.json", *(f"card/{p.name}" for p in (UI / "card").iterdir())]
    )
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        digest.update((UI / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def test_the_committed_card_is_built_from_the_current_sources() -> None:
    stamp = re.search(r"sources sha256 ([0-9a-f]{64})", card_html())
    assert stamp, "the card has no source stamp; rebuild it with scripts/build_ui.sh"
    assert stamp.group(1) == source_hash(), "the card is stale: run scripts/build_ui.sh and commit the result"


def test_the_card_loads_nothing_from_elsewhere() -> None:
    html = card_html()
    assert re.search(r"<script[^>]*\ssrc=", html) is None
    assert re.search(r"<link[^>]*rel=[\"']?stylesheet", html) is None
    assert "@import" not in html and "@font-face" not in html
    # One inline script and one inline style, and the markup the tests and the README rely on.
    assert html.count("<script>") == 1 and html.count("<style>") == 1
    assert 'id="confirm"' in html and ">Keep them</button>" in html
