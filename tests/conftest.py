"""Shared test helpers.

PostgreSQL policy: tests marked ``@pytest.mark.postgres`` run against the server named by
``DRAWLEDGER_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``: user,
password, host, port and database are taken from it; the database must exist and the user
must be allowed to create schemas and tables in it). They skip with the reason
"PostgreSQL not reachable at HOST:PORT" when the server does not answer, and fail instead
when DRAWLEDGER_REQUIRE_POSTGRES=1. The ``pg_*`` helpers below give each test run its own
table names or schema and drop them afterwards, so parallel runs do not collide.
"""

from __future__ import annotations

import functools
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import pytest

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresDatastore

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # the project is not installed in the venv
    sys.path.insert(0, _ROOT)

PG_DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("DRAWLEDGER_TEST_PG_URL") or PG_DEFAULT_URL
"""The test server, ``postgresql://[user[:password]@]host[:port]/dbname``."""
_PG = urlsplit(PG_URL)
PG_HOST = _PG.hostname or "127.0.0.1"
PG_PORT = _PG.port or 5432
PG_DBNAME = unquote(_PG.path.lstrip("/")) or "test"
PG_USER = unquote(_PG.username or "postgres")
PG_PASSWORD = unquote(_PG.password or "")  # empty: trust authentication
PG_UNREACHABLE = f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}"


def pg_conninfo() -> dict[str, Any]:
    """``psycopg.connect`` keyword arguments for the test server."""
    return {"host": PG_HOST, "port": PG_PORT, "dbname": PG_DBNAME, "user": PG_USER,
            "password": PG_PASSWORD}


def pg_db_url(schema: str | None = None) -> str:
    """A ``--db`` URL for the test server, optionally in ``schema``."""
    auth = quote(PG_USER, safe="") + (f":{quote(PG_PASSWORD, safe='')}" if PG_PASSWORD else "")
    url = f"postgresql://{auth}@{PG_HOST}:{PG_PORT}/{quote(PG_DBNAME, safe='')}"
    return f"{url}?schema={schema}" if schema else url


def pg_required() -> bool:
    """True when DRAWLEDGER_REQUIRE_POSTGRES=1: unreachable PostgreSQL fails the tests."""
    return os.environ.get("DRAWLEDGER_REQUIRE_POSTGRES") == "1"


@functools.cache
def pg_unreachable_reason() -> str | None:
    """None if PostgreSQL answers, else why not (checked once per session)."""
    try:
        import psycopg

        psycopg.connect(**pg_conninfo(), connect_timeout=3).close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def pg_require_or_skip() -> None:
    """Skip (or fail, when required) the calling test if PostgreSQL is unreachable."""
    reason = pg_unreachable_reason()
    if reason is None:
        return
    if pg_required():
        pytest.fail(f"{PG_UNREACHABLE} and DRAWLEDGER_REQUIRE_POSTGRES=1 ({reason})",
                    pytrace=False)
    pytest.skip(PG_UNREACHABLE)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") is not None:
        pg_require_or_skip()


def pg_unique_name(prefix: str = "dlt") -> str:
    """A short table-name prefix unique to this run (PostgreSQL identifiers are <= 63)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def pg_env() -> dict[str, str]:
    """eventsourcing factory settings for the test server."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": PG_DBNAME,
        "POSTGRES_HOST": PG_HOST,
        "POSTGRES_PORT": str(PG_PORT),
        "POSTGRES_USER": PG_USER,
        "POSTGRES_PASSWORD": PG_PASSWORD,
    }


def pg_datastore(**kwargs: Any) -> PostgresDatastore:
    """A PostgresDatastore on the test server (keyword arguments pass through)."""
    from eventsourcing.postgres import PostgresDatastore

    return PostgresDatastore(PG_DBNAME, PG_HOST, PG_PORT, PG_USER, PG_PASSWORD, **kwargs)


def pg_drop_ledger_tables(events_table_name: str, schema: str = "public") -> None:
    """Drop an events table, its drawledger side tables and trigger functions."""
    import psycopg
    from psycopg.sql import SQL, Identifier

    from ledger._recorder import pg_function_names, side_table_names

    tables = (events_table_name, *side_table_names(events_table_name))
    with psycopg.connect(**pg_conninfo(), autocommit=True) as conn:
        for table in tables:
            conn.execute(SQL("DROP TABLE IF EXISTS {0}.{1} CASCADE").format(
                Identifier(schema), Identifier(table)))
        for function in pg_function_names(events_table_name):
            conn.execute(SQL("DROP FUNCTION IF EXISTS {0}.{1}() CASCADE").format(
                Identifier(schema), Identifier(function)))


@pytest.fixture
def pg_events_table() -> Iterator[str]:
    """A fresh events table name; its tables and functions are dropped afterwards."""
    pg_require_or_skip()
    name = pg_unique_name() + "_events"
    try:
        yield name
    finally:
        pg_drop_ledger_tables(name)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty schema on the test server (``pg_db_url(schema)``), dropped afterwards."""
    import psycopg

    pg_require_or_skip()
    name = pg_unique_name("dl")
    with psycopg.connect(**pg_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(**pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
