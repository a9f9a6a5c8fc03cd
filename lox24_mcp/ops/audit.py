"""The audit trail: one JSON line for every destructive decision, whatever it was.

Each record says when, what operation, on which selection (phone filters masked), how many SMS
matched, how the decision was confirmed (or why it was not), which client asked, what came of
it, and LOX24's request ids. It goes to the `lox24_mcp.audit` logger at INFO (stderr), and, when
`LOX24_MCP_AUDIT_LOG` names a file, is appended there and fsync'ed before the call returns.

Never in a record: phone numbers in clear, SMS texts, confirmation tokens, card secrets, API keys.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio

from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.lox24.phones import mask

logger = logging.getLogger("lox24_mcp.audit")

#: How a destructive decision was reached. The first four let it happen; the rest did not.
Confirmation = Literal[
    "dialog",  # the user said yes in an elicitation dialog
    "app_click",  # the user clicked "Cancel N SMS" in the confirmation card
    "token",  # the model came back with a valid confirmation token (the model asked the user)
    "policy_off",  # LOX24_MCP_CONFIRM=off: no confirmation by design
    "declined",  # the user said no, dismissed the dialog, or clicked "Keep them"
    "expired",  # a token or card secret came back too late
    "refused",  # refused before asking: wrong or tampered token/secret, no way to ask under the policy
]

#: What came of it: "cancelled", "not_cancelled" (nothing was sent to LOX24), "unknown" (sent, no answer),
#: "failed" (LOX24 refused it).
Outcome = Literal["cancelled", "not_cancelled", "unknown", "failed"]


@dataclass(frozen=True)
class AuditRecord:
    """One decision. `selection` is a summary with phone filters masked; `reason` is one sentence."""

    operation: str
    selection: str
    matched: int | None
    confirmation: Confirmation
    outcome: Outcome
    cancelled: int | None = None
    client: str | None = None
    #: LOX24's public client id of the account the request ran as (with per-request credentials, the caller's).
    account: str | None = None
    request_ids: list[str] = field(default_factory=list)
    reason: str | None = None
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        data = asdict(self)  # every key in every line, null where it does not apply
        return json.dumps({"time": data.pop("time"), **data}, ensure_ascii=False, separators=(",", ":"))


def selection_summary(filters: SmsFilters, *, cancel_all_pending: bool = False) -> str:
    """The filters as `SmsFilters.summary()` writes them, with any phone filter masked."""
    masked = filters
    if isinstance(filters.phone, str):
        masked = filters.model_copy(update={"phone": mask(filters.phone)})
    text = masked.summary()
    return f"{text} (cancel_all_pending)" if cancel_all_pending else text


def client_label(name: str | None, version: str | None) -> str | None:
    """`name/version` as the client announced itself (untrusted: shortened, control characters dropped)."""
    if not name:
        return None
    label = f"{name}/{version}" if version else name
    return "".join(ch for ch in label if ch.isprintable())[:80]


class AuditLog:
    """Writes `AuditRecord`s to the log and, if `path` is set, appends them to that file.

    Args:
        path: the file to append to (created if missing, mode 0600); None for the log only.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AuditLog(path={self._path!r})"

    @property
    def path(self) -> Path | None:
        return self._path

    def write(self, record: AuditRecord) -> None:
        """Log the record and append it to the file, fsync'ed. Blocking: use `record()` from async code."""
        line = record.to_json()
        logger.info("%s", line)
        if self._path is None:
            return
        try:
            with self._lock:
                fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, (line + "\n").encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            # What happened has happened; the record is still on stderr above.
            logger.error("could not append to the audit file %s (%s)", self._path, exc.strerror or exc)

    def ensure_writable(self) -> None:
        """Open the file for appending once, at start-up, so a bad path stops the server, not a cancel.

        Raises:
            OSError: the file cannot be created or appended to.
        """
        if self._path is not None:
            os.close(os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))

    async def record(self, record: AuditRecord) -> None:
        """`write()` on a worker thread, so an fsync never stalls other calls."""
        if self._path is None:
            self.write(record)
        else:
            await anyio.to_thread.run_sync(self.write, record)
