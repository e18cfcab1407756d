"""Receipts (SPEC.md section 18): the vector recomputed from the spec, offline checks of a
receipt, and the audit holding the log to its promises (V1.receipt)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.helpers import (
    audit_export,
    build_export,
    copy_export,
    entry_obj,
    read_entries,
    rewrite_history,
    truncate_export,
)
from verifier import (
    DEFAULT_POLICY,
    FormatError,
    IntegrityError,
    NoteSigner,
    SignatureError,
    Trust,
    canonical,
    entry_hash,
    load_trust,
    parse_checkpoint,
)
from verifier._calendar import body_from_file
from verifier._cli import main as verifier_main
from verifier._note import NoteVerifier
from verifier._receipt import (
    inspection_due,
    make_receipt,
    parse_promise,
    promise_text,
    verify_receipt,
)

VECTORS = Path(__file__).resolve().parent / "vectors"
V = json.loads((VECTORS / "receipt-v1.json").read_text(encoding="utf-8"))
BASE = json.loads((VECTORS / "entry-v1.json").read_text(encoding="utf-8"))


def _vector_log() -> tuple[NoteSigner, Trust]:
    k = BASE["keys"]["log"]
    log = NoteSigner(k["name"], Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(k["seed_hex"])), k["sigtype"])
    witness = BASE["keys"]["witness"]
    w = NoteSigner(witness["name"], Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(witness["seed_hex"])), witness["sigtype"])
    return log, Trust(log.name, log.verifier, (), (w.verifier,), 1)


def test_vector_promise_and_receipt_bytes_follow_from_the_spec() -> None:
    """SPEC 18.1 by hand: six lines, a C2SP note by the log key, canonical JSON."""
    log, trust = _vector_log()
    entry = BASE["entries"][3]["entry"].encode()
    digest = hashlib.sha256(b"\x00" + entry).hexdigest()
    text = (f"drawledger/promise/v1\norigin {log.name}\nfirst 3\nlast 3\nhash {digest}\n"
            f"time {json.loads(entry)['time']}\n")
    assert text == V["promise_text"] == promise_text(log.name, 3, 3, entry_hash(entry),
                                                     json.loads(entry)["time"])
    key_id = hashlib.sha256(log.name.encode() + b"\n\x01" + log.verifier.public_key
                            ).digest()[:4]
    sig = base64.b64encode(key_id + log.sign(text.encode())).decode()
    assert V["promise_note"] == f"{text}\n\u2014 {log.name} {sig}\n"
    receipt = canonical({"format": "drawledger/receipt/v1", "origin": log.name, "first": 3,
                         "last": 3, "entry": entry.decode(), "promise": V["promise_note"],
                         "proof": None, "due": None})
    assert receipt.decode() == V["receipt"] == make_receipt(log, log.name, 3, entry).decode()
    checked = verify_receipt(receipt, trust)
    assert checked.entry.raw == entry and not checked.proved
    with_proof = verify_receipt(V["receipt_with_proof"], trust)
    assert with_proof.proved and with_proof.promise.last == 3


def test_vector_due_dates_use_the_published_calendar() -> None:
    due = V["due"]
    assert inspection_due(due["ended_on"], due["policy"], {2026: due["calendar_2026"]}) \
        == due["due"]
    calendar = body_from_file(json.loads((Path(__file__).resolve().parents[1] / "ledger" /
                                          "data" / "calendar" / "cn-2026.json").read_text()))
    assert calendar == due["calendar_2026"] and due["policy"] == DEFAULT_POLICY
    # No calendar for the year: the deadlines are unknown, never guessed Monday-to-Friday.
    assert inspection_due("2026-09-25", DEFAULT_POLICY, {})["record_by"] is None


def test_a_promise_never_parses_as_a_checkpoint() -> None:
    """The log key signs checkpoints and promises: line 2 of a promise is never a tree
    size, so a promise cannot be passed off as a checkpoint (SPEC 5.2)."""
    with pytest.raises(FormatError):
        parse_checkpoint(V["promise_text"])
    with pytest.raises(FormatError):
        parse_promise(BASE["checkpoint_text"])


def test_receipt_signed_by_another_key_is_refused() -> None:
    log, trust = _vector_log()
    impostor = NoteSigner.generate(log.name)
    forged = make_receipt(impostor, log.name, 3, BASE["entries"][3]["entry"].encode())
    with pytest.raises(SignatureError):
        verify_receipt(forged, trust)


def test_receipt_whose_entry_was_swapped_is_refused() -> None:
    _, trust = _vector_log()
    obj = json.loads(V["receipt"])
    obj["entry"] = BASE["entries"][2]["entry"]
    with pytest.raises(IntegrityError):
        verify_receipt(obj, trust)
    obj = json.loads(V["receipt"])
    obj["last"] = 2
    with pytest.raises(IntegrityError):
        verify_receipt(obj, trust)


# -- the audit holds the log to its receipts ----------------------------------------------

@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, NoteSigner]:
    root = tmp_path_factory.mktemp("receipts")
    export, keys = build_export(root)
    return export, keys.load("log")


def _receipt_file(export: Path, log: NoteSigner, seq: int, out: Path) -> Path:
    """The receipt the log handed out for entry ``seq`` (before any tampering)."""
    line = read_entries(export)[seq]
    trust = load_trust((export / "trust.json").read_bytes())
    out.write_bytes(make_receipt(log, trust.origin, seq, line))
    return out


def _findings(report: Any, rule: str) -> list[Any]:
    return [f for f in report.findings if f.rule == rule]


def test_honoured_receipt_audits_clean(export: tuple[Path, NoteSigner], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path, log = export
    receipt = _receipt_file(path, log, 20, tmp_path / "r.json")
    assert verifier_main(["receipt", str(receipt), "--trust", str(path / "trust.json")]) == 0
    assert "收据有效" in capsys.readouterr().out
    code = verifier_main(["audit", str(path), "--receipt", str(receipt)])
    assert code == 0, capsys.readouterr().out


def test_log_truncated_below_a_receipt_is_integrity_v1_receipt(
        export: tuple[Path, NoteSigner], tmp_path: Path) -> None:
    """The log drops its tail and re-signs nothing: the receipted entry is gone, and the
    department's receipt shows the log promised it."""
    path, log = export
    size = len(read_entries(path))
    receipt = _receipt_file(path, log, size - 1, tmp_path / "r.json")
    cut = copy_export(path, tmp_path / "cut")
    truncate_export(cut, size - 5)
    trust = load_trust((cut / "trust.json").read_bytes())
    promise = verify_receipt(receipt.read_bytes(), trust).promise
    report = audit_export(cut, receipts=[("r.json", promise)])
    found = _findings(report, "V1.receipt")
    assert [f.seq for f in found] == [size - 1] and found[0].kind == "integrity"
    assert report.exit_code == 2
    assert verifier_main(["audit", str(cut), "--receipt", str(receipt)]) == 2


def test_entry_rewritten_and_re_signed_by_the_log_is_v1_receipt(
        export: tuple[Path, NoteSigner], tmp_path: Path) -> None:
    """A colluding log rewrites a receipted entry's body, re-chains every later entry and
    signs a new checkpoint with its own key: the export is self-consistent, but the
    receipt the department holds names the original hash."""
    path, log = export
    lines = read_entries(path)
    seq = next(i for i, line in enumerate(lines) if entry_obj(line)["type"] == "target.added")
    receipt = _receipt_file(path, log, seq, tmp_path / "r.json")
    forged = copy_export(path, tmp_path / "forged")
    o = entry_obj(lines[seq])
    o["body"]["name"] += "（改）"
    lines[seq] = json.dumps(o, ensure_ascii=False, separators=(",", ":"),
                            sort_keys=True).encode()
    rewrite_history(forged, log, lines, seq)
    trust = load_trust((forged / "trust.json").read_bytes())
    promise = verify_receipt(receipt.read_bytes(), trust).promise
    found = _findings(audit_export(forged, receipts=[("r.json", promise)]), "V1.receipt")
    assert [f.seq for f in found] == [seq]
    without = audit_export(forged)
    assert not _findings(without, "V1.receipt")


def test_receipt_not_signed_by_the_pinned_log_key_is_a_usage_error(
        export: tuple[Path, NoteSigner], tmp_path: Path) -> None:
    """A receipt anyone could make is no evidence against the log: refused (64)."""
    path, _ = export
    fake = _receipt_file(path, NoteSigner.generate(NoteVerifier.from_vkey(
        load_trust((path / "trust.json").read_bytes()).log_key.vkey).name), 3,
        tmp_path / "fake.json")
    assert verifier_main(["receipt", str(fake), "--trust", str(path / "trust.json")]) == 64
    assert verifier_main(["audit", str(path), "--receipt", str(fake)]) == 64
