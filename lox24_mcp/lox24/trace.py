"""LOX24's request ids, collected for the code that asked: the audit trail quotes them.

`Lox24Client` notes the `X-LOX24-REQUEST-ID` of every answer; `collect_request_ids()` gathers the
ones of the requests made inside it (per task, so concurrent tool calls do not mix).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_collected: ContextVar[list[str] | None] = ContextVar("lox24_request_ids", default=None)


@contextmanager
def collect_request_ids() -> Iterator[list[str]]:
    """Yield a list that fills with the request ids of LOX24's answers inside the block."""
    ids: list[str] = []
    token = _collected.set(ids)
    try:
        yield ids
    finally:
        _collected.reset(token)


def note_request_id(request_id: str | None) -> None:
    """Called by the client for every answer; a no-op outside `collect_request_ids()`."""
    ids = _collected.get()
    if ids is not None and request_id:
        ids.append(request_id)
