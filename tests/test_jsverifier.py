"""The JavaScript verifier (jsverifier/, issue 16) against the Python one: the same verdict
on generated canonical-profile inputs and on tampered entries and batches of a demo log.

Both are independent implementations of SPEC.md sections 2-4; a verdict they disagree on
is a bug in one of them (or a gap in the spec). The JS side runs as one ``node
jsverifier/cli.mjs check-many`` process over JSON lines, so no npm and no network: its
cryptography is the committed jsverifier/vendor/noble.mjs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import build_export, read_entries
from verifier._canonical import loads_canonical
from verifier._entry import batch_message, parse_entry
from verifier._errors import CanonicalError, FormatError
from verifier._note import NoteVerifier

REPO = Path(__file__).resolve().parent.parent
CLI = REPO / "jsverifier" / "cli.mjs"
MAX_INT = 2**53

# Strings a codec gets wrong: escapes, controls, raw U+007F/U+2028/U+2029, astral and CJK
# text, full width, and text that is not NFC (combining marks, the Angstrom sign, Hangul
# jamo, a composition exclusion, marks out of canonical order). Assigned in Unicode 14, so
# Python 3.11 and Node's ICU agree on their normal forms.
TRICKY = ["", "a", '"', "\\", "/", "\x00", "\x08", "\x0b", "\x1f", "\x7f", "\u2028", "\u2029",
          "é", "e\u0301", "\u212b", "\u00c5", "\uac00", "\u1100\u1161", "\u0958", "q\u0307\u0323",
          "q\u0323\u0307", "😀", "淄博某某商贸有限公司", "ＡＢＣ１２３", "\ufeff", "\uffff",
          "\ue000", "<script>", "a\nb\tc\rd\fe", "\u00a0", "ﬁ"]
KEYS = ["a", "b", "z", "A", "_", "__proto__", "constructor", "", "key with space", "\x01", "é"]
INTS = [0, 1, -1, 7, 255, -255, 10**15, MAX_INT, -MAX_INT, MAX_INT - 1, MAX_INT + 1, -MAX_INT - 1]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        why = "node is needed for the JavaScript verifier (apt-get install nodejs)"
        if os.environ.get("DRAWLEDGER_REQUIRE_NODE") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return node


def run_js(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The JS verdict of each case, in order (exit 0 or 2; anything else is a crash)."""
    data = "".join(json.dumps(c) + "\n" for c in cases).encode()
    done = subprocess.run([_node(), str(CLI), "check-many"], input=data, capture_output=True,
                          timeout=300, check=False)
    assert done.returncode in (0, 2), done.stderr.decode()
    # split on "\n" only: a verdict may hold a raw U+2028, where splitlines() would cut
    out = [json.loads(line) for line in done.stdout.decode().split("\n") if line]
    assert len(out) == len(cases)
    return out


def _kind(exc: Exception) -> str:
    return "canonical" if isinstance(exc, CanonicalError) else "format"


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice([rng.choice(TRICKY), rng.choice(TRICKY) + rng.choice(TRICKY),
                           rng.choice(INTS), rng.randint(-10**6, 10**6), True, False, None])
    if roll < 0.6:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(KEYS) + rng.choice(["", "1", "x"]): _value(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def _nfd(obj: Any) -> Any:
    if isinstance(obj, str):
        return unicodedata.normalize("NFD", obj)
    if isinstance(obj, list):
        return [_nfd(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _nfd(v) for k, v in obj.items()}
    return obj


def _variants(rng: random.Random, value: Any) -> list[bytes]:
    """The canonical text of ``value`` (as json.dumps writes it, whether or not the value
    is inside the profile) and texts a sloppy or hostile writer would make of it."""
    def dump(obj: Any, **kw: Any) -> bytes:
        opts: dict[str, Any] = {"ensure_ascii": False, "sort_keys": True, "separators": (",", ":")}
        opts.update(kw)
        return json.dumps(obj, **opts).encode("utf-8", "surrogatepass")

    canonical = dump(value)
    out = [canonical, dump(value, ensure_ascii=True), dump(value, separators=(", ", ": ")),
           dump(value, sort_keys=False) if not isinstance(value, dict) else
           json.dumps(dict(reversed(list(value.items()))), ensure_ascii=False,
                      separators=(",", ":")).encode(),
           dump(_nfd(value)), dump([value, 1.5]), dump({"n": value, "m": MAX_INT + 2}),
           b"\xef\xbb\xbf" + canonical, canonical + b"\n"]
    if canonical:
        cut = rng.randrange(len(canonical))
        out.append(canonical[:cut])
        flipped = bytearray(canonical)
        flipped[cut] ^= rng.choice([1, 0x20, 0x80])
        out.append(bytes(flipped))
        out.append(canonical.replace(b":", b":\\ud800", 1) if b":" in canonical else canonical)
    return out


def _python_canonical(data: bytes) -> dict[str, Any]:
    try:
        return {"ok": True, "value": loads_canonical(data)}
    except FormatError as exc:
        return {"ok": False, "kind": _kind(exc)}


def test_canonical_profile_same_verdict_on_generated_inputs() -> None:
    rng = random.Random(16)
    inputs = [v for _ in range(200) for v in _variants(rng, _value(rng))]
    inputs += [json.dumps(t, ensure_ascii=False).encode() for t in TRICKY]
    js = run_js([{"op": "canonical", "hex": data.hex()} for data in inputs])
    accepted = 0
    for data, got in zip(inputs, js, strict=True):
        want = _python_canonical(data)
        assert got["ok"] == want["ok"], (data, got, want)
        if want["ok"]:
            accepted += 1
            assert got["value"] == want["value"], data
        else:
            assert got["kind"] == want["kind"], (data, got)
            assert got["zh"] and got["en"]
    assert accepted >= 200 and len(inputs) - accepted >= 1000  # both verdicts well exercised


def _keys(lines: list[bytes]) -> dict[str, str]:
    """Statement key name -> vkey, as the log registers them (genesis, key.registered)."""
    keys: dict[str, str] = {}
    for line in lines:
        e = json.loads(line)
        vkeys = e["body"].get("authority_keys", []) if e["type"] == "log.genesis" else \
            [e["body"]["vkey"]] if e["type"] == "key.registered" else []
        for vkey in vkeys:
            keys[vkey.split("+", 1)[0]] = vkey
    return keys


def _reencode(line: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    obj = json.loads(line)
    change(obj)
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _first_string(body: dict[str, Any]) -> str | None:
    return next((k for k, v in sorted(body.items()) if isinstance(v, str) and v), None)


def _tamper(rng: random.Random, line: bytes) -> bytes:
    """One change an attacker or a broken tool makes to an entry's bytes."""
    def body_text(o: dict[str, Any]) -> None:
        key = _first_string(o["body"])
        if key is not None:
            o["body"][key] = o["body"][key] + "x"

    def nfd(o: dict[str, Any]) -> None:
        o["body"]["note"] = "e\u0301"

    def sig_value(o: dict[str, Any]) -> None:
        raw = bytearray(base64.b64decode(o["sig"]["value"]))
        raw[rng.randrange(64)] ^= 1
        o["sig"]["value"] = base64.b64encode(bytes(raw)).decode()

    edits: list[Callable[[bytes], bytes]] = [
        lambda b: b,
        lambda b: _reencode(b, body_text),
        lambda b: _reencode(b, lambda o: o.update(seq=o["seq"] + 1)),  # not signed: still ok
        lambda b: _reencode(b, lambda o: o.update(actor=o["actor"] + "-X")),
        lambda b: _reencode(b, lambda o: o["sig"].update(sid=o["sig"]["sid"] + "0")),
        lambda b: _reencode(b, lambda o: o["sig"].update(ctime="2026-02-29T00:00:00Z")),
        lambda b: _reencode(b, lambda o: o["sig"].update(
            value=o["sig"]["value"][:85] + "B==")),
        lambda b: _reencode(b, sig_value),
        lambda b: _reencode(b, nfd),
        lambda b: _reencode(b, lambda o: o["body"].update(ratio=1.5)),
        lambda b: _reencode(b, lambda o: o.update(extra=None)),
        lambda b: b.replace(b',"', b', "', 1),
        lambda b: b.replace(b'{"actor"', b'{"actor":"x","actor"', 1),
        lambda b: json.dumps(json.loads(b), ensure_ascii=True, sort_keys=True,
                             separators=(",", ":")).encode(),
        lambda b: b[:rng.randrange(len(b))],
        lambda b: bytes(x ^ (1 if i == rng.randrange(len(b)) else 0) for i, x in enumerate(b)),
    ]
    return rng.choice(edits)(line)


def _python_entry(data: bytes, vkey: str | None) -> dict[str, Any]:
    try:
        entry = parse_entry(data)
    except FormatError as exc:
        return {"ok": False, "kind": _kind(exc)}
    if vkey is not None and not entry.sig["sid"].startswith("batch/"):
        key = NoteVerifier.from_vkey(vkey)
        if key.name != entry.sig["key"] or not key.verify(entry.signed_bytes(), entry.signature()):
            return {"ok": False, "kind": "signature"}
    return {"ok": True, "hash": entry.hash.hex(), "seq": entry.seq}


def _batches(lines: list[bytes]) -> list[list[bytes]]:
    """The members of each import batch (the rows after its import.recorded entry)."""
    out = []
    for i, line in enumerate(lines):
        e = json.loads(line)
        if e["type"] == "import.recorded":
            out.append(lines[i + 1:i + 1 + e["body"]["rows"]])
    return out


def _python_batch(members: list[bytes], vkey: str) -> dict[str, Any]:
    entries = [parse_entry(m) for m in members]
    sig = entries[0].sig
    digest = hashlib.sha256(b"".join(hashlib.sha256(e.signed_bytes()).digest()
                                     for e in entries)).digest()
    batch_id = sig["sid"].split("/")[1]
    message = batch_message(sig["key"], batch_id, sig["ctime"], len(entries), digest)
    ok = NoteVerifier.from_vkey(vkey).verify(message, entries[0].signature())
    return {"ok": True} if ok else {"ok": False, "kind": "signature"}


@pytest.fixture(scope="module")
def demo_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    export, _ = build_export(tmp_path_factory.mktemp("demo"), targets=120, inspectors=30)
    return read_entries(export)


def test_tampered_demo_entries_same_verdict(demo_lines: list[bytes]) -> None:
    _node()
    rng = random.Random(1616)
    keys = _keys(demo_lines)
    picked = rng.sample(range(len(demo_lines)), min(len(demo_lines), 300))
    cases = []
    for i in picked:
        line = demo_lines[i]
        vkey = keys[json.loads(line)["sig"]["key"]]
        cases.append((_tamper(rng, line), vkey))
    js = run_js([{"op": "entry", "hex": data.hex(), "vkey": vkey} for data, vkey in cases])
    kinds: set[str] = set()
    for (data, vkey), got in zip(cases, js, strict=True):
        want = _python_entry(data, vkey)
        assert got["ok"] == want["ok"], (data[:200], got, want)
        if want["ok"]:
            assert got["value"] == {"hash": want["hash"], "seq": want["seq"]}
        else:
            assert got["kind"] == want["kind"], (data[:200], got, want)
        kinds.add(got["kind"] if not got["ok"] else "ok")
    assert kinds >= {"ok", "canonical", "format", "signature"}


def test_demo_batches_same_verdict(demo_lines: list[bytes]) -> None:
    _node()
    rng = random.Random(3)
    keys = _keys(demo_lines)
    cases = []
    for members in _batches(demo_lines):
        vkey = keys[json.loads(members[0])["sig"]["key"]]
        cases.append((members, vkey))
        changed = list(members)
        j = rng.randrange(len(changed))
        changed[j] = _reencode(changed[j],
                               lambda o: o["body"].update(unit=o["body"]["unit"] + "所"))
        cases.append((changed, vkey))
    assert len(cases) >= 4
    js = run_js([{"op": "batch", "entries": [m.hex() for m in members], "vkey": vkey}
                 for members, vkey in cases])
    verdicts = []
    for (members, vkey), got in zip(cases, js, strict=True):
        want = _python_batch(members, vkey)
        assert got["ok"] == want["ok"] and got.get("kind") == want.get("kind"), (got, want)
        verdicts.append(got["ok"])
    assert verdicts[::2] == [True] * (len(cases) // 2) and not any(verdicts[1::2])
