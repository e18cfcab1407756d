"""Key custody: key files are private, a wrong key file is refused by name, and statements
(single or batch) are signed offline with the verifier alone (SPEC.md 4, 4.2, 5.2)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ledger import Ledger, Parties, build_demo
from tests.helpers import run_audit
from verifier import (
    EXIT_CLEAN,
    BatchSubmission,
    FormatError,
    KeyFileError,
    NoteSigner,
    Submission,
    dumps,
    load_key,
    save_key,
    sign_batch,
    sign_statement,
)

USCC = "91370321MAU34K4U1H"


def _key(tmp_path: Path, sigtype: int = 1) -> Path:
    path = tmp_path / "store" / "dept-ZC-SCJGJ.skey"
    save_key(path, NoteSigner.generate("zc-scjgj-2026", sigtype))
    return path


def test_saved_key_is_owner_only_and_loads(tmp_path: Path) -> None:
    path = _key(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_key(path, 1).name == "zc-scjgj-2026"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_save_never_overwrites_a_key(tmp_path: Path) -> None:
    path = _key(tmp_path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        save_key(path, NoteSigner.generate("other"))
    assert path.read_bytes() == before


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"不存在 / key file .*nope\.skey: does not exist"):
        load_key(tmp_path / "nope.skey")


def test_group_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = _key(tmp_path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match=r"mode 0644 lets group or others .*chmod 600"):
        load_key(path)
    path.chmod(0o620)  # group-writable: someone else could swap the key
    with pytest.raises(KeyFileError, match="mode 0620"):
        load_key(path)


def test_symlinked_or_directory_key_is_refused(tmp_path: Path) -> None:
    path = _key(tmp_path)
    link = tmp_path / "link.skey"
    link.symlink_to(path)
    with pytest.raises(KeyFileError, match="symbolic link"):
        load_key(link)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key(tmp_path / "store")


def test_garbage_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.skey"
    path.write_bytes(b"\x00\xffnot a key")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=r"junk\.skey.*not secret key"):
        load_key(path)
    path.write_text("PRIVATE+KEY+x+00000000+AAAA\n")
    with pytest.raises(KeyFileError, match="malformed secret key"):
        load_key(path)


def test_vkey_where_an_skey_belongs_is_named(tmp_path: Path) -> None:
    path = tmp_path / "dept.skey"
    path.write_text(NoteSigner.generate("zc-scjgj-2026").verifier.vkey + "\n")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=r"公钥（vkey）.*verifier key \(vkey\), not a secret"):
        load_key(path)


def test_witness_key_used_as_statement_key_is_refused(tmp_path: Path) -> None:
    path = _key(tmp_path, sigtype=4)
    with pytest.raises(KeyFileError, match=r"witness cosignature key \(sigtype 4\) where a "
                                           r"statement/note key \(sigtype 1\) is needed"):
        load_key(path, 1)
    with pytest.raises(FormatError, match="cannot sign statements"):
        sign_statement(load_key(path), "target.added", f"target/{USCC}", "ZC-SCJGJ", {})


def _members(dept: str) -> list[tuple[str, str, dict[str, object]]]:
    return [("target.added", f"target/{u}", {
        "uscc": u, "dept": dept, "name": "淄博测试商贸有限公司", "registry": f"{dept}/F",
        "industry": "F5299", "region": "370302", "risk": "B", "status": "存续",
        "unit": "昆仑镇市场监管所"}) for u in (USCC, "92370302MALP7MKR48")]


def _head(dept: str) -> dict[str, object]:
    return {"kind": "targets", "dept": dept, "file_sha256": "ab" * 32, "file_name": "t.csv"}


def test_batch_submission_round_trips_and_verifies() -> None:
    signer = NoteSigner.generate("zc-scjgj-2026")
    batch = sign_batch(signer, _head("ZC-SCJGJ"), _members("ZC-SCJGJ"))
    again = BatchSubmission.from_json(json.loads(dumps(batch.to_json())))
    assert again == batch and again.verify(signer.verifier)
    sids = [s.sig["sid"] for s in again.statements()]
    assert sids[1:] == [f"batch/{batch.batch_id}/0/2", f"batch/{batch.batch_id}/1/2"]
    changed = batch.to_json()
    changed["members"][1]["body"]["risk"] = "D"  # one member edited after signing
    assert not BatchSubmission.from_json(changed).verify(signer.verifier)


@pytest.mark.parametrize(("edit", "field"), [
    (lambda o: o.update(format="x"), r"batch\.format"),
    (lambda o: o["head"].update(type="target.added"), r"batch\.head"),
    (lambda o: o["members"].append(o["members"][0]), r"batch\.head\.body\.rows"),
    (lambda o: o["members"][1].pop("stream"), r"batch\.members\[1\]: must be"),
    (lambda o: o["members"][0]["body"].update(x=1.5), r"batch\.members\[0\]: .*body\.x"),
    (lambda o: o["sig"].update(key="someone-else"), r"batch\.sig\.key"),
    (lambda o: o["sig"].update(ctime="2026-02-30T00:00:00Z"), r"batch\.members\[0\]: .*ctime"),
])
def test_malformed_batch_submission_names_the_field(edit: object, field: str) -> None:
    obj = sign_batch(NoteSigner.generate("k"), _head("ZC-SCJGJ"), _members("ZC-SCJGJ")).to_json()
    edit(obj)  # type: ignore[operator]
    with pytest.raises(FormatError, match=field):
        BatchSubmission.from_json(obj)


def test_offline_batch_is_accepted_by_the_log_and_audits_clean(tmp_path: Path) -> None:
    keys = Parties(tmp_path / "parties")
    ledger = Ledger(str(tmp_path / "db.sqlite"))
    try:
        build_demo(ledger, keys, targets=6, inspectors=2)
        signer = keys.load("dept-ZC-SCJGJ")
        text = dumps(sign_batch(signer, _head("ZC-SCJGJ"), _members("ZC-SCJGJ")).to_json())
        batch = BatchSubmission.from_json(json.loads(text))  # what travels on a USB stick
        before = ledger.size
        assert ledger.submit(batch.statements()) == [before, before + 1, before + 2]
        single = Submission.from_json(json.loads(dumps(sign_statement(
            signer, "target.updated", f"target/{USCC}", "ZC-SCJGJ",
            {"uscc": USCC, "dept": "ZC-SCJGJ", "risk": "A"}).to_json())))
        ledger.submit([single])
        ledger.checkpoint(keys.load("log"), keys.witness_tools())
        ledger.export(tmp_path / "export")
    finally:
        ledger.close()
    assert run_audit(tmp_path / "export").exit_code == EXIT_CLEAN
    assert os.stat(keys.path("dept-ZC-SCJGJ")).st_mode & 0o077 == 0
