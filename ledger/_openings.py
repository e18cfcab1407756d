"""The operator's internal store of openings (SPEC.md 21.3): never served to the public.

A v2 statement's sealed fields reach the log as a commitment in the entry and an opening
beside it. The log keeps the openings here, in its own database, content-addressed by the
commitment they open (the ``sealed`` value, unique by its fresh salt): a row is written
before its entry (so no entry is ever without its opening, whatever crashes), a retried
statement writes the same row again harmlessly, and nothing is ever updated or deleted.
The auditor export (``drawledger export --auditor``) is the only way out.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ledger._errors import StorageError
from verifier._canonical import dumps, loads
from verifier._sealed import Opening, commitment, parse_opening

__all__ = ["OpeningStore"]

_TABLE = "drawledger_openings"
_REQUESTS = "drawledger_auditor_requests"
_PAGE = 500


class OpeningStore:
    """``sealed`` hex -> opening, in the log's SQLite file or PostgreSQL schema."""

    def __init__(self, db: str, env: dict[str, str]) -> None:
        self._pg = db.startswith(("postgres://", "postgresql://"))
        self._db, self._env = db, env
        self._ready = False

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        if self._pg:
            import psycopg

            env = self._env
            try:
                conn = psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
                                       dbname=env["POSTGRES_DBNAME"], user=env["POSTGRES_USER"],
                                       password=env["POSTGRES_PASSWORD"], connect_timeout=10)
            except psycopg.Error as exc:
                raise StorageError(f"openings store: {exc}") from None
            with conn:
                schema = env.get("POSTGRES_SCHEMA")
                if schema:
                    conn.execute(f'SET search_path TO "{schema}"')
                yield conn
            return
        lite = sqlite3.connect(self._env["SQLITE_DBNAME"], timeout=30)
        try:
            with lite:
                yield lite
        finally:
            lite.close()

    def _create(self, conn: Any) -> None:
        if self._ready:
            return
        if self._pg:
            if conn.execute("SELECT to_regclass(%s)", (_TABLE,)).fetchone()[0] is not None:
                self._ready = True
                return
            # One creator at a time: concurrent CREATE OR REPLACE statements deadlock.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('drawledger openings'))")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (sealed text PRIMARY KEY, "
                         "opening text NOT NULL)")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_REQUESTS} (key text NOT NULL, "
                         "sid text NOT NULL, what text NOT NULL, at text NOT NULL, "
                         "PRIMARY KEY (key, sid))")
            conn.execute(f"CREATE OR REPLACE FUNCTION {_TABLE}_forbid() RETURNS trigger "
                         "LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION "
                         f"'drawledger: {_TABLE} is append-only (% refused)', TG_OP "
                         "USING ERRCODE = 'integrity_constraint_violation'; END$$")
            conn.execute(f"CREATE OR REPLACE TRIGGER dl_no_change BEFORE UPDATE OR DELETE ON "
                         f"{_TABLE} FOR EACH ROW EXECUTE FUNCTION {_TABLE}_forbid()")
        else:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (sealed TEXT PRIMARY KEY, "
                         "opening TEXT NOT NULL)")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_REQUESTS} (key TEXT NOT NULL, "
                         "sid TEXT NOT NULL, what TEXT NOT NULL, at TEXT NOT NULL, "
                         "PRIMARY KEY (key, sid))")
            for op in ("UPDATE", "DELETE"):
                conn.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {_TABLE}_no_{op.lower()} BEFORE {op} ON "
                    f"{_TABLE} BEGIN SELECT RAISE(ABORT, 'drawledger: {_TABLE} is "
                    f"append-only ({op} refused)'); END")
        self._ready = True

    def _exists(self, conn: Any) -> bool:
        if self._ready:
            return True
        if self._pg:
            row = conn.execute("SELECT to_regclass(%s)", (_TABLE,)).fetchone()
            return row is not None and row[0] is not None
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (_TABLE,)).fetchone() is not None

    def put(self, rows: Iterable[tuple[str, str, Opening]]) -> None:
        """Store the openings of (type, stream, opening) statements under the commitment
        computed here, never one a caller claims (so no row can hold another entry's
        opening); one transaction; a row already there is the same opening."""
        data = [(commitment(t, s, o), dumps(o.to_json()).decode()) for t, s, o in rows]
        if not data:
            return
        with self._connect() as conn:
            self._create(conn)
            if self._pg:
                with conn.cursor() as cur:
                    cur.executemany(f"INSERT INTO {_TABLE} (sealed, opening) VALUES (%s, %s) "
                                    "ON CONFLICT (sealed) DO NOTHING", data)
            else:
                conn.executemany(f"INSERT OR IGNORE INTO {_TABLE} (sealed, opening) "
                                 "VALUES (?, ?)", data)

    def claim(self, key: str, sid: str, what: str, at: str) -> bool:
        """Record an auditor's request (SPEC.md 21.8); False when ``(key, sid)`` was used
        before (a replay). The rows are also the operator's record of who was given what."""
        with self._connect() as conn:
            self._create(conn)
            if self._pg:
                cur = conn.execute(f"INSERT INTO {_REQUESTS} (key, sid, what, at) VALUES "
                                   "(%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                                   (key, sid, what, at))
            else:
                cur = conn.execute(f"INSERT OR IGNORE INTO {_REQUESTS} (key, sid, what, at) "
                                   "VALUES (?, ?, ?, ?)", (key, sid, what, at))
            return bool(cur.rowcount == 1)

    def get_many(self, sealed: Sequence[str]) -> dict[str, Opening]:
        """The openings of these commitments that the store holds."""
        out: dict[str, Opening] = {}
        if not sealed:
            return out
        with self._connect() as conn:
            if not self._exists(conn):
                return out  # a read never creates (it may run under the chain's lock)
            mark = "%s" if self._pg else "?"
            for i in range(0, len(sealed), _PAGE):
                page = list(sealed[i:i + _PAGE])
                rows = conn.execute(f"SELECT sealed, opening FROM {_TABLE} WHERE sealed IN "
                                    f"({', '.join([mark] * len(page))})", page).fetchall()
                for key, text in rows:
                    out[key] = parse_opening(loads(text))
        return out
