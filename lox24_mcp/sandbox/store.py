"""SQLite storage of the sandbox: schema, row mapping and the queries the API needs.

Every method takes the store's lock, so one `Store` can be shared by the server thread and the test
thread. The connection is in autocommit mode; multi-statement writes open their own transaction.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: A value that can be bound to an SQLite parameter.
SqlValue = int | float | str | bytes | None

#: Columns of the `sms` table in the order of the LOX24 sms-read object (derived IRIs excluded).
SMS_COLUMNS: tuple[str, ...] = (
    "uuid",
    "text",
    "sender_id",
    "phone",
    "delivery_at",
    "status_code",
    "dlr_code",
    "gateway_sent_at",
    "created_at",
    "is_sent",
    "is_unicode",
    "is_text_deleted",
    "iso2",
    "parts_count",
    "chars_count",
    "price",
    "source",
    "callback_data",
    "bulk_id",
    "key_id",
    "ip",
    "service_code",
    "voice_lang",
)
_SMS_BOOL_COLUMNS = frozenset({"is_sent", "is_unicode", "is_text_deleted"})

#: Phone-write fields besides `phone`.
PHONE_COLUMNS: tuple[str, ...] = ("a", "b", "c", "d", "e", "callback_data")

#: Status code of an SMS stopped through the API (LOX24 status table).
STATUS_CANCELLED_VIA_API = 6000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sms (
    seq INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    phone TEXT NOT NULL,
    delivery_at INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    dlr_code INTEGER NOT NULL,
    gateway_sent_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    is_sent INTEGER NOT NULL,
    is_unicode INTEGER NOT NULL,
    is_text_deleted INTEGER NOT NULL,
    iso2 TEXT NOT NULL,
    parts_count INTEGER NOT NULL,
    chars_count INTEGER NOT NULL,
    price REAL NOT NULL,
    source INTEGER,
    callback_data TEXT,
    bulk_id TEXT,
    key_id INTEGER NOT NULL,
    ip TEXT NOT NULL,
    service_code TEXT NOT NULL,
    voice_lang TEXT
);
CREATE INDEX IF NOT EXISTS sms_created ON sms (created_at, uuid);
CREATE INDEX IF NOT EXISTS sms_pending ON sms (is_sent, status_code);
CREATE INDEX IF NOT EXISTS sms_callback ON sms (callback_data);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    name_a TEXT, name_b TEXT, name_c TEXT, name_d TEXT, name_e TEXT
);
CREATE TABLE IF NOT EXISTS phones (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups (id),
    phone TEXT NOT NULL,
    a TEXT, b TEXT, c TEXT, d TEXT, e TEXT,
    callback_data TEXT,
    subscribed_at INTEGER,
    unsubscribed_at INTEGER,
    unsubscribe_reason INTEGER
);
-- Not UNIQUE: whether LOX24 refuses or stores a number sent twice is undocumented, and the sandbox can
-- model either (`SandboxState(duplicates=...)`).
CREATE INDEX IF NOT EXISTS phones_by_group ON phones (group_id, phone);
"""

# SQLite caps the number of bound parameters per statement; stay well below every version's limit.
_IN_CHUNK = 900


def _lower(value: object) -> str | None:
    # SQLite's lower() folds ASCII only; LOX24's partial filters are case-insensitive for "Müller" too.
    return None if value is None else str(value).lower()


def sms_row_to_dict(row: sqlite3.Row) -> dict[str, Any]:
    """The LOX24 sms-read object (plain JSON form) for one `sms` row."""
    data: dict[str, Any] = {}
    for column in SMS_COLUMNS:
        value = row[column]
        data[column] = bool(value) if column in _SMS_BOOL_COLUMNS else value
    if data["is_text_deleted"]:
        data["text"] = ""
    data["requests"] = f"/sms/{data['uuid']}/requests"
    data["clicks"] = f"/sms/{data['uuid']}/clicks"
    return data


def phone_row_to_dict(row: sqlite3.Row) -> dict[str, Any]:
    """The LOX24 phone-read object for one `phones` row; `id` is a string as in spec 2.22."""
    return {
        "id": str(row["id"]),
        "phone": row["phone"],
        **{column: row[column] for column in PHONE_COLUMNS},
        "subscribed_at": row["subscribed_at"],
        "unsubscribed_at": row["unsubscribed_at"],
        "unsubscribe_reason": row["unsubscribe_reason"],
    }


def group_row_to_dict(row: sqlite3.Row) -> dict[str, Any]:
    """The LOX24 group-read object for one `groups` row joined with its phone count."""
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        **{f"name_{c}": row[f"name_{c}"] for c in "abcde"},
        "count_items": row["count_items"],
        "deleted_at": None,
    }


_GROUP_SELECT = "SELECT g.*, (SELECT count(*) FROM phones p WHERE p.group_id = g.id) AS count_items FROM groups g"


class Store:
    """The sandbox database: an SQLite connection (in memory by default) guarded by a lock."""

    def __init__(self, path: str = ":memory:") -> None:
        # A file `path` survives the process: a sandbox killed mid-request (`kill -9`) reopens it with
        # every committed batch and none of the one it was writing (SQLite's journal rolls it back).
        # The server thread and the caller's thread share the connection; the lock serialises them.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.create_function("sbx_lower", 1, _lower, deterministic=True)
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def __del__(self) -> None:
        # A store dropped without close(): close it here, or Python 3.13 warns (ResourceWarning) about an
        # unclosed database wherever the garbage collector happens to run.
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    # ------------------------------------------------------------------ sms

    def insert_sms(self, row: Mapping[str, Any]) -> None:
        """Insert one SMS; `row` holds every column of `SMS_COLUMNS`."""
        placeholders = ", ".join("?" for _ in SMS_COLUMNS)
        values = [int(row[c]) if c in _SMS_BOOL_COLUMNS else row[c] for c in SMS_COLUMNS]
        with self._lock:
            self._db.execute(f"INSERT INTO sms ({', '.join(SMS_COLUMNS)}) VALUES ({placeholders})", values)  # noqa: S608

    def get_sms(self, uuid: str) -> dict[str, Any] | None:
        """One SMS by uuid, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM sms WHERE uuid = ?", (uuid,)).fetchone()
        return None if row is None else sms_row_to_dict(row)

    def all_sms(self) -> list[dict[str, Any]]:
        """Every SMS in insertion order."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM sms ORDER BY seq").fetchall()
        return [sms_row_to_dict(r) for r in rows]

    def search_sms(
        self, where: str, params: Sequence[SqlValue], order_by: str, *, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of SMS matching `where` (built by `filters`, never from raw input), and the total."""
        with self._lock:
            total = int(self._db.execute(f"SELECT count(*) FROM sms WHERE {where}", params).fetchone()[0])  # noqa: S608
            if offset >= total:
                return [], total
            rows = self._db.execute(
                f"SELECT * FROM sms WHERE {where} ORDER BY {order_by} LIMIT ? OFFSET ?",  # noqa: S608
                (*params, limit, offset),
            ).fetchall()
        return [sms_row_to_dict(r) for r in rows], total

    def cancel_sms(self, where: str, params: Sequence[SqlValue]) -> int:
        """Set status 6000 on the unsent SMS matching `where`; returns how many changed."""
        with self._lock:
            cursor = self._db.execute(
                f"UPDATE sms SET status_code = ? WHERE ({where}) AND is_sent = 0 AND status_code = 0",  # noqa: S608
                (STATUS_CANCELLED_VIA_API, *params),
            )
            return cursor.rowcount

    # ------------------------------------------------------------------ groups

    def add_group(self, fields: Mapping[str, Any]) -> int:
        """Create a group from group-write fields; returns its id."""
        columns = ("name", "description", "name_a", "name_b", "name_c", "name_d", "name_e")
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO groups (name, description, name_a, name_b, name_c, name_d, name_e) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [fields.get(c) for c in columns],
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def get_group(self, group_id: int) -> dict[str, Any] | None:
        """One group with its phone count, or None."""
        with self._lock:
            row = self._db.execute(f"{_GROUP_SELECT} WHERE g.id = ?", (group_id,)).fetchone()
        return None if row is None else group_row_to_dict(row)

    def list_groups(self, *, limit: int | None = None, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Groups by id, one page (or all), and the total."""
        with self._lock:
            total = int(self._db.execute("SELECT count(*) FROM groups").fetchone()[0])
            if offset >= total:
                return [], total
            rows = self._db.execute(
                f"{_GROUP_SELECT} ORDER BY g.id LIMIT ? OFFSET ?", (-1 if limit is None else limit, offset)
            ).fetchall()
        return [group_row_to_dict(r) for r in rows], total

    def group_exists(self, group_id: int) -> bool:
        """Whether the group exists."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchone() is not None

    def list_phones(
        self, group_id: int, *, limit: int | None = None, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """A group's phones by id, one page (or all), and the total."""
        with self._lock:
            total = int(self._db.execute("SELECT count(*) FROM phones WHERE group_id = ?", (group_id,)).fetchone()[0])
            if offset >= total:
                return [], total
            rows = self._db.execute(
                "SELECT * FROM phones WHERE group_id = ? ORDER BY id LIMIT ? OFFSET ?",
                (group_id, -1 if limit is None else limit, offset),
            ).fetchall()
        return [phone_row_to_dict(r) for r in rows], total

    def existing_phones(self, group_id: int, phones: Iterable[str]) -> set[str]:
        """Which of `phones` the group already holds (an indexed lookup, not a scan of the group)."""
        wanted = list(dict.fromkeys(phones))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                rows = self._db.execute(
                    f"SELECT phone FROM phones WHERE group_id = ? AND phone IN ({marks})",  # noqa: S608
                    (group_id, *chunk),
                )
                found.update(r[0] for r in rows)
        return found

    def insert_phones(
        self, group_id: int, entries: Sequence[Mapping[str, Any]], subscribed_at: int
    ) -> list[dict[str, Any]]:
        """Insert phones (already validated, not yet in the group) in one transaction; returns phone-read dicts."""
        if not entries:
            return []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                first = int(self._db.execute("SELECT coalesce(max(id), 0) + 1 FROM phones").fetchone()[0])
                # Ids are assigned here rather than read back, so one executemany covers the whole batch.
                rows = [
                    (first + i, group_id, e["phone"], *(e.get(c) for c in PHONE_COLUMNS), subscribed_at)
                    for i, e in enumerate(entries)
                ]
                self._db.executemany(
                    "INSERT INTO phones (id, group_id, phone, a, b, c, d, e, callback_data, subscribed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return [
            {
                "id": str(row[0]),
                "phone": row[2],
                **dict(zip(PHONE_COLUMNS, row[3:9], strict=True)),
                "subscribed_at": subscribed_at,
                "unsubscribed_at": None,
                "unsubscribe_reason": None,
            }
            for row in rows
        ]


def page_count(total: int, page_size: int) -> int:
    """Number of pages for `total` items (at least 1, as API Platform's `hydra:last` is page 1 when empty)."""
    return max(1, math.ceil(total / page_size))
