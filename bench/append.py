"""Append throughput on SQLite: the chained ledger against stock eventsourcing and raw sqlite3.

    python bench/append.py [--events N] [--runs R]

Every variant writes the same statements (about 450 bytes each, a Chinese entity name
included) into a fresh SQLite file per run, 1 and 100 events per transaction; medians of R
runs. Variants:

- raw sqlite3: ``executemany`` of the same (id, version, topic, state) rows, one
  transaction per batch: the floor;
- stock eventsourcing, application: an ``Aggregate`` subclass with the same fields, saved
  through a stock ``Application`` (default mapper and SQLite recorder);
- stock eventsourcing, recorder: ``SQLiteApplicationRecorder.insert_events`` of the
  ledger's stored events;
- ledger, application: the ledger's ``Stated`` events through ``Ledger.save`` (its mapper
  and the chained recorder: entry built, hashed and chained in the write transaction);
- ledger, recorder: ``ChainedSQLiteApplicationRecorder.insert_events`` of the same stored
  events;
- ledger, submit: ``Ledger.submit`` of signed statements (adds Ed25519 verification and
  the authorisation rules), reported for information.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate  # noqa: E402
from eventsourcing.persistence import StoredEvent  # noqa: E402
from eventsourcing.sqlite import (  # noqa: E402
    SQLiteApplicationRecorder,
    SQLiteDatastore,
)

from ledger import Ledger, Parties, Stated, StatementMapper, init_log, sign_statement  # noqa: E402
from ledger._recorder import ChainedSQLiteApplicationRecorder  # noqa: E402
from verifier import NoteSigner  # noqa: E402
from verifier._uscc import uscc_check_char  # noqa: E402


class Item(Aggregate):
    """The stock-eventsourcing equivalent of one statement."""

    def __init__(self, type: str, actor: str, body: dict[str, Any], sig: dict[str, str]):
        self.type, self.actor, self.body, self.sig = type, actor, body, sig


def statements(n: int, signer: NoteSigner, tag: str) -> list[Any]:
    out = []
    for i in range(n):
        body17 = f"91370302MA{i % 10**7:07d}".replace("I", "1")
        uscc = body17 + uscc_check_char(body17)
        body = {"uscc": uscc, "dept": "ZC-SCJGJ", "name": f"淄博测试{i}商贸有限公司",
                "industry": "F5299", "region": "370302", "risk": "B", "status": "存续",
                "registry": "ZC-SCJGJ/F", "unit": "昆仑镇市场监管所"}
        out.append(sign_statement(signer, "target.added", f"target/{uscc}", "ZC-SCJGJ", body,
                                  sid=f"{tag}-{i}"))
    return out


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def timed(setup: Callable[[Path], Callable[[], None]], runs: int) -> float:
    """Median seconds of ``run()``, each on a fresh database directory."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(dir=ROOT / "var") as tmp:
            run = setup(Path(tmp))
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000, help="events at 100 per save")
    parser.add_argument("--single", type=int, default=2_000, help="events at 1 per save")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    signer = NoteSigner.generate("ZC-SCJGJ-bench")
    subs = statements(args.events, signer, "a")
    now = datetime.now(UTC)
    events = [Stated(s.stream, 1, now, s.type, s.actor, s.body, s.sig) for s in subs]
    mapper = StatementMapper()
    stored: list[StoredEvent] = [mapper.to_stored_event(e) for e in events]

    def raw(batch: int, n: int) -> Callable[[Path], Callable[[], None]]:
        def setup(tmp: Path) -> Callable[[], None]:
            db = sqlite3.connect(tmp / "raw.sqlite", isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version "
                       "INTEGER, topic TEXT, state BLOB, PRIMARY KEY (originator_id, "
                       "originator_version))")
            rows = [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored[:n]]

            def run() -> None:
                for part in chunks(rows, batch):
                    db.execute("BEGIN")
                    db.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", part)
                    db.execute("COMMIT")
            return run
        return setup

    def stock_app(batch: int, n: int) -> Callable[[Path], Callable[[], None]]:
        def setup(tmp: Path) -> Callable[[], None]:
            app: Application[Any] = Application(env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(tmp / "stock.sqlite")})

            def run() -> None:
                for part in chunks(subs[:n], batch):
                    app.save(*[Item(s.type, s.actor, s.body, s.sig) for s in part])
            return run
        return setup

    def recorder(cls: type[SQLiteApplicationRecorder], batch: int, n: int
                 ) -> Callable[[Path], Callable[[], None]]:
        def setup(tmp: Path) -> Callable[[], None]:
            rec = cls(SQLiteDatastore(str(tmp / "rec.sqlite")))
            rec.create_table()

            def run() -> None:
                for part in chunks(stored[:n], batch):
                    rec.insert_events(part)
            return run
        return setup

    def ledger_app(batch: int, n: int) -> Callable[[Path], Callable[[], None]]:
        def setup(tmp: Path) -> Callable[[], None]:
            ledger = Ledger(str(tmp / "ledger.sqlite"))

            def run() -> None:
                for part in chunks(events[:n], batch):
                    ledger.save(*part)
            return run
        return setup

    def ledger_submit(batch: int, n: int) -> Callable[[Path], Callable[[], None]]:
        def setup(tmp: Path) -> Callable[[], None]:
            ledger = Ledger(str(tmp / "ledger.sqlite"))
            keys = Parties(tmp / "parties")
            init_log(ledger, keys)
            auth = keys.load("authority")
            ledger.submit([
                sign_statement(auth, "department.registered", "dept/ZC-SCJGJ", "authority",
                               {"code": "ZC-SCJGJ", "name": "区市场监管局"}),
                sign_statement(auth, "key.registered", f"key/{signer.name}", "authority",
                               {"name": signer.name, "vkey": signer.verifier.vkey,
                                "dept": "ZC-SCJGJ", "role": "department"})])

            def run() -> None:
                for part in chunks(subs[:n], batch):
                    ledger.submit(part)
            return run
        return setup

    print(f"SQLite append, medians of {args.runs} runs; {len(stored[0].state)}-byte statements")
    print(f"{'variant':<40}{'1 per save':>14}{'100 per save':>16}")
    results: dict[str, tuple[float, float]] = {}
    variants: list[tuple[str, Callable[[int, int], Callable[[Path], Callable[[], None]]]]] = [
        ("raw sqlite3 (floor)", raw),
        ("stock eventsourcing, application", stock_app),
        ("stock eventsourcing, recorder",
         lambda b, n: recorder(SQLiteApplicationRecorder, b, n)),
        ("ledger, application (chained)", ledger_app),
        ("ledger, recorder (chained)",
         lambda b, n: recorder(ChainedSQLiteApplicationRecorder, b, n)),
        ("ledger, submit (+ Ed25519 + rules)", ledger_submit),
    ]
    for name, make in variants:
        one = args.single / timed(make(1, args.single), args.runs)
        hundred = args.events / timed(make(100, args.events), args.runs)
        results[name] = (one, hundred)
        print(f"{name:<40}{one:>11,.0f}/s{hundred:>13,.0f}/s")
    print("ratios (1 per save, 100 per save):")
    for a, b in (("ledger, application (chained)", "stock eventsourcing, application"),
                 ("ledger, recorder (chained)", "stock eventsourcing, recorder"),
                 ("ledger, application (chained)", "raw sqlite3 (floor)"),
                 ("ledger, submit (+ Ed25519 + rules)", "stock eventsourcing, application")):
        r1 = results[a][0] / results[b][0]
        r100 = results[a][1] / results[b][1]
        print(f"  {a} / {b}: {r1:.2f}x, {r100:.2f}x")


if __name__ == "__main__":
    main()
