"""Run every benchmark and print one table: `.venv/bin/python benchmarks/run.py [--quick] [--only NAME ...]`.

Exit status: 0 when every benchmark ran (goals missed or not), 1 when a benchmark crashed or, with
`--strict`, missed a goal. `--json FILE` also writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import anyio
import bench_bulk_import
import bench_call_overhead
import bench_cold_start
import bench_context_cost
import bench_file_import
import bench_http_load
import bench_teams
import bench_xlsx_readers
from bench_common import Row, format_table, say

Benchmark = Callable[[bool], Awaitable[list[Row]]]

BENCHMARKS: dict[str, Benchmark] = {
    "cold-start": bench_cold_start.main,
    "call-overhead": bench_call_overhead.main,
    "bulk-import": bench_bulk_import.main,
    "context-cost": bench_context_cost.main,
    "file-import": bench_file_import.main,
    "http-load": bench_http_load.main,
    "teams": bench_teams.main,
    "xlsx-readers": bench_xlsx_readers.main,
}


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; the benchmark was cancelled and has cleaned up."""


async def run_one(benchmark: Benchmark, quick: bool) -> list[Row]:
    """Run one benchmark; SIGINT/SIGTERM cancel it cleanly, so every server and child process is stopped."""
    rows: list[Row] = []
    signalled = False
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal signalled
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    signalled = True
                    tg.cancel_scope.cancel()
                    return

        tg.start_soon(watch)
        rows = await benchmark(quick)
        tg.cancel_scope.cancel()  # stops the watcher
    if signalled:
        raise Interrupted
    return rows


def _leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller inputs (a smoke test, < 60 s)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these (repeatable)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    # Before any MCPServer exists: it would call basicConfig(INFO) and log every HTTP request.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    selected = args.only or list(BENCHMARKS)
    rows: list[Row] = []
    crashed: list[str] = []
    started = time.perf_counter()
    for name in selected:
        say(f"== {name}{' (quick)' if args.quick else ''}")
        t0 = time.perf_counter()
        try:
            got = anyio.run(run_one, BENCHMARKS[name], args.quick)
        except (Interrupted, KeyboardInterrupt):
            say("interrupted")
            return 130
        except Exception as exc:  # noqa: BLE001 (one broken benchmark must not hide the others' results)
            traceback.print_exc()
            crashed.append(name)
            cause = _leaf(exc)
            got = [Row(name, "error", "—", None, "runs", False, f"{type(cause).__name__}: {cause}"[:100])]
        rows.extend(got)
        say(f"   ({time.perf_counter() - t0:.1f} s)")

    say()
    say(format_table(rows))
    missed = [row.name for row in rows if row.passed is False]
    say()
    say(
        f"{len(rows)} rows, {sum(r.passed is True for r in rows)} passed, {len(missed)} missed, "
        f"{len(crashed)} crashed; {time.perf_counter() - started:.1f} s in all"
    )
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False) + "\n")
    return 1 if crashed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
