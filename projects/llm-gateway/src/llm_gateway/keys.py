"""API keys per tenant, stored only as SHA-256 hashes in SQLite.

A key is `sk-` + 32 random bytes (urlsafe base64), shown once by `keys create` and never stored.
Lookup hashes the presented key and finds the row by that hash (an index look-up, so the time does
not depend on how many characters of some stored key match), then confirms with
`hmac.compare_digest`. Revoking sets `revoked_at`; a revoked key authenticates as nothing.
Per-key limits (rpm, tpm, token quota) live beside the hash; the tenant's come from the config.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from llm_shared import UserError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    rpm INTEGER, tpm INTEGER, token_quota INTEGER,
    created_at REAL NOT NULL,
    revoked_at REAL
)"""


@dataclass(frozen=True)
class KeyRecord:
    id: int
    tenant: str
    prefix: str  # the first characters, so a person can tell keys apart in `keys list`
    rpm: int | None
    tpm: int | None
    token_quota: int | None
    revoked: bool


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise UserError(f"folder of the key database {self.path} does not exist; create it")
        # One connection per store, used from the event loop's thread and `keys` commands; the
        # gateway's look-ups are tiny, so serialising them costs nothing measurable.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def create(self, tenant: str, *, rpm: int | None = None, tpm: int | None = None,
               token_quota: int | None = None) -> tuple[str, KeyRecord]:
        if not tenant or not tenant.replace("-", "").replace("_", "").isalnum():
            raise UserError(f"tenant {tenant!r} must be letters, digits, '-' or '_'")
        for name, value in (("rpm", rpm), ("tpm", tpm), ("token-quota", token_quota)):
            if value is not None and value <= 0:
                raise UserError(f"--{name} must be a positive integer (got {value})")
        key = "sk-" + secrets.token_urlsafe(32)
        cursor = self._db.execute(
            "INSERT INTO keys (tenant, key_hash, prefix, rpm, tpm, token_quota, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tenant, hash_key(key), key[:7], rpm, tpm, token_quota, time.time()))
        return key, self._record(cursor.lastrowid)

    def _record(self, key_id: int | None) -> KeyRecord:
        row = self._db.execute("SELECT id, tenant, prefix, rpm, tpm, token_quota, revoked_at "
                               "FROM keys WHERE id = ?", (key_id,)).fetchone()
        if row is None:
            raise UserError(f"no key with id {key_id}; `llm-gateway keys list` shows the ids")
        return KeyRecord(*row[:6], revoked=row[6] is not None)

    def authenticate(self, key: str | None) -> KeyRecord | None:
        """The key's record if it is known and not revoked, else None."""
        if not key:
            return None
        digest = hash_key(key)
        row = self._db.execute("SELECT id, key_hash, revoked_at FROM keys WHERE key_hash = ?",
                               (digest,)).fetchone()
        if row is None or not hmac.compare_digest(row[1], digest) or row[2] is not None:
            return None
        return self._record(row[0])

    def revoke(self, key_id: int) -> KeyRecord:
        record = self._record(key_id)
        self._db.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                         (time.time(), key_id))
        return KeyRecord(**{**record.__dict__, "revoked": True})

    def list(self) -> list[KeyRecord]:
        ids = [r[0] for r in self._db.execute("SELECT id FROM keys ORDER BY id")]
        return [self._record(i) for i in ids]

    def close(self) -> None:
        self._db.close()
