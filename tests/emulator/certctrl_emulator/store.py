"""SQLite state behind one lock. ``path=None`` keeps it in memory (gone on stop).

Every statement of the emulator is here: handlers, the worker and the ACME backend call the named queries below."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

Row = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS api_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, token TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL, scopes TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS devices (
  id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, device_public_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL, status TEXT NOT NULL, platform TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS cas (
  id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, name TEXT NOT NULL,
  key_pem TEXT, cert_pem TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS acme_accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
  provider TEXT NOT NULL, ca_id INTEGER NOT NULL DEFAULT 0, kid TEXT, leaf_key_algorithm TEXT,
  leaf_rsa_bits INTEGER, leaf_ec_curve TEXT, cert_valid_seconds INTEGER, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS certificates (
  id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, domain_name TEXT NOT NULL,
  acct_id INTEGER NOT NULL, sans TEXT NOT NULL, cert TEXT NOT NULL DEFAULT '', der TEXT NOT NULL DEFAULT '',
  csr TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  organization TEXT NOT NULL DEFAULT '', organizational_unit TEXT NOT NULL DEFAULT '',
  country TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT '', locality TEXT NOT NULL DEFAULT '',
  serial_number TEXT NOT NULL DEFAULT '', public_id TEXT NOT NULL, verified INTEGER NOT NULL DEFAULT 0,
  key_dist_policy TEXT NOT NULL, server_decrypt_export INTEGER NOT NULL DEFAULT 1,
  self_signed INTEGER NOT NULL DEFAULT 0, key_algorithm TEXT NOT NULL, key_pem TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS issue_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT, cert_record_id INTEGER NOT NULL, issue_attempt_number INTEGER NOT NULL,
  status TEXT NOT NULL, acme_order_id TEXT NOT NULL DEFAULT '', error_message TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL DEFAULT 0, completed_at INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS ih_cert ON issue_history (cert_record_id);
CREATE TABLE IF NOT EXISTS acme_registrations (
  acct_id INTEGER NOT NULL, directory TEXT NOT NULL, key_pem TEXT NOT NULL, uri TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL, PRIMARY KEY (acct_id, directory));
CREATE TABLE IF NOT EXISTS assignments (
  device_id INTEGER NOT NULL, certificate_id INTEGER NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, certificate_id));
CREATE TABLE IF NOT EXISTS cert_record_devices (
  certificate_id INTEGER NOT NULL, device_id INTEGER NOT NULL, wrap_alg TEXT NOT NULL, device_keyfp TEXT NOT NULL,
  enc_data_key TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (certificate_id, device_id));
"""
# Columns added after the first release, so that a --db file of an older emulator gains them at start: the device
# key and the agent's registration fields; the encrypted key of DEVICE_REQUIRED certificates (keywrap.py).
_TEXT = "TEXT NOT NULL DEFAULT ''"
ADDED_COLUMNS = {
    "devices": {"dev_pk": _TEXT, "device_keyfp": _TEXT, "app_version": _TEXT, "ip": _TEXT, "user_agent": _TEXT},
    "certificates": {
        "enc_scheme": "INTEGER NOT NULL DEFAULT 0",
        "enc_privkey": _TEXT,
        "privkey_nonce": _TEXT,
        "privkey_tag": _TEXT,
        "master_wrapped_key": _TEXT,
    },
}


def now_ms() -> int:
    return int(time.time() * 1000)


def now_s() -> int:
    return int(time.time())


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        with self.lock:
            if path:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self._add_columns()

    def _add_columns(self) -> None:
        for table, columns in ADDED_COLUMNS.items():
            have = {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}
            for name, decl in columns.items():
                if name not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- low level -------------------------------------------------------
    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self.lock:
            return [dict(r) for r in self.db.execute(sql, args).fetchall()]

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        with self.lock:
            row = self.db.execute(sql, args).fetchone()
            return dict(row) if row else None

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Execute a write; returns lastrowid."""
        with self.lock:
            return self.db.execute(sql, args).lastrowid

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self.db.executemany(sql, rows)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def insert(self, table: str, values: Row) -> int:
        cols = ", ".join(values)
        marks = ", ".join("?" for _v in values)
        return self.run(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))

    def insert_many(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self.many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)

    def update(self, table: str, ident: int, values: Row) -> None:
        if values:
            sets = ", ".join(f"{k} = ?" for k in values)
            self.run(f"UPDATE {table} SET {sets} WHERE id = ?", (*tuple(values.values()), ident))

    def get(self, table: str, ident: int) -> Row | None:
        return self.one(f"SELECT * FROM {table} WHERE id = ?", (ident,))

    def delete(self, table: str, ident: int) -> None:
        self.run(f"DELETE FROM {table} WHERE id = ?", (ident,))

    def of_user(self, table: str, user_id: int) -> list[Row]:
        return self.all(f"SELECT * FROM {table} WHERE user_id = ?", (user_id,))

    def next_id(self, table: str) -> int:
        """The first id free of both the rows and the AUTOINCREMENT sequence (bulk inserts choose their ids)."""
        start = (self.one(f"SELECT COALESCE(MAX(id), 0) AS m FROM {table}")["m"] or 0) + 1
        seq = self.one("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
        return max(start, (seq["seq"] if seq else 0) + 1)

    def meta_get(self, key: str) -> Any:
        row = self.one("SELECT v FROM meta WHERE k = ?", (key,))
        return json.loads(row["v"]) if row else None

    def meta_set(self, key: str, value: Any) -> None:
        self.run("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, json.dumps(value)))

    def secret(self, name: str, size: int) -> bytes:
        """A random secret of ``size`` bytes made on first use and kept (a --db file keeps it across restarts)."""
        with self.lock:
            value = self.meta_get(name)
            if value is None:
                value = base64.b64encode(os.urandom(size)).decode()
                self.meta_set(name, value)
            return base64.b64decode(value)

    # -- users, API keys, CAs ---------------------------------------------
    def users(self) -> list[Row]:
        return self.all("SELECT id, name, email FROM users ORDER BY id")

    def api_keys(self) -> list[Row]:
        return self.all("SELECT * FROM api_keys ORDER BY id")

    def api_key_by_token(self, token: str) -> Row | None:
        return self.one("SELECT * FROM api_keys WHERE token = ?", (token,))

    def api_key_by_name(self, name: str) -> Row | None:
        return self.one("SELECT * FROM api_keys WHERE name = ?", (name,))

    def api_key_taken(self, name: str, token: str) -> bool:
        return self.one("SELECT id FROM api_keys WHERE name = ? OR token = ?", (name, token)) is not None

    def cas(self) -> list[Row]:
        return self.all("SELECT id, name, user_id FROM cas ORDER BY id")

    def ca(self, ident: int, user_id: int | None = None) -> Row | None:
        if user_id is None:
            return self.get("cas", ident)
        return self.one("SELECT * FROM cas WHERE id = ? AND user_id = ?", (ident, user_id))

    def cas_without_key(self) -> list[Row]:
        return self.all("SELECT id, name FROM cas WHERE key_pem IS NULL")

    # -- ACME accounts and their registrations ------------------------------
    def account(self, ident: int, user_id: int | None = None) -> Row | None:
        if user_id is None:
            return self.get("acme_accounts", ident)
        return self.one("SELECT * FROM acme_accounts WHERE id = ? AND user_id = ?", (ident, user_id))

    def account_name_taken(self, user_id: int, name: str, exclude: int | None = None) -> bool:
        row = self.one("SELECT id FROM acme_accounts WHERE user_id = ? AND name = ? AND id != ?", (user_id, name, exclude or 0))
        return row is not None

    def registration(self, acct_id: int, directory: str) -> Row | None:
        return self.one("SELECT * FROM acme_registrations WHERE acct_id = ? AND directory = ?", (acct_id, directory))

    def set_registration_uri(self, acct_id: int, directory: str, uri: str) -> None:
        self.run("UPDATE acme_registrations SET uri = ? WHERE acct_id = ? AND directory = ?", (uri, acct_id, directory))

    # -- devices -------------------------------------------------------------
    def devices(self, limit: int = 10000) -> list[Row]:
        return self.all("SELECT id, device_public_id, name, status, platform, user_id FROM devices ORDER BY id LIMIT ?", (limit,))

    def devices_of(self, user_id: int, status: str | None = None) -> list[Row]:
        if status:
            return self.all("SELECT * FROM devices WHERE user_id = ? AND status = ?", (user_id, status))
        return self.of_user("devices", user_id)

    def device_by_public_id(self, public_id: str) -> Row | None:
        return self.one("SELECT * FROM devices WHERE device_public_id = ?", (public_id,))

    def devices_of_certificate(self, cert_id: int, user_id: int) -> list[Row]:
        return self.all(
            "SELECT d.* FROM devices d JOIN assignments a ON a.device_id = d.id WHERE a.certificate_id = ? AND d.user_id = ?",
            (cert_id, user_id),
        )

    # -- certificates and assignments ---------------------------------------
    def certificates_of(self, user_id: int, acct_id: int | None = None) -> list[Row]:
        if acct_id is None:
            return self.of_user("certificates", user_id)
        return self.all("SELECT * FROM certificates WHERE user_id = ? AND acct_id = ?", (user_id, acct_id))

    def certificate_count(self, acct_id: int) -> int:
        return self.one("SELECT COUNT(*) AS n FROM certificates WHERE acct_id = ?", (acct_id,))["n"]

    def certificates_of_device(self, device_id: int, user_id: int) -> list[Row]:
        return self.all(
            "SELECT c.* FROM certificates c JOIN assignments a ON a.certificate_id = c.id WHERE a.device_id = ? AND c.user_id = ?",
            (device_id, user_id),
        )

    def assigned(self, device_id: int, cert_id: int) -> bool:
        return self.one("SELECT 1 AS x FROM assignments WHERE device_id = ? AND certificate_id = ?", (device_id, cert_id)) is not None

    def assign(self, device_id: int, cert_id: int) -> bool:
        """Assign unless assigned; True when it was assigned already."""
        with self.lock:
            if self.assigned(device_id, cert_id):
                return True
            self.insert("assignments", {"device_id": device_id, "certificate_id": cert_id, "created_at": now_ms()})
            return False

    def unassign(self, device_id: int, cert_id: int) -> bool:
        """Remove the assignment (and the device's wrap of the key); False when there was none."""
        with self.lock:
            if not self.assigned(device_id, cert_id):
                return False
            self.run("DELETE FROM assignments WHERE device_id = ? AND certificate_id = ?", (device_id, cert_id))
            self.run("DELETE FROM cert_record_devices WHERE device_id = ? AND certificate_id = ?", (device_id, cert_id))
            return True

    # -- device wraps of encrypted keys (keywrap.py) ---------------------------
    def wrap_of(self, cert_id: int, device_id: int) -> Row | None:
        return self.one("SELECT * FROM cert_record_devices WHERE certificate_id = ? AND device_id = ?", (cert_id, device_id))

    def set_wrap(self, cert_id: int, device_id: int, wrap_alg: str, keyfp: str, enc_data_key: str) -> None:
        self.run(
            "INSERT OR REPLACE INTO cert_record_devices (certificate_id, device_id, wrap_alg, device_keyfp, enc_data_key, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (cert_id, device_id, wrap_alg, keyfp, enc_data_key, now_ms()),
        )

    def set_wraps(self, cert_id: int, wraps: Sequence[tuple[int, str, str, str]]) -> None:
        """Replace every wrap of the certificate by ``wraps``: (device_id, wrap_alg, keyfp, enc_data_key) each."""
        with self.lock:
            self.run("DELETE FROM cert_record_devices WHERE certificate_id = ?", (cert_id,))
            for device_id, wrap_alg, keyfp, enc_data_key in wraps:
                self.set_wrap(cert_id, device_id, wrap_alg, keyfp, enc_data_key)

    # -- issue history -------------------------------------------------------
    def issues_of(self, cert_id: int) -> list[Row]:
        return self.all("SELECT * FROM issue_history WHERE cert_record_id = ?", (cert_id,))

    def latest_issue(self, cert_id: int) -> Row | None:
        return self.one("SELECT id, status FROM issue_history WHERE cert_record_id = ? ORDER BY id DESC LIMIT 1", (cert_id,))

    def issue_count(self, cert_id: int) -> int:
        return self.one("SELECT COUNT(*) AS n FROM issue_history WHERE cert_record_id = ?", (cert_id,))["n"]

    def issue_of(self, cert_id: int, hid: int) -> Row | None:
        return self.one("SELECT * FROM issue_history WHERE id = ? AND cert_record_id = ?", (hid, cert_id))

    def issue_status(self, hid: int) -> str | None:
        row = self.one("SELECT status FROM issue_history WHERE id = ?", (hid,))
        return row["status"] if row else None

    def set_order_url(self, hid: int, url: str) -> None:
        self.run("UPDATE issue_history SET acme_order_id = ? WHERE id = ? AND status = 'PROCESSING'", (url, hid))

    def start_processing(self, hid: int, next_at: int) -> None:
        self.run("UPDATE issue_history SET status = 'PROCESSING', next_at = ? WHERE id = ? AND status = 'PENDING'", (next_at, hid))

    def fail_interrupted(self) -> None:
        """A SELF_CA row left PROCESSING by a crash cannot finish any more."""
        self.run(
            "UPDATE issue_history SET status = 'FAILED', error_message = 'interrupted by a restart', "
            "completed_at = ? WHERE status = 'PROCESSING' AND next_at = 0",
            (now_ms(),),
        )

    def asynchronous_in_flight(self) -> list[Row]:
        return self.all("SELECT id, status, next_at FROM issue_history WHERE status IN ('PENDING', 'PROCESSING') AND next_at > 0 ORDER BY id")
