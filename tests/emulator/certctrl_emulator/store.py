"""SQLite state behind one lock. ``path=None`` keeps it in memory (gone on stop)."""

import json
import sqlite3
import threading
import time

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
"""


def now_ms():
    return int(time.time() * 1000)


def now_s():
    return int(time.time())


class Store:
    def __init__(self, path=None):
        self.path = path
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        with self.lock:
            if path:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)

    def close(self):
        with self.lock:
            self.db.close()

    # -- low level -------------------------------------------------------
    def all(self, sql, args=()):
        with self.lock:
            return [dict(r) for r in self.db.execute(sql, args).fetchall()]

    def one(self, sql, args=()):
        with self.lock:
            row = self.db.execute(sql, args).fetchone()
            return dict(row) if row else None

    def run(self, sql, args=()):
        """Execute a write; returns lastrowid."""
        with self.lock:
            return self.db.execute(sql, args).lastrowid

    def many(self, sql, rows):
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self.db.executemany(sql, rows)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def insert(self, table, values):
        cols = ", ".join(values)
        marks = ", ".join("?" for _v in values)
        return self.run(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))

    def update(self, table, ident, values):
        if values:
            sets = ", ".join(f"{k} = ?" for k in values)
            self.run(f"UPDATE {table} SET {sets} WHERE id = ?", (*tuple(values.values()), ident))

    def meta_get(self, key):
        row = self.one("SELECT v FROM meta WHERE k = ?", (key,))
        return json.loads(row["v"]) if row else None

    def meta_set(self, key, value):
        self.run("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, json.dumps(value)))
