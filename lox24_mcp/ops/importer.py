"""Bulk contact import: normalise, de-duplicate, chunk, send with bounded concurrency, account for everything.

Normalisation runs on a worker thread one slice ahead of the senders, so it overlaps the network.
Every input entry ends in exactly one bucket: created, rejected, invalid, duplicate or unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import anyio
from anyio.abc import ObjectReceiveStream
from pydantic import BaseModel, Field

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import (
    AuthenticationError,
    GroupNotFoundError,
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

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 50
#: Slices this small are normalised on the event loop; larger ones on a worker thread, so a big
#: import never holds up other sessions.
INLINE_SLICE = 50
Outcome = Literal["invalid", "duplicate", "rejected", "unknown"]
ProgressCallback = Callable[[int, int, str], Awaitable[None]]

#: Whole-request errors that every later chunk would get too: stop sending when one arrives.
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError, PaymentRequiredError, RateLimitError)


class ImportProblem(BaseModel):
    index: int = Field(description="0-based, in phones")
    phone: str
    outcome: Literal["invalid", "duplicate", "rejected", "unknown"]
    reason: str


# Every input entry is accounted for once: created + rejected + invalid + duplicates + unknown = requested.
class ImportReport(BaseModel):
    group_id: int
    requested: int
    created: int
    rejected: int = Field(description="Not added: refused by LOX24 or never sent")
    invalid: int = Field(description="Not a valid number")
    duplicates: int = Field(description="Repeats within this call")
    unknown: int = Field(description="Sent, no answer: check before resending")
    problems: list[ImportProblem] = Field(description="First 50 not created")
    problems_total: int


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
    # Plain tuples (index, phone, outcome, reason): cheap even when all 50,000 entries fail.
    problems: list[tuple[int, str, Outcome, str]] = field(default_factory=list)
    done: int = 0

    def problem(self, index: int, phone: str, outcome: Outcome, reason: str) -> None:
        self.counts[outcome] += 1
        self.problems.append((index, phone, outcome, reason))

    def first_problems(self) -> list[ImportProblem]:
        """The problems of the lowest input indexes, whatever order the batches finished in."""
        return [
            ImportProblem(index=i, phone=phone[:40], outcome=outcome, reason=reason[:300])
            for i, phone, outcome, reason in sorted(self.problems, key=lambda p: p[0])[:MAX_PROBLEMS]
        ]


def _normalise_slice(
    entries: Sequence[PhoneEntry], start: int, default_region: str | None
) -> list[tuple[int, str | None, str]]:
    """(index, E.164 or None, reason) for each entry; runs on a worker thread."""
    out: list[tuple[int, str | None, str]] = []
    for offset, entry in enumerate(entries):
        try:
            out.append((start + offset, to_e164(entry.phone, default_region), ""))
        except InvalidPhoneError as exc:
            out.append((start + offset, None, str(exc)))
    return out


async def import_phones(
    client: Lox24Client,
    group_id: int,
    entries: Sequence[PhoneEntry],
    *,
    default_region: str | None = None,
    chunk_size: int = 500,
    concurrency: int = 4,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Add `entries` to group `group_id` and account for every one of them.

    Raises:
        GroupNotFoundError: LOX24 has no such group (nothing was created).
        Lox24Error: the first batch failed in a way every batch would (bad token, no access,
            IP blocked), so nothing was created.
    """
    tally = _Tally(requested=len(entries))
    progress_lock = anyio.Lock()
    fatal: list[Lox24Error] = []

    async def report(step: int, note: str) -> None:
        async with progress_lock:
            tally.done += step
            if on_progress is not None:
                await on_progress(tally.done, tally.requested, note)

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
    seen: set[str] = set()
    first_seen: dict[str, int] = {}
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(sender, receive_stream.clone())
        receive_stream.close()
        async with send_stream:
            pending = _Chunk([], [])
            for start in range(0, len(entries), chunk_size):
                batch = entries[start : start + chunk_size]
                if len(batch) <= INLINE_SLICE:  # ~1 ms of work: cheaper than the hop to a worker thread
                    normalised = _normalise_slice(batch, start, default_region)
                else:
                    normalised = await anyio.to_thread.run_sync(_normalise_slice, batch, start, default_region)
                skipped = 0
                for (index, e164, reason), entry in zip(normalised, batch, strict=True):
                    if e164 is None:
                        tally.problem(index, entry.phone, "invalid", reason)
                        skipped += 1
                    elif e164 in seen:
                        tally.problem(index, entry.phone, "duplicate", f"same number as entry {first_seen[e164]}")
                        skipped += 1
                    else:
                        seen.add(e164)
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
            raise GroupNotFoundError(group_id=group_id, request_id=error.request_id)
        raise error
    counts = tally.counts
    result = ImportReport(
        group_id=group_id,
        requested=tally.requested,
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
    return result
