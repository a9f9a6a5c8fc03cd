"""Bulk contact import: normalise, de-duplicate, chunk, send with bounded concurrency, account for everything.

The contacts come from a list (`add_phones_to_group`) or from a source that yields slices as it reads
them (a file): either way, reading and normalisation run on a worker thread one slice ahead of the
senders, so they overlap the network, and a source is never held in memory whole.
Every input entry ends in exactly one bucket: created, rejected, invalid, duplicate or unknown.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import anyio
from anyio.abc import ObjectReceiveStream

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import (
    AuthenticationError,
    Lox24APIStatusError,
    Lox24ConnectionError,
    Lox24Error,
    Lox24OutcomeUnknownError,
    Lox24ResponseError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
)
from lox24_mcp.lox24.models import PhoneEntry
from lox24_mcp.lox24.phones import InvalidPhoneError, to_e164
from lox24_mcp.mcp.results import ImportProblem, ImportResult

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 50
#: Slices this small are normalised on the event loop; larger ones on a worker thread, so a big
#: import never holds up other sessions.
INLINE_SLICE = 50
Outcome = Literal["invalid", "duplicate", "rejected", "unknown"]
ProgressCallback = Callable[[int, int, str], Awaitable[None]]

#: Whole-request errors that every later chunk would get too: stop sending when one arrives.
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError, PaymentRequiredError, RateLimitError)


class GroupNotFoundError(Lox24Error):
    """The target group does not exist (LOX24 answered 404 before anything was created)."""


@dataclass
class ContactSlice:
    """Consecutive contacts from a source, with what problems should call each one.

    `indexes[i]` labels `entries[i]`: its 0-based position in a list, or its row number in a file.
    `refused` holds entries the source could not turn into a contact (index, raw value, reason); they
    are counted as invalid. `rows` is how many input rows the slice covers, for progress.
    """

    indexes: list[int]
    entries: list[PhoneEntry]
    refused: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.indexes) + len(self.refused)


class ImportInterruptedError(Lox24Error):
    """The source failed part-way (the file changed or became unreadable); `result` counts what was done.

    Everything read before the failure was sent and is accounted for in `result`.
    """

    def __init__(self, message: str, result: ImportResult) -> None:
        super().__init__(message)
        self.result = result


def list_source(entries: Sequence[PhoneEntry], size: int) -> Iterator[ContactSlice]:
    """Slices of a list, labelled by position."""
    for start in range(0, len(entries), size):
        batch = entries[start : start + size]
        yield ContactSlice(list(range(start, start + len(batch))), list(batch))


@dataclass
class _Chunk:
    indexes: list[int]
    bodies: list[dict[str, str]]


@dataclass
class _Tally:
    requested: int
    created: int = 0
    counts: dict[Outcome, int] = field(
        default_factory=lambda: dict.fromkeys(("invalid", "duplicate", "rejected", "unknown"), 0)
    )
    # The MAX_PROBLEMS lowest indexes as a max-heap of plain tuples (-index, phone, outcome, reason):
    # memory stays bounded even when all 100,000 rows of a file fail.
    problems: list[tuple[int, str, Outcome, str]] = field(default_factory=list)
    done: int = 0
    seen_entries: int = 0

    def problem(self, index: int, phone: str, outcome: Outcome, reason: str) -> None:
        self.counts[outcome] += 1
        item = (-index, phone, outcome, reason)
        if len(self.problems) < MAX_PROBLEMS:
            heapq.heappush(self.problems, item)
        elif item[0] > self.problems[0][0]:
            heapq.heapreplace(self.problems, item)

    def first_problems(self) -> list[ImportProblem]:
        """The problems of the lowest input indexes, whatever order the batches finished in."""
        return [
            ImportProblem(index=-i, phone=phone[:40], outcome=outcome, reason=reason[:300])
            for i, phone, outcome, reason in sorted(self.problems, key=lambda p: -p[0])
        ]


def _normalise_slice(piece: ContactSlice, default_region: str | None) -> list[tuple[str | None, str]]:
    """(E.164 or None, reason) for each entry of the slice."""
    out: list[tuple[str | None, str]] = []
    for entry in piece.entries:
        try:
            out.append((to_e164(entry.phone, default_region), ""))
        except InvalidPhoneError as exc:
            out.append((None, str(exc)))
    return out


def _next_normalised(
    source: Iterator[ContactSlice], default_region: str | None
) -> tuple[ContactSlice, list[tuple[str | None, str]]] | None:
    """Read the next slice from the source and normalise it (on a worker thread); None at the end."""
    piece = next(source, None)
    if piece is None:
        return None
    return piece, _normalise_slice(piece, default_region)


async def import_phones(
    client: Lox24Client,
    group_id: int,
    entries: Sequence[PhoneEntry] | Iterable[ContactSlice],
    *,
    default_region: str | None = None,
    chunk_size: int = 500,
    concurrency: int = 4,
    on_progress: ProgressCallback | None = None,
    total: int | None = None,
    label: str = "entry",
) -> ImportResult:
    """Add `entries` to group `group_id` and account for every one of them.

    `entries` is a list of contacts, or a source of `ContactSlice`s (read lazily, one slice ahead of
    the senders, on a worker thread: a source may do blocking I/O). `total` is the number of entries
    a source will yield, for progress notifications; a list's length is used for a list. `label` is
    what an index is called in problem reasons ("same number as row 7").

    Raises:
        GroupNotFoundError: LOX24 has no such group (nothing was created).
        Lox24Error: the first batch failed in a way every batch would (bad token, no access,
            IP blocked), so nothing was created.
    """
    inline = False
    if isinstance(entries, Sequence):
        source: Iterator[ContactSlice] = list_source(entries, chunk_size)
        total = len(entries)
        inline = len(entries) <= INLINE_SLICE  # ~1 ms of work: cheaper than the hop to a worker thread
    else:
        source = iter(entries)
    tally = _Tally(requested=total or 0)
    progress_lock = anyio.Lock()
    fatal: list[Lox24Error] = []

    async def report(step: int, note: str) -> None:
        async with progress_lock:
            tally.done += step
            if on_progress is not None:
                await on_progress(tally.done, max(tally.requested, tally.seen_entries), note)

    async def send(chunk: _Chunk) -> None:
        if fatal:
            _settle(chunk, "rejected", f"not sent: an earlier batch failed ({fatal[0].message})")
            return
        try:
            results = await client.add_phones(group_id, chunk.bodies)
        except (Lox24OutcomeUnknownError, Lox24ResponseError) as exc:
            _settle(chunk, "unknown", exc.message)
        except Lox24ConnectionError as exc:
            _settle(chunk, "rejected", f"not sent: {exc.message}")
        except Lox24APIStatusError as exc:
            if isinstance(exc, _FATAL) and not fatal:
                fatal.append(exc)
            _settle(chunk, "rejected", exc.message)
        else:
            for index, body, result in zip(chunk.indexes, chunk.bodies, results, strict=True):
                if result.ok:
                    tally.created += 1
                else:
                    tally.problem(index, body["phone"], "rejected", result.detail or f"HTTP {result.status}")
        await report(len(chunk.indexes), f"{tally.created} created")

    def _settle(chunk: _Chunk, outcome: Outcome, reason: str) -> None:
        for index, body in zip(chunk.indexes, chunk.bodies, strict=True):
            tally.problem(index, body["phone"], outcome, reason)

    async def sender(receive: ObjectReceiveStream[_Chunk]) -> None:
        async with receive:
            async for chunk in receive:
                await send(chunk)

    send_stream, receive_stream = anyio.create_memory_object_stream[_Chunk](max_buffer_size=concurrency)
    interrupted: str | None = None
    first_seen: dict[str, int] = {}
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(sender, receive_stream.clone())
        receive_stream.close()
        async with send_stream:
            pending = _Chunk([], [])
            while True:
                try:
                    if inline:
                        step = _next_normalised(source, default_region)
                    else:
                        step = await anyio.to_thread.run_sync(_next_normalised, source, default_region)
                except (OSError, ValueError) as exc:  # a source's read failed: send what was read, then say so
                    interrupted = str(exc) or type(exc).__name__
                    break
                if step is None:
                    break
                piece, normalised = step
                tally.seen_entries += piece.rows
                skipped = len(piece.refused)
                for index, raw, reason in piece.refused:
                    tally.problem(index, raw, "invalid", reason)
                for index, (e164, reason), entry in zip(piece.indexes, normalised, piece.entries, strict=True):
                    if e164 is None:
                        tally.problem(index, entry.phone, "invalid", reason)
                        skipped += 1
                    elif e164 in first_seen:
                        tally.problem(index, entry.phone, "duplicate", f"same number as {label} {first_seen[e164]}")
                        skipped += 1
                    else:
                        first_seen[e164] = index
                        pending.indexes.append(index)
                        pending.bodies.append(entry.wire(e164))
                        if len(pending.indexes) == chunk_size:
                            await send_stream.send(pending)
                            pending = _Chunk([], [])
                if skipped:
                    await report(skipped, "validated")
            if pending.indexes:
                await send_stream.send(pending)

    # Raise only when provably nothing was created; a batch whose answer was lost must stay in the result.
    if fatal and tally.created == 0 and tally.counts["unknown"] == 0:
        error = fatal[0]
        if isinstance(error, NotFoundError):
            raise GroupNotFoundError(
                f"LOX24 has no contact group with id {group_id} (HTTP 404"
                + (f", LOX24 request id {error.request_id}" if error.request_id else "")
                + "). Nothing was added. Call list_groups to find the group's id.",
                request_id=error.request_id,
            )
        raise error
    counts = tally.counts
    result = ImportResult(
        group_id=group_id,
        requested=tally.seen_entries,
        created=tally.created,
        rejected=counts["rejected"],
        invalid=counts["invalid"],
        duplicates=counts["duplicate"],
        unknown=counts["unknown"],
        problems=tally.first_problems(),
        problems_total=sum(counts.values()),
    )
    accounted = result.created + result.rejected + result.invalid + result.duplicates + result.unknown
    if accounted != result.requested:  # an invariant: a bug here must never pass silently
        raise RuntimeError(f"import accounting is off: {accounted} accounted for, {result.requested} requested")
    if interrupted is not None:
        raise ImportInterruptedError(
            f"Reading the contacts failed part-way ({interrupted}) after {result.requested} entries: "
            f"{result.created} were created, {result.unknown} have an unknown outcome",
            result,
        )
    return result
