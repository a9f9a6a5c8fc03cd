"""The sandbox's state: SMS, groups and phones in SQLite, recorded requests, auth lock-outs and faults."""

from __future__ import annotations

import dataclasses
import hmac
import math
import random
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lox24_mcp.sandbox.store import Store
from lox24_mcp.sandbox.validation import is_unicode_text, iso2_for, parts_for, price_for

#: The sandbox's API token (`clientId:apiKey`). Public on purpose: it only opens the local sandbox.
DEMO_TOKEN: str = "1000001:sandbox-demo-key-0000000000000000"  # noqa: S105 - public by design

#: LOX24: more than this many failed logins from one IP within `AUTH_WINDOW` seconds block the IP.
AUTH_MAX_FAILURES = 3
AUTH_WINDOW = 60.0
AUTH_BLOCK_SECONDS = 600.0

STATUS_NEW = 0
STATUS_SENT = 100
DLR_NONE = 0
DLR_DELIVERED = 1


@dataclass
class Faults:
    """Faults injected into the sandbox's answers; mutable at runtime and read on every request.

    Rates are shares of requests (0.0–1.0). Draws come from `random.Random(seed)`, so a run is repeatable;
    assigning a new `seed` (or a new `Faults`) restarts the sequence.
    """

    #: Seconds of added latency before each answer (an asyncio sleep: other requests are not blocked).
    latency: float = 0.0
    #: Share of requests answered with `error_status` before any processing.
    error_rate: float = 0.0
    error_status: int = 503
    #: Share of requests whose connection is closed with no response, before any processing.
    drop_rate: float = 0.0
    #: Share of requests delayed by `slow_seconds` before processing; if the client has gone by then,
    #: nothing is processed (as when a client times out on a slow gateway).
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    #: Share of requests that are carried out and then answered with `after_status` instead of the real
    #: answer (a gateway timing out on a backend that did the work: the client cannot know the outcome).
    after_rate: float = 0.0
    after_status: int = 502
    #: Share of requests that are carried out and then lose their answer (the connection is closed).
    drop_after_rate: float = 0.0
    seed: int = 0
    #: If non-empty, faults apply only to requests whose path starts with one of these.
    only_paths: tuple[str, ...] = ()
    #: Faults never apply to requests whose path starts with one of these.
    skip_paths: tuple[str, ...] = ()

    def applies_to(self, path: str) -> bool:
        """Whether faults apply to a request for `path`."""
        if self.skip_paths and path.startswith(self.skip_paths):
            return False
        return not self.only_paths or path.startswith(self.only_paths)


@dataclass(frozen=True)
class FaultPlan:
    """What the faults decided for one request."""

    latency: float = 0.0
    drop: bool = False
    error_status: int | None = None
    slow_seconds: float = 0.0
    after_status: int | None = None
    drop_after: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sandbox received."""

    method: str
    path: str
    #: The raw query string exactly as received (still percent-encoded).
    query: str
    #: Header names in lower case; repeated headers joined with ", ".
    headers: dict[str, str]
    body: bytes
    #: The status answered; 0 if the connection was dropped (or the answer is still pending).
    status: int


@dataclass
class _AuthRecord:
    failures: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


class SandboxState:
    """All sandbox state, thread-safe: the server thread and the test thread may use it at once.

    Args:
        token: the accepted `X-LOX24-AUTH-TOKEN` (`clientId:apiKey`).
        seed_demo_data: create the demo groups, phones and SMS (relative to `clock()` now).
        clock: unix time in seconds; tests pass a fake one to fast-forward the auth lock-out.
        faults: injected faults (default: none); `state.faults` can be changed or replaced at any time.
        page_size: items per collection page (API Platform's default is 30).
        hydra_prefix: JSON-LD keys as `hydra:member`/`hydra:totalItems` (True) or API Platform 3's
            `member`/`totalItems` (False).
        omit_totals: leave `totalItems` out of collections (LOX24's spec makes it optional).
        max_batch_items: larger phone batches are refused with 413.
        duplicates: what a phone batch does with a number the group already holds (or that comes twice in
            one batch): `"reject"` it per item (422), or `"store"` it again. LOX24 does not document which
            it does, so an importer must be safe under both.
        export_delimiter, export_bom: the form of `GET /groups/{id}/file/csv` (LOX24 documents neither).
        db_path: an SQLite file instead of memory, so a sandbox process that is killed and restarted keeps
            what it committed.

    The state holds an SQLite connection: whoever creates it closes it, with `close()` or as a context
    manager (`with SandboxState() as state, SandboxServer(state) as server:`); a `SandboxServer` closes only
    a state it created itself.
    """

    def __init__(
        self,
        *,
        token: str = DEMO_TOKEN,
        seed_demo_data: bool = True,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
        page_size: int = 30,
        hydra_prefix: bool = True,
        max_batch_items: int = 10_000,
        duplicates: Literal["reject", "store"] = "reject",
        export_delimiter: str = ",",
        export_bom: bool = False,
        db_path: str = ":memory:",
        omit_totals: bool = False,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.token = token
        self.clock = clock
        self.faults = faults if faults is not None else Faults()
        self.page_size = page_size
        self.hydra_prefix = hydra_prefix
        self.omit_totals = omit_totals
        self.max_batch_items = max_batch_items
        self.duplicates = duplicates
        self.export_delimiter = export_delimiter
        self.export_bom = export_bom
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._auth: dict[str, _AuthRecord] = {}
        #: Further accounts (token -> their own data), for multi-tenant tests; see `add_account`.
        self.accounts: dict[str, SandboxState] = {}
        self._rng = random.Random()  # noqa: S311 - fault injection, not security
        self._rng_for: tuple[int, int] | None = None
        self.store = Store(db_path)
        if seed_demo_data:
            from lox24_mcp.sandbox.seed import seed_demo_data as seed

            try:
                seed(self)
            except BaseException:
                self.store.close()
                raise

    def __enter__(self) -> SandboxState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SandboxState(sms={len(self.all_sms())}, groups={len(self.groups())}, requests={len(self.requests)})"

    def now(self) -> int:
        """The sandbox clock in whole unix seconds."""
        return int(self.clock())

    # ------------------------------------------------------------------ requests

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            # A new list rather than clear(): requests still in flight finish into the old one.
            self.requests = []

    def begin_request(self, request: RecordedRequest) -> tuple[list[RecordedRequest], int]:
        """Record a request on arrival (so the order is arrival order); returns a slot for `answer_request`."""
        with self._lock:
            self._in_flight += 1
            log = self.requests
            log.append(request)
            return log, len(log) - 1

    def answer_request(self, slot: tuple[list[RecordedRequest], int], status: int) -> None:
        """Store the status a request is answered with (called before the answer is sent, so a client that
        has its answer always finds the status recorded)."""
        log, index = slot
        with self._lock:
            log[index] = dataclasses.replace(log[index], status=status)

    def finish_request(self) -> None:
        """Mark a request as no longer being handled (see `wait_idle`)."""
        with self._lock:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being handled; False if `timeout` seconds pass first.

        Lets a test whose client gave up (a timeout, a dropped connection) know the server is done with the
        request before asserting that nothing was processed.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    # ------------------------------------------------------------------ faults

    def plan_faults(self, path: str) -> FaultPlan:
        """Draw this request's faults (deterministic for a given `Faults.seed`)."""
        with self._lock:
            faults = self.faults
            if not faults.applies_to(path):
                return FaultPlan()
            key = (id(faults), faults.seed)
            if self._rng_for != key:
                self._rng.seed(faults.seed)
                self._rng_for = key
            # Always three draws, so one rate's setting does not shift the others' sequence.
            drop, error, slow = self._rng.random(), self._rng.random(), self._rng.random()
            # Drawn only when asked for, so seeded sequences of the three above stay as they were.
            after = self._rng.random() if faults.after_rate else 1.0
            drop_after = self._rng.random() if faults.drop_after_rate else 1.0
            return FaultPlan(
                latency=max(0.0, faults.latency),
                drop=drop < faults.drop_rate,
                error_status=faults.error_status if error < faults.error_rate else None,
                slow_seconds=max(0.0, faults.slow_seconds) if slow < faults.slow_rate else 0.0,
                after_status=faults.after_status if after < faults.after_rate else None,
                drop_after=drop_after < faults.drop_after_rate,
            )

    # ------------------------------------------------------------------ auth

    def check_auth(self, ip: str, token: str | None) -> tuple[int, float]:
        """LOX24's auth rule: (200, 0) if allowed, (401, 0) for a bad token, (429, retry_after) while blocked.

        More than 3 failures from one IP within 60 s block that IP for 600 s, good token or not.
        """
        now = self.clock()
        with self._lock:
            record = self._auth.setdefault(ip, _AuthRecord())
            if record.blocked_until > now:
                return 429, record.blocked_until - now
            if token is not None and self.account_for(token) is not None:
                return 200, 0.0
            record.failures = [t for t in record.failures if t > now - AUTH_WINDOW]
            record.failures.append(now)
            if len(record.failures) > AUTH_MAX_FAILURES:
                record.failures.clear()
                record.blocked_until = now + AUTH_BLOCK_SECONDS
            return 401, 0.0

    def account_for(self, token: str) -> SandboxState | None:
        """The account a token opens: this one, one added with `add_account`, or None."""
        if hmac.compare_digest(token.encode(), self.token.encode()):
            return self
        for other, account in self.accounts.items():
            if hmac.compare_digest(token.encode(), other.encode()):
                return account
        return None

    def close(self) -> None:
        """Close the databases of this account and of those added with `add_account`; idempotent. The state
        cannot be read or served afterwards."""
        for account in self.accounts.values():
            account.close()
        self.store.close()

    def add_account(self, token: str, *, seed_demo_data: bool = False) -> SandboxState:
        """Another LOX24 account behind the same API, with its own groups and SMS.

        Requests are recorded (and faults and the per-IP login block applied) here, on the first
        account, whichever account they are for: as at LOX24, the block is per calling IP.
        """
        if self.account_for(token) is not None:
            raise ValueError("that token already opens an account")
        account = SandboxState(
            token=token,
            seed_demo_data=seed_demo_data,
            clock=self.clock,
            page_size=self.page_size,
            hydra_prefix=self.hydra_prefix,
            max_batch_items=self.max_batch_items,
        )
        self.accounts[token] = account
        return account

    def unblock(self) -> None:
        """Lift every auth lock-out and forget failed attempts."""
        with self._lock:
            self._auth.clear()

    # ------------------------------------------------------------------ data

    def add_sms(
        self,
        *,
        phone: str,
        text: str,
        delivery_at: int = 0,
        sender_id: str = "LOX24",
        iso2: str | None = None,
        callback_data: str | None = None,
        bulk_id: str | None = None,
        source: int | None = None,
        key_id: int = 1,
        ip: str = "127.0.0.1",
        is_sent: bool | None = None,
        status_code: int | None = None,
        created_at: int | None = None,
        is_unicode: bool | None = None,
        dlr_code: int | None = None,
        is_text_deleted: bool = False,
    ) -> dict[str, Any]:
        """Store an SMS directly (no HTTP) and return its sms-read dict.

        Defaults: `created_at` = now; with no `is_sent`/`status_code`, an SMS whose `delivery_at` is in the
        future is pending (status 0), else sent (status 100, DLR 1, `gateway_sent_at` = the later of
        `created_at` and `delivery_at`). A given `status_code` implies `is_sent` = (status == 100).
        """
        now = self.now()
        created = now if created_at is None else created_at
        if is_sent is None:
            is_sent = status_code == STATUS_SENT if status_code is not None else delivery_at <= now
        if status_code is None:
            status_code = STATUS_SENT if is_sent else STATUS_NEW
        if dlr_code is None:
            dlr_code = DLR_DELIVERED if is_sent and status_code == STATUS_SENT else DLR_NONE
        unicode = is_unicode_text(text) if is_unicode is None else is_unicode
        parts = parts_for(text, unicode=unicode)
        row: dict[str, Any] = {
            "uuid": str(uuid_module.uuid4()),
            "text": text,
            "sender_id": sender_id,
            "phone": phone,
            "delivery_at": delivery_at,
            "status_code": status_code,
            "dlr_code": dlr_code,
            "gateway_sent_at": max(created, delivery_at) if is_sent else 0,
            "created_at": created,
            "is_sent": is_sent,
            "is_unicode": unicode,
            "is_text_deleted": is_text_deleted,
            "iso2": iso2 or iso2_for(phone),
            "parts_count": parts,
            "chars_count": len(text),
            "price": price_for(parts),
            "source": source,
            "callback_data": callback_data,
            "bulk_id": bulk_id,
            "key_id": key_id,
            "ip": ip,
            "service_code": "direct",
            "voice_lang": None,
        }
        self.store.insert_sms(row)
        return self.sms(row["uuid"])

    def sms(self, uuid: str) -> dict[str, Any]:
        """One SMS as an sms-read dict; KeyError if unknown."""
        found = self.store.get_sms(uuid)
        if found is None:
            raise KeyError(uuid)
        return found

    def all_sms(self) -> list[dict[str, Any]]:
        """Every SMS as sms-read dicts, in insertion order."""
        return self.store.all_sms()

    def add_group(
        self, name: str, description: str | None = None, *, columns: Mapping[str, str | None] | None = None
    ) -> int:
        """Create a group; returns its id. `columns` names the contact columns: `{"a": "Vorname", ...}`."""
        names = {f"name_{letter}": caption for letter, caption in (columns or {}).items()}
        if set(names) - {f"name_{c}" for c in "abcde"}:
            raise ValueError(f"columns are a to e, not {sorted(columns or {})}")
        return self.store.add_group({"name": name, "description": description, **names})

    def add_phones(self, group_id: int, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store phones in a group directly (no validation, no duplicates check); returns phone-read dicts."""
        return self.store.insert_phones(group_id, entries, self.now())

    def group_phones(self, group_id: int) -> list[dict[str, Any]]:
        """A group's phones as phone-read dicts (ids as strings), in insertion order; KeyError if no such group."""
        if not self.store.group_exists(group_id):
            raise KeyError(group_id)
        return self.store.list_phones(group_id)[0]

    def groups(self) -> list[dict[str, Any]]:
        """Every group as a group-read dict, by id."""
        return self.store.list_groups()[0]


def retry_after_header(seconds: float) -> str:
    """A `Retry-After` value in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
