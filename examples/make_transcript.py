"""Write `examples/transcript.md`: a short chat whose tool calls and results are real sandbox answers.

The sandbox and the server run on a fixed clock (Monday 2026-11-30, 14:25 in Berlin), so the output is the
same on every run and `tests/e2e/test_transcript.py` can regenerate it and compare: the transcript cannot
drift from what the tools really return. The assistant's sentences are templates filled from the results.

    .venv/bin/python examples/make_transcript.py           # rewrite examples/transcript.md
    .venv/bin/python examples/make_transcript.py --check   # exit 1 if the file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState

HERE = Path(__file__).resolve().parent
TRANSCRIPT = HERE / "transcript.md"
ZONE = "Europe/Berlin"
#: "Now" for the whole conversation: Monday 2026-11-30, 14:25 Berlin time.
NOW = datetime(2026, 11, 30, 14, 25, tzinfo=ZoneInfo(ZONE)).timestamp()
#: A fixed token key, so the confirmation token in the transcript is the same on every run.
SECRET = "transcript-example-secret-0123456789"  # noqa: S105 - signs sandbox tokens only

#: Fields of an SMS the transcript shows (uuids are random per run; the rest is what a reader needs).
SMS_FIELDS = ("phone", "iso2", "status", "delivery_local", "text", "callback_data")


def _data(result: CallToolResult) -> dict[str, Any]:
    if result.is_error or not isinstance(result.structured_content, dict):
        raise SystemExit(f"tool failed: {result.content}")
    return result.structured_content


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _abridged(data: dict[str, Any], keys: tuple[str, ...], *, items: str | None = None, shown: int = 2) -> str:
    """The result with only `keys`, and at most `shown` entries of the list `items` (each cut to SMS_FIELDS)."""
    parts = []
    for key in keys:
        value = data.get(key)
        if key == items and isinstance(value, list):
            listed = [_json({f: sms[f] for f in SMS_FIELDS if sms.get(f) is not None}) for sms in value[:shown]]
            more = ", …" if len(value) > shown else ""
            parts.append(f'"{key}": [{", ".join(listed)}{more}]')
        elif key == "confirmation_token" and isinstance(value, str):
            parts.append(f'"{key}": "{value[:12]}…"')
        else:
            parts.append(f'"{key}": {_json(value)}')
    return "{" + ", ".join(parts) + "}"


def _call(name: str, args: dict[str, Any]) -> str:
    shown = {k: (v[:12] + "…" if k == "confirmation_token" else v) for k, v in args.items()}
    return f"`{name}({_json(shown)})`"


def _count_words(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {n}" for key, n in counts.items())


async def conversation() -> str:
    """Run the conversation against a fresh sandbox and return the transcript's Markdown."""
    lines: list[str] = []

    def say(who: str, text: str) -> None:
        lines.extend([f"**{who}:** {text}", ""])

    def tool(name: str, args: dict[str, Any], result: str) -> None:
        lines.extend([f"> {_call(name, args)}", f"> → `{result}`", ""])

    state = SandboxState(clock=lambda: NOW)
    with SandboxServer(state) as sandbox:
        settings = Settings(
            api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url, timezone=ZONE, secret=SecretStr(SECRET)
        )
        async with Client(create_server(settings, sandbox=True, clock=lambda: NOW)) as client:
            tools = {t.name for t in (await client.list_tools()).tools}

            # 1. What's going out tomorrow?
            say("You", "What's going out tomorrow?")
            # A model reads "today" from `now` in any earlier result; here it is the fixed clock.
            tomorrow = (datetime.fromtimestamp(NOW, ZoneInfo(ZONE)).date() + timedelta(days=1)).isoformat()
            args: dict[str, Any] = {"pending": True, "delivery_at": tomorrow}
            found = _data(await client.call_tool("search_sms", args))
            keys: tuple[str, ...] = ("now", "total", "page", "page_size", "has_more", "items", "message")
            tool("search_sms", args, _abridged(found, keys, items="items"))
            by_hour: dict[str, int] = {}
            by_tag: dict[str, int] = {}
            for sms in found["items"]:
                by_hour[sms["delivery_local"][15:20]] = by_hour.get(sms["delivery_local"][15:20], 0) + 1
                tag = sms["callback_data"] or "untagged"
                by_tag[tag] = by_tag.get(tag, 0) + 1
            weekday = found["items"][0]["delivery_local"][:3]
            say(
                "Assistant",
                f"Tomorrow ({weekday} {tomorrow}) {found['total']} SMS are scheduled, Berlin time: "
                + ", ".join(f"{n} at {hour}" for hour, n in sorted(by_hour.items()))
                + ". By tag: "
                + _count_words(dict(sorted(by_tag.items(), key=lambda kv: -kv[1])))
                + ". Nothing has gone out yet.",
            )

            # 2. Cancel the appointment reminders: the tag covers only one of them.
            say("You", "Cancel the appointment reminders.")
            args = {"callback_data": "reminder"}
            first = _data(await client.call_tool("cancel_pending_sms", args))
            keys = ("status", "matched", "left_out", "sample", "message")
            tool("cancel_pending_sms", args, _abridged(first, keys, items="sample"))
            say(
                "Assistant",
                f"Nothing is cancelled yet. Only {first['matched']} scheduled SMS carries the tag *reminder*, but "
                f"the preview warns: {first['left_out'][0]}. Shall I look at all reminders that start "
                '"Erinnerung: Ihr Termin" instead?',
            )
            say("You", "Yes, all of them.")
            args = {"text": "Erinnerung: Ihr Termin"}
            wider = _data(await client.call_tool("cancel_pending_sms", args))
            keys = ("status", "matched", "summary", "left_out", "sample", "confirmation_token", "expires_local")
            tool("cancel_pending_sms", args, _abridged(wider, keys, items="sample"))
            summary = wider["summary"]
            say(
                "Assistant",
                f"{wider['matched']} reminders match: {summary['span']}, "
                f"{_count_words(summary['by']['country'])}; texts: "
                + "; ".join(f'"{text}"' for text in summary["by"]["text"])
                + f". Cancel these {wider['matched']}? (The confirmation is valid until "
                f"{wider['expires_local'][15:20]} Berlin time.)",
            )
            say("You", "Yes, cancel them.")
            args = {"text": "Erinnerung: Ihr Termin", "confirmation_token": wider["confirmation_token"]}
            done = _data(await client.call_tool("cancel_pending_sms", args))
            tool("cancel_pending_sms", args, _abridged(done, ("status", "matched", "cancelled", "message")))
            say("Assistant", f"Done: LOX24 cancelled {done['cancelled']} appointment reminders.")

            # 3. Is this number in my VIP group? (needs list_group_contacts)
            if "list_group_contacts" in tools:
                say("You", "Is +49 151 0000 1001 in my VIP group?")
                groups = _data(await client.call_tool("list_groups", {}))
                vip = next(g for g in groups["groups"] if g["name"].startswith("VIP"))
                tool("list_groups", {}, _abridged(groups, ("groups",)))
                args = {"group_id": vip["id"], "phone": "+49 151 0000 1001"}
                member = _data(await client.call_tool("list_group_contacts", args))
                tool("list_group_contacts", args, _json(member))
                if member.get("found") and member.get("items"):
                    contact = member["items"][0]
                    fields = ", ".join(f"{k} {v}" for k, v in contact.get("fields", {}).items())
                    say(
                        "Assistant",
                        f"Yes: +49 151 0000 1001 is in *{vip['name']}*, stored as {contact['phone']}"
                        + (f" ({fields})." if fields else "."),
                    )
                else:
                    say("Assistant", f"No: +49 151 0000 1001 is not in *{vip['name']}*. {member.get('message', '')}")

    head = [
        "# A chat with lox24-mcp (sandbox data)",
        "",
        "Generated by [`make_transcript.py`](make_transcript.py) against `lox24-mcp --sandbox` on a fixed clock",
        "(Monday 2026-11-30, 14:25 Berlin time), in a client without confirmation dialogs (Claude Desktop chat).",
        "Tool calls and results are real answers, abridged to the fields shown; the assistant's sentences are",
        "templates filled from them. `tests/e2e/test_transcript.py` regenerates it, so it cannot drift.",
        "",
        "---",
        "",
    ]
    tail = [
        "---",
        "",
        "In Claude Code, VS Code or Cursor the confirmation is a dialog instead: the client shows the same summary",
        "(count, time span, the largest groups, look-alikes left out) and the cancel runs in the same call on a yes.",
    ]
    if "list_group_contacts" not in tools:
        tail += [
            "",
            '*The VIP-group question ("is +49 151 … in my VIP group?") needs the `list_group_contacts` tool, which',
            "this build does not have yet; the generator adds it once the tool exists.*",
        ]
    return "\n".join(head + lines + tail) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if transcript.md is stale")
    args = parser.parse_args(argv)
    text = anyio.run(conversation)
    if args.check:
        if TRANSCRIPT.read_text(encoding="utf-8") != text:
            sys.stderr.write("examples/transcript.md is stale: run examples/make_transcript.py\n")
            return 1
        return 0
    TRANSCRIPT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
