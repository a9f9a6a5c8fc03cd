"""The example transcript is what the tools really return: regenerate it and compare."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_transcript", EXAMPLES / "make_transcript.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_transcript_in_examples_matches_a_fresh_run_against_the_sandbox() -> None:
    fresh = await generator().conversation()
    committed = (EXAMPLES / "transcript.md").read_text(encoding="utf-8")
    assert fresh == committed, "examples/transcript.md is stale: run .venv/bin/python examples/make_transcript.py"


async def test_the_transcript_shows_the_three_questions_with_local_times_and_look_alikes() -> None:
    text = (EXAMPLES / "transcript.md").read_text(encoding="utf-8")
    assert "What's going out tomorrow?" in text and "Cancel the appointment reminders." in text
    assert '"now": "Mon 2026-11-30 14:25 +01:00"' in text
    assert "1 more pending SMS with the same text is not included (no callback_data)" in text
    assert "UTC" not in text
    assert "Is +49 151 0000 1001 in my VIP group?" in text and '"found": true' in text
