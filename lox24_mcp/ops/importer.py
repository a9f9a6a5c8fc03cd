"""Bulk contact import: normalise, de-duplicate, skip what the group holds, chunk, send with bounded
concurrency, account for everything.

Before anything is sent, the group's current numbers are read in one request (LOX24's CSV export), and
numbers already there are reported `already_in_group`, not sent. So an import that was interrupted at any
point (client gone, process killed, an answer lost) can simply be run again with the same contacts: what
arrived the first time is skipped, and every valid number ends up in the group once, whether or not LOX24
would refuse a number it already has (it does not document which).

The contacts come from a list (`add_phones_to_group`) or from a source that yields slices as it reads
them (a file, `add_phones_from_file`): either way, reading and normalisation run on a worker thread one
slice ahead of the senders, so they overlap the network, and a source is never held in memory whole.
Every input entry ends in exactly one bucket: created, already_in_group, new (dry run), rejected,
invalid, duplicate or unknown.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
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
from lox24_mcp.lox24.models import GroupContacts, PhoneEntry
from lox24_mcp.lox24.phones import InvalidPhoneError, to_e164

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 50
#: Imports up to this size list every contact's outcome and stored number in the result.
MAX_LISTED = 20
#: Slices this small are normalised on the event loop; larger ones on a worker thread, so a big
#: import never holds up other sessions.
INLINE_SLICE = 50
Outcome = Literal["invalid", "duplicate", "rejected", "unknown"]
#: A contact: a `PhoneEntry`, or a bare number for lists without names.
Entry = PhoneEntry | str
ProgressCallback = Callable[[int, int, str], Awaitable[None]]

#: Whole-request errors that every later chunk would get too: stop sending when one arrives.
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError, PaymentRequiredError, RateLimitError)


class ImportProblem(BaseModel):
    index: int = Field(description="0-based, in phones")
    phone: str
    outcome: Literal["invalid", "duplicate", "rejected", "unknown"]
    reason: str


ContactOutcome = Literal["created", "already_in_group", "new", "invalid", "duplicate", "rejected", "unknown"]
_OUTCOME_WORDS: dict[ContactOutcome, str] = {
    "created": "added",
    "already_in_group": "already in the group, not sent",
    "new": "would be added",
    "invalid": "invalid",
    "duplicate": "repeat, not sent",
    "rejected": "not added",
    "unknown": "sent, no answer",
}


# Every input entry is accounted for once:
# created + already_in_group + new + rejected + invalid + duplicates + unknown = requested.
class ImportReport(BaseModel):
    group_id: int
    requested: int
    created: int
    already_in_group: int = 0
    new: int = Field(default=0, description="dry_run: would be added")
    rejected: int = Field(description="Not added: refused by LOX24 or never sent")
    invalid: int
    duplicates: int = Field(description="Repeats within this call")
    unknown: int = Field(description="Sent, no answer: re-run to finish")
    contacts: list[str] | None = Field(default=None, description="Up to 20: 'input → E.164: outcome'")
    problems: list[ImportProblem] = Field(description="First 50 not created")
    problems_total: int
    message: str = ""

    @property
    def accounted(self) -> int:
        """How many entries the counts cover: equal to `requested` in every report."""
        return (
            self.created
            + self.already_in_group
            + self.new
            + self.rejected
            + self.invalid
            + self.duplicates
            + self.unknown
        )


@dataclass
class ContactSlice:
    """Consecutive contacts from a source, with what problems should call each one.

    `indexes[i]` labels `entries[i]`: its 0-based position in a list, or its row number in a file.
    `refused` holds entries the source could not turn into a contact (index, raw value, reason); they
    are counted as invalid. `rows` is how many input rows the slice covers.
    """

    indexes: list[int]
    entries: Sequence[Entry]
    refused: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.indexes) + len(self.refused)


class ImportInterruptedError(Lox24Error):
    """The source failed part-way (the file changed or became unreadable); `report` counts what was done.

    Everything read before the failure was sent and is accounted for in `report`.
    """

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def list_source(entries: Sequence[Entry], size: int) -> Iterator[ContactSlice]:
    """Slices of a list, labelled by position."""
    for start in range(0, len(entries), size):
        batch = entries[start : start + size]
        yield ContactSlice(list(range(start, start + len(batch))), batch)


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
    # The MAX_PROBLEMS lowest indexes, as a max-heap of plain tuples (-index, phone, outcome, reason):
    # memory stays bounded even when every row of a 100,000-row file fails.
    problems: list[tuple[int, str, Outcome, str]] = field(default_factory=list)
    already_in_group: int = 0
    new: int = 0
    done: int = 0
    seen_entries: int = 0
    #: index → (input, E.164 or None, outcome) for imports of up to MAX_LISTED contacts; else None.
    listed: dict[int, tuple[str, str | None, ContactOutcome]] | None = None

    def problem(self, index: int, phone: str, outcome: Outcome, reason: str, e164: str | None = None) -> None:
        self.counts[outcome] += 1
        item = (-index, phone, outcome, reason)
        if len(self.problems) < MAX_PROBLEMS:
            heapq.heappush(self.problems, item)
        elif item[0] > self.problems[0][0]:
            heapq.heapreplace(self.problems, item)
        self.note(index, phone, e164, outcome)

    def note(self, index: int, phone: str, e164: str | None, outcome: ContactOutcome) -> None:
        """Remember one contact's outcome for the result's `contacts` list (small imports only).

        The first note of an entry holds its input as written; later ones only update the outcome.
        """
        if self.listed is not None:
            known = self.listed.get(index)
            if known is not None:
                phone, e164 = known[0], e164 or known[1]
            self.listed[index] = (phone, e164, outcome)

    def contacts(self) -> list[str] | None:
        """One line per contact in input order, e.g. `0664 1234567 → +436641234567: added`."""
        if self.listed is None:
            return None
        return [
            f"{phone[:40]} → {e164}: {_OUTCOME_WORDS[outcome]}" if e164 else f"{phone[:40]}: {_OUTCOME_WORDS[outcome]}"
            for phone, e164, outcome in (self.listed[i] for i in sorted(self.listed))
        ]

    def first_problems(self) -> list[ImportProblem]:
        """The problems of the lowest input indexes, whatever order the batches finished in."""
        return [
            ImportProblem(index=-i, phone=phone[:40], outcome=outcome, reason=reason[:300])
            for i, phone, outcome, reason in sorted(self.problems, key=lambda p: -p[0])
        ]


def _phone(entry: Entry) -> str:
    return entry if isinstance(entry, str) else entry.phone


def _normalise_slice(piece: ContactSlice, default_region: str | None) -> list[tuple[str | None, str]]:
    """(E.164 or None, reason) for each entry of the slice."""
    out: list[tuple[str | None, str]] = []
    for entry in piece.entries:
        try:
            out.append((to_e164(_phone(entry), default_region), ""))
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


async def group_numbers(client: Lox24Client, group_id: int) -> set[str]:
    """The group's current numbers as E.164 keys, from one request (LOX24's CSV export).

    Raises:
        GroupNotFoundError: LOX24 has no such group.
        Lox24Error: the group could not be read; the message says that nothing was sent.
    """
    return {contact.e164 for contact in await read_group(client, group_id)}


async def read_group(client: Lox24Client, group_id: int) -> GroupContacts:
    """The group's contacts and column captions, from one request (LOX24's CSV export).

    Raises:
        GroupNotFoundError: LOX24 has no such group.
        Lox24Error: the group could not be read; the message says that nothing was sent.
    """
    try:
        return await client.group_contacts(group_id)
    except NotFoundError as exc:
        raise GroupNotFoundError(group_id=group_id, request_id=exc.request_id) from None
    except Lox24Error as exc:
        # Without the group's numbers a re-run could double contacts, so nothing is sent.
        exc.message = (
            f"{exc.message} Nothing was sent: the group's current numbers are read first, so that numbers "
            "already in it are not sent twice."
        )
        raise


async def import_phones(
    client: Lox24Client,
    group_id: int,
    entries: Sequence[Entry] | None,
    *,
    source: Iterable[ContactSlice] | None = None,
    default_region: str | None = None,
    chunk_size: int = 500,
    concurrency: int = 4,
    on_progress: ProgressCallback | None = None,
    dry_run: bool = False,
    existing: set[str] | None = None,
    total: int | None = None,
    label: str = "entry",
) -> ImportReport:
    """Add `entries` (`PhoneEntry` objects or bare numbers) to group `group_id` and account for every one.

    First the group's numbers are read (one request) unless the caller passes them as `existing`;
    numbers already there are counted `already_in_group` and not sent, which makes running the same
    import again safe. With `dry_run` nothing is sent: the result counts what would be added as `new`.

    The contacts are `entries`, a list, or (with `entries=None`) `source`, an iterable of `ContactSlice`s
    read lazily one slice ahead of the senders on a worker thread (it may do blocking I/O). `total` is
    the number of entries a source will yield, for progress; `label` is what an index is called in
    reasons ("same number as row 7").

    Raises:
        GroupNotFoundError: LOX24 has no such group (nothing was created).
        ImportInterruptedError: the source failed part-way; what was read was sent and is in its report.
        Lox24Error: the group's numbers could not be read (nothing was sent), or the first batch
            failed in a way every batch would (bad token, no access, IP blocked), so nothing was created.
    """
    inline = False
    if entries is not None:
        slices: Iterator[ContactSlice] = list_source(entries, chunk_size)
        total = len(entries)
        inline = len(entries) <= INLINE_SLICE  # little work: cheaper than the hop to a worker thread
    elif source is not None:
        slices = iter(source)
    else:
        raise TypeError("import_phones needs entries or a source")
    tally = _Tally(requested=total or 0, listed={} if total is not None and total <= MAX_LISTED else None)
    if existing is None:
        existing = await group_numbers(client, group_id)
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
                    tally.note(index, body["phone"], body["phone"], "created")
                else:
                    tally.problem(index, body["phone"], "rejected", result.detail or f"HTTP {result.status}")
        await report(len(chunk.indexes), f"{tally.created} created")

    def _settle(chunk: _Chunk, outcome: Outcome, reason: str) -> None:
        for index, body in zip(chunk.indexes, chunk.bodies, strict=True):
            tally.problem(index, body["phone"], outcome, reason, body["phone"])

    async def sender(receive: ObjectReceiveStream[_Chunk]) -> None:
        async with receive:
            async for chunk in receive:
                await send(chunk)

    send_stream, receive_stream = anyio.create_memory_object_stream[_Chunk](max_buffer_size=concurrency)
    interrupted: str | None = None
    first_seen: dict[str, int] = {}
    async with anyio.create_task_group() as tg:
        for _ in range(0 if dry_run else concurrency):
            tg.start_soon(sender, receive_stream.clone())
        receive_stream.close()
        async with send_stream:
            pending = _Chunk([], [])
            while True:
                try:
                    if inline:
                        step = _next_normalised(slices, default_region)
                    else:
                        step = await anyio.to_thread.run_sync(_next_normalised, slices, default_region)
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
                        tally.problem(index, _phone(entry), "invalid", reason)
                        skipped += 1
                    elif e164 in first_seen:
                        reason = f"same number as {label} {first_seen[e164]}"
                        tally.problem(index, _phone(entry), "duplicate", reason, e164)
                        skipped += 1
                    elif e164 in existing:
                        tally.already_in_group += 1
                        tally.note(index, _phone(entry), e164, "already_in_group")
                        first_seen[e164] = index
                        skipped += 1
                    elif dry_run:
                        tally.new += 1
                        tally.note(index, _phone(entry), e164, "new")
                        first_seen[e164] = index
                        skipped += 1
                    else:
                        first_seen[e164] = index
                        tally.note(index, _phone(entry), e164, "unknown")  # until its batch is answered
                        pending.indexes.append(index)
                        pending.bodies.append({"phone": e164} if isinstance(entry, str) else entry.wire(e164))
                        if len(pending.indexes) == chunk_size:
                            await send_stream.send(pending)
                            pending = _Chunk([], [])
                if skipped:
                    await report(skipped, "checked" if dry_run else "validated")
            if pending.indexes:
                await send_stream.send(pending)
    # A caller that gave up (its cancel scope was cancelled) gets its cancellation here, not an accounting
    # of a half-finished import: leaving the task group is not always a checkpoint (anyio, asyncio).
    await anyio.lowlevel.checkpoint_if_cancelled()

    # Raise only when provably nothing was created; a batch whose answer was lost must stay in the result.
    if fatal and tally.created == 0 and tally.counts["unknown"] == 0:
        error = fatal[0]
        if isinstance(error, NotFoundError):
            raise GroupNotFoundError(group_id=group_id, request_id=error.request_id)
        raise error
    counts = tally.counts
    result = ImportReport(
        group_id=group_id,
        requested=tally.seen_entries,
        created=tally.created,
        already_in_group=tally.already_in_group,
        new=tally.new,
        rejected=counts["rejected"],
        invalid=counts["invalid"],
        duplicates=counts["duplicate"],
        unknown=counts["unknown"],
        contacts=tally.contacts(),
        problems=tally.first_problems(),
        problems_total=sum(counts.values()),
    )
    if result.accounted != result.requested:  # an invariant: a bug here must never pass silently
        raise RuntimeError(f"import accounting is off: {result.accounted} accounted for, {result.requested} requested")
    result = result.model_copy(update={"message": summarise(result, dry_run=dry_run)})
    if interrupted is not None:
        raise ImportInterruptedError(
            f"Reading the contacts failed part-way ({interrupted[:200]}) after {result.requested} entries. "
            f"{result.message}",
            result,
        )
    return result


def summarise(result: ImportReport, *, dry_run: bool = False) -> str:
    """One sentence a person can read: what changed, what did not and why, and what to do about it."""
    parts = [
        f"{n} {what}"
        for n, what in (
            (result.already_in_group, "already in it (not sent)"),
            (result.invalid, "invalid"),
            (result.duplicates, "repeated in the list"),
            (result.rejected, "refused or not sent"),
            (result.unknown, "sent without an answer"),
        )
        if n
    ]
    rest = f"; {', '.join(parts)}" if parts else ""
    if dry_run:
        head = (
            f"Dry run, nothing was sent: {result.new} of {result.requested} would be added to group {result.group_id}"
        )
    else:
        head = f"Added {result.created} of {result.requested} contacts to group {result.group_id}"
    tail = ""
    if result.unknown:
        tail = (
            " Run the same import again to finish: numbers that arrived are found in the group and skipped,"
            " so nothing is added twice."
        )
    return f"{head}{rest}.{tail}"
