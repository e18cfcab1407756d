"""SPEC v2 sealed fields (issue 15, SPEC.md 21): the public bytes of a v2 demo year hold no
internal value; the auditor's audit with the openings finds what the v1 audit of the same
year finds; wrong, swapped, missing and unbinding openings are caught and located; the
vectors recompute from the spec's definitions alone; only a registered auditor key, in its
own process and key folder, gets the openings and the auditor bundles."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import create_app
from ledger import Ledger, Parties, build_demo, sign_statement
from ledger._tiles import write_tiles
from tests.helpers import copy_export, uvicorn_serving
from verifier import NoteVerifier, audit, canonical, load_trust
from verifier._auditreq import sign_request
from verifier._bundle import verify_bundle
from verifier._cli import read_lines
from verifier._sealed import Opening, SealError, commitment, unseal

VECTORS = Path(__file__).parent / "vectors"
V = json.loads((VECTORS / "sealed-v2.json").read_text(encoding="utf-8"))


def _audit(export: Path, **options: Any) -> Any:
    """The audit of an export as ``python -m verifier audit`` runs it: with the auditor
    export's openings.jsonl when there is one."""
    trust = load_trust((export / "trust.json").read_bytes())
    checkpoints = [(p.name, p.read_bytes()) for p in sorted((export / "checkpoints").iterdir())]
    openings = export / "openings.jsonl"
    with (export / "entries.jsonl").open("rb") as fh:
        lines = openings.read_bytes().splitlines(keepends=True) if openings.exists() else None
        return audit(read_lines(fh), checkpoints, trust, openings=lines, **options)


@contextmanager
def _serving(db: Path) -> Iterator[str]:
    """The API over ``db`` under real uvicorn on a free port; its base URL."""
    with uvicorn_serving(create_app(str(db))) as port:
        yield f"http://127.0.0.1:{port}"


def _lp(*fields: bytes) -> bytes:
    return b"".join(len(f).to_bytes(4, "big") + f for f in fields)


# -- vectors, recomputed from SPEC.md 21 with nothing but hashlib and hmac ---------------
def test_commitment_vector_recomputes_from_the_spec() -> None:
    c = V["commitment"]
    fields = json.dumps(c["opening"]["fields"], ensure_ascii=False, sort_keys=True,
                        separators=(",", ":")).encode()
    hashed = _lp(b"drawledger/sealed/v2", c["type"].encode(), c["stream"].encode(),
                 bytes.fromhex(c["opening"]["salt"]), fields)
    assert hashed.hex() == c["hashed_hex"]
    assert hashlib.sha256(hashed).hexdigest() == c["sealed"] == c["public_body"]["sealed"]
    assert "risk" not in c["public_body"] and c["body"]["risk"] == "B"
    logical = unseal(c["type"], c["stream"], c["public_body"],
                     Opening(bytes.fromhex(c["opening"]["salt"]), c["opening"]["fields"]))
    assert logical == c["body"]
    assert json.loads(c["opening_line"]) == {**c["opening"], "seq": 7}


def test_leaf_vectors_recompute_from_the_spec() -> None:
    leaves = V["leaves"]
    key = bytes.fromhex(leaves["snapshot_key"])

    def seal(name: str, ident: str, internal: dict[str, Any]) -> str:
        data = _lp(b"drawledger/leaf/v2", name.encode(), ident.encode(),
                   json.dumps(internal, sort_keys=True, separators=(",", ":")).encode())
        return hmac.new(key, data, "sha256").hexdigest()

    m = leaves["pool"]["member"]
    pool = json.loads(leaves["pool"]["leaf"])
    assert pool["sealed"] == seal("pool", m["uscc"], {"risk": m["risk"], "stratum": m["stratum"]})
    assert set(pool) == {"industry", "region", "registry", "sealed", "status", "unit", "uscc"}
    r = leaves["roster"]["candidate"]
    roster = json.loads(leaves["roster"]["leaf"])
    assert roster["sealed"] == seal("roster", r["cert_no"], {"valid_from": r["valid_from"],
                                                             "valid_to": r["valid_to"]})
    assert "valid_from" not in roster and "valid_to" not in roster
    c = leaves["conflict"]
    assert json.loads(c["leaf"]) == {"sealed": seal("conflicts", f"{c['cert_no']}/{c['uscc']}",
                                                    {"cert_no": c["cert_no"], "kind": c["kind"],
                                                     "uscc": c["uscc"]})}
    public = V["outcome"]["public"]["selected"][0]
    assert set(public) == {"uscc", "team"}


def test_request_vector_verifies() -> None:
    r = V["request"]
    verifier = NoteVerifier.from_vkey(r["vkey"])
    fields = {k: v for k, v in r["request"].items() if k != "sig"}
    message = b"drawledger/auditor-request/v1\n" + canonical(fields)
    assert message.hex() == r["message_hex"]
    assert verifier.verify(message, base64.b64decode(r["request"]["sig"]))


def test_tamper_vectors_do_not_open() -> None:
    c, t = V["commitment"], V["tamper"]
    for bad in (t["wrong_fields"], t["wrong_salt"]):
        opening = Opening(bytes.fromhex(bad["salt"]), bad["fields"])
        with pytest.raises(SealError) as exc:
            unseal(c["type"], c["stream"], c["public_body"], opening)
        assert exc.value.rule == "SEAL.opening"
    good = Opening(bytes.fromhex(c["opening"]["salt"]), c["opening"]["fields"])
    # Binding: the same commitment and opening copied to another stream's statement.
    with pytest.raises(SealError) as exc:
        unseal(c["type"], t["other_stream"], c["public_body"], good)
    assert exc.value.rule == "SEAL.opening"
    assert commitment(c["type"], t["other_stream"], good) != c["sealed"]
    with pytest.raises(SealError) as exc:  # an internal field in clear beside the seal
        unseal(c["type"], c["stream"], {**c["public_body"], "risk": "B"}, good)
    assert exc.value.rule == "SEAL.clear"


# -- the demo year, v1 and v2 -------------------------------------------------------------
def _year(root: Path, spec: int, violations: bool = False) -> tuple[Ledger, Parties, Path]:
    ledger = Ledger(str(root / "db.sqlite"))
    keys = Parties(root / "parties")
    size = {"targets": 600, "inspectors": 60} if violations else {"targets": 240,
                                                                   "inspectors": 48}
    build_demo(ledger, keys, spec=spec, violations=violations, **size)
    ledger.export(root / "auditor", auditor=True)
    ledger.export(root / "public")
    return ledger, keys, root


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, Parties, Path]]:
    ledger, keys, root = _year(tmp_path_factory.mktemp("v2"), 2)
    yield ledger, keys, root
    ledger.close()


def _findings(report: Any) -> list[tuple[str, str, int | None]]:
    return [(f.rule, f.kind, f.seq) for f in report.findings]


@pytest.mark.parametrize("violations", [False, True])
def test_auditor_audit_finds_what_the_v1_audit_finds(tmp_path: Path, violations: bool) -> None:
    """The same year (same seeds, same planted violations) as v1 and as v2: the auditor's
    audit of the v2 export with its openings reports the same findings at the same
    entries as the audit of the v1 export; without the openings it says it could not
    check the sealed rules and the draws."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    reports = {}
    for spec in (1, 2):
        ledger, _, root = _year(tmp_path / f"s{spec}", spec, violations)
        ledger.close()
        reports[spec] = _audit(root / "auditor", now=now)
    assert _findings(reports[2]) == _findings(reports[1])
    assert reports[2].exit_code == reports[1].exit_code == (1 if violations else 0)
    assert reports[2].draws["verified"] == reports[1].draws["verified"] > 0
    public = _audit(tmp_path / "s2" / "public", now=now)
    assert ("SEAL.unopened", "unverifiable", None) in _findings(public)
    assert public.draws["verified"] == 0 and public.exit_code in (1, 3)
    assert not any(f.rule.startswith("V4") or f.rule.startswith("V12") for f in public.findings)


def _openings(export: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in
            (export / "openings.jsonl").read_text(encoding="utf-8").splitlines()]


def _write_openings(export: Path, rows: list[dict[str, Any]]) -> None:
    (export / "openings.jsonl").write_bytes(b"".join(canonical(r) + b"\n" for r in rows))


def _targets(rows: list[dict[str, Any]]) -> list[int]:
    return [i for i, r in enumerate(rows) if set(r["fields"]) == {"risk"}]


def test_a_wrong_opening_is_caught_at_its_entry(v2: tuple[Ledger, Parties, Path],
                                                tmp_path: Path) -> None:
    export = copy_export(v2[2] / "auditor", tmp_path / "x")
    rows = _openings(export)
    i = _targets(rows)[3]
    rows[i]["fields"]["risk"] = "A" if rows[i]["fields"]["risk"] != "A" else "D"
    _write_openings(export, rows)
    report = _audit(export)
    assert ("SEAL.opening", "integrity", rows[i]["seq"]) in _findings(report)
    assert report.exit_code == 2


def test_swapped_openings_are_caught_at_both_entries(v2: tuple[Ledger, Parties, Path],
                                                     tmp_path: Path) -> None:
    export = copy_export(v2[2] / "auditor", tmp_path / "x")
    rows = _openings(export)
    a, b = _targets(rows)[5], _targets(rows)[9]
    rows[a]["fields"], rows[b]["fields"] = rows[b]["fields"], rows[a]["fields"]
    rows[a]["salt"], rows[b]["salt"] = rows[b]["salt"], rows[a]["salt"]
    _write_openings(export, rows)
    found = _findings(_audit(export))
    assert ("SEAL.opening", "integrity", rows[a]["seq"]) in found
    assert ("SEAL.opening", "integrity", rows[b]["seq"]) in found


def test_a_missing_or_stray_opening_is_caught(v2: tuple[Ledger, Parties, Path],
                                              tmp_path: Path) -> None:
    export = copy_export(v2[2] / "auditor", tmp_path / "x")
    rows = _openings(export)
    gone = rows.pop(_targets(rows)[2])
    stray = dict(rows[0], seq=0)  # entry 0 (the genesis) seals nothing
    _write_openings(export, [stray, *rows])
    found = _findings(_audit(export))
    assert ("SEAL.missing", "integrity", gone["seq"]) in found
    assert ("SEAL.extra", "integrity", 0) in found


def test_an_unbinding_opening_does_not_open_another_entry(v2: tuple[Ledger, Parties, Path],
                                                          tmp_path: Path) -> None:
    """An opening moved to another target's entry (as if one commitment were made to open
    two statements) is refused there: the commitment binds its type and stream."""
    export = copy_export(v2[2] / "auditor", tmp_path / "x")
    rows = _openings(export)
    a, b = _targets(rows)[1], _targets(rows)[2]
    moved = dict(rows[a], seq=rows[b]["seq"])
    rows[b] = moved
    _write_openings(export, rows)
    assert ("SEAL.opening", "integrity", moved["seq"]) in _findings(_audit(export))


# -- the public bytes ---------------------------------------------------------------------
def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def _internal_values(root: Path) -> tuple[dict[str, str], set[tuple[str, str]], set[str]]:
    """From the auditor export: each target's risk, the declared conflict pairs, and every
    inspector's validity dates (as 'from/to')."""
    risks: dict[str, str] = {}
    pairs: set[tuple[str, str]] = set()
    validity: set[str] = set()
    entries = {json.loads(line)["seq"]: json.loads(line) for line in
               (root / "auditor" / "entries.jsonl").read_text(encoding="utf-8").splitlines()}
    for row in _openings(root / "auditor"):
        body, f = entries[row["seq"]]["body"], row["fields"]
        if "risk" in f:
            risks[body["uscc"]] = f["risk"]
        if "relation" in f:
            pairs.add((f["cert_no"], f["uscc"]))
        if "valid_from" in f:
            validity.add(f"{f['valid_from']}/{f['valid_to']}")
    return risks, pairs, validity


def _assert_nothing_internal(name: str, data: bytes, risks: dict[str, str],
                             pairs: set[tuple[str, str]], validity: set[str]) -> None:
    for word in (b'"valid_from"', b'"valid_to"', b'"relation"', b'"declared_on"',
                 b'"snapshot_key"', b'"stratum"', b'"opening"', b'"salt"'):
        assert word not in data, f"{name}: {word!r} in a public byte"
    texts = [data]
    if data[:1] in (b"{", b"["):
        texts = data.splitlines() if b"\n{" in data else [data]
    for text in texts:
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        for o in _walk(obj):
            if "uscc" in o:
                assert "risk" not in o, f"{name}: a target's risk class in {o}"
                assert not ("cert_no" in o and (o["cert_no"], o["uscc"]) in pairs), \
                    f"{name}: a declared conflict in {o}"
    for pair in pairs:
        assert f"conflict/{pair[0]}/{pair[1]}".encode() not in data, name


def test_no_public_byte_holds_an_internal_value(v2: tuple[Ledger, Parties, Path],
                                                tmp_path: Path) -> None:
    ledger, _, root = v2
    risks, pairs, validity = _internal_values(root)
    assert len(risks) > 200 and pairs and validity
    out: dict[str, bytes] = {}
    write_tiles(ledger, tmp_path / "tiles")
    for path in (tmp_path / "tiles").rglob("*"):
        if path.is_file():
            out[f"tiles/{path.relative_to(tmp_path / 'tiles')}"] = path.read_bytes()
    for path in (root / "public").rglob("*"):
        if path.is_file():
            out[f"export/{path.name}"] = path.read_bytes()
    assert not (root / "public" / "openings.jsonl").exists()
    with _serving(root / "db.sqlite") as base, httpx.Client(base_url=base, timeout=30) as http:
        size = ledger.size
        paths = ["/", "/v1/status", "/v1/checkpoint", "/v1/draws", "/healthz",
                 "/checkpoint", *[f"/v1/entries?start={s}&end={min(size, s + 1000)}"
                                  for s in range(0, size, 1000)],
                 *[f"/v1/proof/{s}" for s in range(0, size, 97)],
                 *[f"/v1/departments/{d}/todo?all=true" for d in ledger.state.departments]]
        for draw in http.get("/v1/draws").json():
            answer = http.get(draw["bundle"])
            assert answer.status_code == 403, draw  # a v2 bundle is the auditor's
            assert answer.json()["type"] == "/problems/auditor-only"
        for tile in list(out)[:50]:
            if tile.startswith("tiles/tile/"):
                paths.append("/" + tile.removeprefix("tiles/"))
        for path in paths:
            answer = http.get(path)
            assert answer.status_code in (200, 404), (path, answer.status_code)
            out[path] = answer.content
    assert len(out) > 50
    for name, data in out.items():
        _assert_nothing_internal(name, data, risks, pairs, validity)


# -- auditors' access ---------------------------------------------------------------------
def test_only_a_registered_auditor_key_gets_the_internal_data(
        v2: tuple[Ledger, Parties, Path], tmp_path: Path) -> None:
    """The audit body keeps its key in its own folder and asks from its own process (the
    verifier's CLI); the authority registered the key's vkey. Anonymous callers, a
    department's key, a replayed or stale request and a forged signature are refused."""
    ledger, keys, root = v2
    db = tmp_path / "db.sqlite"
    with sqlite3.connect(root / "db.sqlite") as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # the live log, its write-ahead log included
    led = Ledger(str(db), create=False)
    auditor_dir = tmp_path / "audit-bureau"
    auditor_dir.mkdir(mode=0o700)
    subprocess.run([sys.executable, "-c", (
        "import sys; from pathlib import Path; from verifier import NoteSigner; "
        "from verifier._keyfile import save_key; "
        "k = NoteSigner.generate('zichuan-audit-request'); "
        "save_key(Path(sys.argv[1]) / 'zichuan-audit-request.skey', k); print(k.verifier.vkey)"),
        str(auditor_dir)], check=True, capture_output=True, text=True)
    vkey = subprocess.run([sys.executable, "-c", (
        "import sys; from pathlib import Path; from verifier._keyfile import load_key; "
        "print(load_key(Path(sys.argv[1])).verifier.vkey)"),
        str(auditor_dir / "zichuan-audit-request.skey")], check=True, capture_output=True,
        text=True).stdout.strip()
    authority = keys.load("authority")
    led.submit([sign_statement(authority, "key.registered", "key/zichuan-audit-request",
                               "authority", {"name": "zichuan-audit-request", "vkey": vkey,
                                             "dept": "ZC-AUDIT", "role": "auditor"})])
    led.close()
    with _serving(db) as base:
        _auditor_session(base, auditor_dir, keys, ledger, root, tmp_path)


def _auditor_session(base: str, auditor_dir: Path, keys: Parties, ledger: Ledger, root: Path,
                     tmp_path: Path) -> None:
    draw = next(d["draw"] for d in httpx.get(f"{base}/v1/draws").json()
                if d["status"].startswith("executed"))
    cli = [sys.executable, "-m", "verifier", "auditor-request", base, "--key",
           str(auditor_dir / "zichuan-audit-request.skey")]
    got = subprocess.run([*cli, "--what", "openings", "--out", str(tmp_path / "o.jsonl")],
                         capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "o.jsonl").read_bytes() == \
        (root / "auditor" / "openings.jsonl").read_bytes()
    got = subprocess.run([*cli, "--what", "bundle", "--draw", draw,
                          "--out", str(tmp_path / "b.json")],
                         capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    report, _ = verify_bundle((tmp_path / "b.json").read_bytes(), ledger.trust())
    assert report.exit_code == 0, [f.rule for f in report.findings]
    # Refusals: who asks, how often, when, and with what signature.
    dept_key = keys.load("dept-ZC-SCJGJ")
    assert httpx.post(f"{base}/v1/auditor/requests", content=sign_request(
        dept_key, "openings", {"from": 0})).json()["type"] == "/problems/auditor-only"
    auditor = subprocess.run([sys.executable, "-c", (
        "import sys; from pathlib import Path; from verifier._keyfile import load_key; "
        "from verifier._auditreq import sign_request; "
        "sys.stdout.buffer.write(sign_request(load_key(Path(sys.argv[1])), 'openings', "
        "{'from': 0}))"), str(auditor_dir / "zichuan-audit-request.skey")],
        check=True, capture_output=True).stdout
    first = httpx.post(f"{base}/v1/auditor/requests", content=auditor)
    assert first.status_code == 200
    again = httpx.post(f"{base}/v1/auditor/requests", content=auditor)
    assert (again.status_code, again.json()["type"]) == (409, "/problems/request-reused")
    forged = json.loads(auditor)
    forged["sid"] = "f" * 32
    answer = httpx.post(f"{base}/v1/auditor/requests", content=canonical(forged))
    assert (answer.status_code, answer.json()["type"]) == (401, "/problems/bad-signature")
    stale = subprocess.run([sys.executable, "-c", (
        "import sys; from datetime import UTC, datetime, timedelta; from pathlib import Path; "
        "from verifier._keyfile import load_key; from verifier._auditreq import sign_request; "
        "sys.stdout.buffer.write(sign_request(load_key(Path(sys.argv[1])), 'openings', "
        "{'from': 0}, datetime.now(UTC) - timedelta(minutes=10)))"),
        str(auditor_dir / "zichuan-audit-request.skey")], check=True,
        capture_output=True).stdout
    answer = httpx.post(f"{base}/v1/auditor/requests", content=stale)
    assert (answer.status_code, answer.json()["type"]) == (422, "/problems/ctime-skew")
    answer = httpx.post(f"{base}/v1/auditor/requests", content=b'{"what":"openings"}')
    assert answer.status_code == 422
    assert answer.json()["type"] == "/problems/invalid-auditor-request"
