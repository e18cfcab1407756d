"""The ledger refuses what the rules refuse, writes all or nothing, and exports what it stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import (
    InputError,
    Ledger,
    Parties,
    RejectedError,
    Submission,
    build_demo,
    init_log,
    sign_statement,
)
from ledger._cli import main as cli_main
from tests.helpers import run_audit
from verifier import EXIT_CLEAN, FormatError, NoteSigner


@pytest.fixture
def log(tmp_path: Path) -> tuple[Ledger, Parties]:
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    build_demo(ledger, keys, targets=6, inspectors=2)
    yield ledger, keys
    ledger.close()


def target(signer: NoteSigner, dept: str, uscc: str = "91370321MAU34K4U1H",
           type_: str = "target.added", **extra: object) -> Submission:
    body: dict[str, object] = {"uscc": uscc, "dept": dept, **extra}
    if type_ == "target.added":
        body.update({"name": "淄博测试商贸有限公司", "registry": f"{dept}/F", "industry": "F5299",
                     "region": "370302", "risk": "B", "status": "存续", "unit": "昆仑镇市场监管所"})
    return sign_statement(signer, type_, f"target/{uscc}", dept, body)


def test_accepts_and_numbers_a_batch(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    before = ledger.size
    key = keys.load("dept-ZC-SCJGJ")
    seqs = ledger.submit([target(key, "ZC-SCJGJ"),
                          target(key, "ZC-SCJGJ", type_="target.updated", risk="A")])
    assert seqs == [before, before + 1]
    record = ledger.record("target/91370321MAU34K4U1H")
    assert record.version == 2 and record.fields["risk"] == "A"
    assert record.history == ["target.added", "target.updated"]


def test_batch_is_all_or_nothing(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    before = ledger.chain.head()
    key = keys.load("dept-ZC-SCJGJ")
    good = target(key, "ZC-SCJGJ")
    bad = target(keys.load("dept-ZC-SWJ"), "ZC-SCJGJ", uscc="92370302MALP7MKR48")
    with pytest.raises(RejectedError) as err:
        ledger.submit([good, good.__class__(**{**good.to_json(), "stream": good.stream}), bad])
    assert err.value.index == 1  # the repeated statement id is refused first
    assert ledger.chain.head() == before
    # The rejected batch left no trace in the replay state either: the good one goes in now.
    assert ledger.submit([good]) == [before[0]]


def test_another_departments_key_is_refused(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    with pytest.raises(RejectedError) as err:
        ledger.submit([target(keys.load("dept-ZC-SWJ"), "ZC-SCJGJ")])
    assert [f.rule for f in err.value.findings] == ["AUTH.role"]


def test_a_department_cannot_change_anothers_registry(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    ledger.submit([target(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ")])
    with pytest.raises(RejectedError) as err:
        ledger.submit([target(keys.load("dept-ZC-SWJ"), "ZC-SWJ", type_="target.removed",
                              reason="deregistered")])
    assert [f.rule for f in err.value.findings] == ["AUTH.owner"]


def test_bad_signature_and_unknown_key(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    s = target(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ")
    forged = Submission(s.stream, s.type, s.actor, {**s.body, "risk": "D"}, s.sig)
    with pytest.raises(RejectedError, match=r"V1\.signature"):
        ledger.submit([forged])
    with pytest.raises(RejectedError, match=r"V1\.key"):
        ledger.submit([target(NoteSigner.generate("nobody"), "ZC-SCJGJ")])


def test_lifecycle(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    key = keys.load("dept-ZC-SCJGJ")
    with pytest.raises(RejectedError, match=r"AUTH\.lifecycle"):
        ledger.submit([target(key, "ZC-SCJGJ", type_="target.updated")])
    ledger.submit([target(key, "ZC-SCJGJ"),
                   target(key, "ZC-SCJGJ", type_="target.removed", reason="deregistered")])
    with pytest.raises(RejectedError, match=r"AUTH\.lifecycle"):
        ledger.submit([target(key, "ZC-SCJGJ", type_="target.updated")])


def test_revoked_key_is_refused(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    key = keys.load("dept-ZC-SCJGJ")
    ledger.submit([sign_statement(keys.load("authority"), "key.revoked", f"key/{key.name}",
                                  "authority", {"name": key.name, "reason": "lost"})])
    with pytest.raises(RejectedError, match="revoked"):
        ledger.submit([target(key, "ZC-SCJGJ")])


def test_submission_from_json_names_the_field() -> None:
    with pytest.raises(FormatError, match="stream"):
        Submission.from_json({"type": "target.added"})
    bad = {"stream": "s", "type": "target.added", "actor": "a", "body": {"x": 1.5},
           "sig": {"ctime": "2026-01-01T00:00:00Z", "key": "k", "sid": "1", "value": "AA=="}}
    with pytest.raises(FormatError, match=r"body\.x"):
        Submission.from_json(bad)
    bad["body"] = {}
    with pytest.raises(FormatError, match=r"sig\.value"):
        Submission.from_json(bad)


def test_two_processes_views_stay_in_step(log: tuple[Ledger, Parties], tmp_path: Path) -> None:
    ledger, keys = log
    other = Ledger(str(tmp_path / "db.sqlite"))
    try:
        key = keys.load("dept-ZC-SCJGJ")
        seq = other.submit([target(key, "ZC-SCJGJ")])[0]
        # The first instance has not seen it yet; submit refreshes before checking.
        with pytest.raises(RejectedError, match=r"AUTH\.lifecycle"):
            ledger.submit([target(key, "ZC-SCJGJ", uscc="91370321MAU34K4U1H")])
        assert ledger.size == seq + 1
        assert ledger.submit([target(key, "ZC-SCJGJ", type_="target.updated")]) == [seq + 1]
    finally:
        other.close()


def test_init_twice_is_refused(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    with pytest.raises(InputError, match="not empty"):
        init_log(ledger, keys)


def test_checkpoint_only_when_new_entries(log: tuple[Ledger, Parties]) -> None:
    ledger, keys = log
    assert ledger.checkpoint(keys.load("log")) is None
    ledger.submit([target(keys.load("dept-ZC-SCJGJ"), "ZC-SCJGJ")])
    note = ledger.checkpoint(keys.load("log"))
    assert note is not None and f"\n{ledger.size}\n" in note
    with pytest.raises(InputError, match="not the log key"):
        ledger.checkpoint(keys.load("authority"))


def test_cli_init_demo_checkpoint_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    db = str(tmp_path / "cli" / "db.sqlite")
    assert cli_main(["--db", db, "demo", "--targets", "5", "--inspectors", "2"]) == 0
    assert cli_main(["--db", db, "demo"]) == 0  # refuses to rebuild, says so, no error
    assert "already" in capsys.readouterr().out
    assert cli_main(["--db", db, "checkpoint"]) == 0
    assert cli_main(["--db", db, "export", str(tmp_path / "out")]) == 0
    assert run_audit(tmp_path / "out").exit_code == EXIT_CLEAN
    assert cli_main(["--db", db, "init", "--origin", "test.example/ssj"]) == 1
    assert "not empty" in capsys.readouterr().err


def test_an_event_edited_behind_the_recorder_is_caught_on_read(
        log: tuple[Ledger, Parties], tmp_path: Path) -> None:
    import sqlite3

    from ledger import StorageError

    ledger, _ = log
    db = sqlite3.connect(tmp_path / "db.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE stored_events SET state = state || ' ' WHERE rowid = 1")
    # Someone with file access drops the guard and rewrites an event in place.
    db.execute("DROP TRIGGER stored_events_dl_no_update")
    rowid = db.execute("SELECT min(rowid) FROM stored_events "
                       "WHERE topic = 'department.registered'").fetchone()[0]
    db.execute(f"UPDATE stored_events SET state = replace(state, '区', '县') WHERE rowid = {rowid}")
    db.commit()
    db.close()
    seq = rowid - 1  # one chain row per event, in insertion order, from 0
    with pytest.raises(StorageError, match=rf"entry {seq} .* altered"):
        list(ledger.entries(0, seq + 5))


def test_dates_in_bodies_must_be_real_days() -> None:
    from verifier._bodies import body_errors
    from verifier._state import LogState

    state = LogState()
    assert body_errors("plan.received", {"plan_id": "p", "received_on": "2026-02-28"},
                       state) == []
    for bad in ("2026-02-30", "２０２６-02-28", "2026-2-28", 20260228):
        assert body_errors("plan.received", {"plan_id": "p", "received_on": bad}, state)
