"""The log as C2SP tlog-tiles (issue 14 item 3, SPEC.md 19): paths, entry bundles with
entries over 65,535 bytes, ``drawledger tiles`` and the API serving the same bytes, and
``python -m verifier audit --tiles`` giving the export's report and catching tiles that
lie. Attacks are named after what they do."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from ledger import Ledger, Parties, build_demo
from ledger._tiles import write_tiles
from verifier import FormatError, MerkleTree, entry_hash
from verifier._tiles import (
    TILE_WIDTH,
    decode_bundle,
    encode_bundle,
    parse_tile_path,
    tile_path,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A small demo year (~350 entries: a full and a partial bundle), its export and its
    static tiles."""
    root = tmp_path_factory.mktemp("tiles")
    ledger = Ledger(str(root / "db.sqlite"))
    try:
        build_demo(ledger, Parties(root / "parties"), targets=40, inspectors=10)
        ledger.export(root / "export")
        write_tiles(ledger, root / "tiles")
    finally:
        ledger.close()
    yield {"root": root, "db": root / "db.sqlite", "export": root / "export",
           "tiles": root / "tiles"}


def verifier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verifier", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def report(*args: str) -> tuple[int, dict[str, Any]]:
    done = verifier("audit", *args, "--json", "--workers", "0")
    return done.returncode, json.loads(done.stdout)


def without_source(obj: dict[str, Any]) -> dict[str, Any]:
    """The report minus what names where the data came from."""
    return {k: v for k, v in obj.items() if k != "trust_source"}


def published_size(log: dict[str, Path]) -> int:
    """The demo's size (its dates follow the clock): one full and one partial bundle."""
    size = int((log["tiles"] / "checkpoint").read_text().splitlines()[1])
    assert 256 < size < 512
    return size


def rules(obj: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in obj["findings"]}


# -- paths and bundles ------------------------------------------------------------------

def test_tile_paths_are_the_specs_spelling() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 5, 7) == "tile/1/005.p/7"
    assert tile_path(None, 1000) == "tile/entries/x001/000"
    for level, index, width in [(0, 0, 256), (2, 1234067, 1), (None, 999, 255),
                                (None, 1000, 256), (63, 10**9, 128)]:
        assert parse_tile_path(tile_path(level, index, width)[5:]) == (level, index, width)


@pytest.mark.parametrize("path", ["0/5", "0/0005", "0/x000/005", "0/005.p/0", "0/005.p/256",
                                  "0/005.p/07", "00/005", "64/000", "data/000", "0/x001",
                                  "0/001/002", "entries/abc", "0/005.p", "-1/000"])
def test_two_spellings_of_one_tile_are_refused(path: str) -> None:
    """A cache holding one tile under two names could be fed two contents for it."""
    with pytest.raises(FormatError):
        parse_tile_path(path)


def test_entry_over_65535_bytes_round_trips_in_the_long_form() -> None:
    entries = [b"a" * 65535, b"b" * 65536, b"c", b"d" * (1 << 20)]
    data = encode_bundle(entries)
    assert data[:2] == b"\xff\xff"  # 65,535 still fits tlog-tiles' own prefix
    assert data[2 + 65535:2 + 65535 + 6] == b"\x00\x00" + (65536).to_bytes(4, "big")
    assert decode_bundle(data, 4) == entries


@pytest.mark.parametrize(("data", "count"), [
    (b"\x00\x00\x00\x00\x00\x05hello", 1),  # the long form for a short entry
    (b"\x00\x00\x00\x10\x00\x01" + b"x" * (1 << 20 | 1), 1),  # over the 1 MiB limit
    (b"\x00\x05hello!", 1),  # trailing bytes
    (b"\x00\x05hello", 2),  # one entry short
    (b"\x00\x09hello", 1),  # cut inside the entry
    (b"\x00\x00\x00", 1),  # cut inside the long length
])
def test_bundle_in_another_encoding_is_refused(data: bytes, count: int) -> None:
    with pytest.raises(FormatError):
        decode_bundle(data, count)


# -- static tiles, API, audit -----------------------------------------------------------

def test_static_tiles_hold_the_published_tree(log: dict[str, Path]) -> None:
    tiles, export = log["tiles"], log["export"]
    lines = (export / "entries.jsonl").read_bytes().splitlines()
    size = published_size(log)
    assert size == len(lines)
    bundles = (tiles / "tile/entries/000").read_bytes() + \
        (tiles / f"tile/entries/001.p/{size - 256}").read_bytes()
    assert decode_bundle(bundles, size) == lines
    tree = MerkleTree(entry_hash(line) for line in lines)
    assert (tiles / "tile/0/000").read_bytes() == b"".join(tree.leaf(i) for i in range(256))
    assert (tiles / "tile/1/000.p/1").read_bytes() == tree.root(256)
    names = (tiles / "checkpoints/index").read_text().split()
    assert sorted(names) == sorted(p.name for p in (export / "checkpoints").iterdir())
    for name in names:
        assert (tiles / "checkpoints" / name).read_bytes() == \
            (export / "checkpoints" / name).read_bytes()


def test_audit_tiles_gives_the_export_report(log: dict[str, Path]) -> None:
    """Acceptance: the same JSON report from the static tiles as from the export."""
    code_export, from_export = report(str(log["export"]))
    code_tiles, from_tiles = report("--tiles", str(log["tiles"]),
                                    "--trust", str(log["export"] / "trust.json"))
    assert code_export == code_tiles == 0
    assert from_tiles["entries"] == published_size(log)
    assert from_tiles["trust_source"].startswith("--trust")
    assert without_source(from_tiles) == without_source(from_export)


def test_api_serves_the_static_bytes(log: dict[str, Path]) -> None:
    """Every file of ``drawledger tiles`` is what the API answers, with immutable caching
    only on full tiles; nothing beyond the published tree, no second spelling."""
    tiles = log["tiles"]
    with TestClient(create_app(str(log["db"]))) as client:
        for path in sorted(p for p in tiles.rglob("*") if p.is_file()):
            rel = path.relative_to(tiles).as_posix()
            got = client.get("/" + rel)
            assert got.status_code == 200, rel
            assert got.content == path.read_bytes(), rel
            if rel.startswith("tile/"):
                partial = ".p/" in rel
                assert ("immutable" in got.headers["cache-control"]) != partial, rel
        assert client.get("/checkpoint").headers["cache-control"] == "no-cache"
        wider = f"/tile/entries/001.p/{published_size(log) - 255}"
        for beyond in ["/tile/entries/001", "/tile/0/001", wider,
                       "/tile/1/000", "/tile/2/000.p/1", "/tile/0/0", "/tile/0/x000/000",
                       "/checkpoints/..%2Ftrust.json", "/checkpoints/999999999999.note"]:
            got = client.get(beyond)
            assert got.status_code == 404, beyond
            assert got.headers["content-type"].startswith("application/problem+json")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_audit_tiles_over_http_from_a_real_server(log: dict[str, Path]) -> None:
    """``audit --tiles http://...`` against ``python -m api`` in its own process."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "api", "--db", str(log["db"]),
                               "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        code, from_http = report("--tiles", base, "--trust",
                                 str(log["export"] / "trust.json"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    _, from_export = report(str(log["export"]))
    assert code == 0
    assert without_source(from_http) == without_source(from_export)


def tampered(log: dict[str, Path], name: str) -> Path:
    copy = log["root"] / name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(log["tiles"], copy)
    return copy


def test_forged_hash_tile_is_caught(log: dict[str, Path]) -> None:
    """A server that serves its true entries but a lying level-0 tile would have Go's
    TileHashReader reject proofs, or a lazy client accept a wrong one: V1.tiles, exit 2."""
    tiles = tampered(log, "forged-tile")
    path = tiles / "tile/0/000"
    data = bytearray(path.read_bytes())
    data[32 * 7] ^= 1
    path.write_bytes(bytes(data))
    code, obj = report("--tiles", str(tiles), "--trust", str(log["export"] / "trust.json"))
    assert code == 2
    found = [f for f in obj["findings"] if f["rule"] == "V1.tiles"]
    assert [(f["seq"], f["seq_end"]) for f in found] == [(0, 255)]


def test_forged_level1_tile_is_caught(log: dict[str, Path]) -> None:
    tiles = tampered(log, "forged-level1")
    (tiles / "tile/1/000.p/1").write_bytes(b"\x00" * 32)
    code, obj = report("--tiles", str(tiles), "--trust", str(log["export"] / "trust.json"))
    assert code == 2
    assert rules(obj) == {"V1.tiles"}


def test_missing_hash_tile_is_caught(log: dict[str, Path]) -> None:
    tiles = tampered(log, "missing-tile")
    (tiles / f"tile/0/001.p/{published_size(log) - 256}").unlink()
    code, obj = report("--tiles", str(tiles), "--trust", str(log["export"] / "trust.json"))
    assert code == 2
    assert rules(obj) == {"V1.tiles"}


def test_entry_rewritten_in_a_bundle_is_caught(log: dict[str, Path]) -> None:
    """The bundle's bytes are the entries the audit replays: one changed character of
    entry 99 breaks the chain and every checkpoint over it."""
    tiles = tampered(log, "rewritten-entry")
    path = tiles / "tile/entries/000"
    entries = decode_bundle(path.read_bytes(), TILE_WIDTH)
    entries[99] = entries[99].replace(b'"actor":"', b'"actor":"X', 1)
    path.write_bytes(encode_bundle(entries))
    code, obj = report("--tiles", str(tiles), "--trust", str(log["export"] / "trust.json"))
    assert code == 2
    assert {"V1.chain", "V1.tiles"} <= rules(obj)


def test_truncated_bundle_ends_the_entries(log: dict[str, Path]) -> None:
    tiles = tampered(log, "truncated-bundle")
    path = tiles / f"tile/entries/001.p/{published_size(log) - 256}"
    path.write_bytes(path.read_bytes()[:-10])
    code, obj = report("--tiles", str(tiles), "--trust", str(log["export"] / "trust.json"))
    assert code == 2
    assert obj["entries"] == 256
    assert {"V1.tiles", "V1.truncated"} <= rules(obj)


def test_index_naming_a_file_outside_the_tiles_is_refused(log: dict[str, Path]) -> None:
    """checkpoints/index is data from the server: a line ``../../x`` must not make the
    verifier read a file outside the tile directory (usage error, nothing read)."""
    tiles = tampered(log, "traversal")
    (log["root"] / "secret.note").write_text("not yours\n")
    with (tiles / "checkpoints/index").open("a") as fh:
        fh.write("../../secret.note\n")
    done = verifier("audit", "--tiles", str(tiles), "--json")
    assert done.returncode == 64
    assert "checkpoints/index" in json.loads(done.stdout)["error"]["en"]
    assert "Traceback" not in done.stderr


def test_not_a_tile_log_is_a_usage_error(log: dict[str, Path]) -> None:
    done = verifier("audit", "--tiles", str(log["export"]))
    assert done.returncode == 64
    assert "not a tile log" in done.stderr and "Traceback" not in done.stderr
    done = verifier("audit", str(log["export"]), "--tiles", str(log["tiles"]))
    assert done.returncode == 64


def test_tiles_refuse_to_overwrite_a_full_tile_with_other_bytes(log: dict[str, Path]
                                                                 ) -> None:
    """A full tile never changes: rewriting one is a fork, refused with exit 2."""
    tiles = tampered(log, "fork")
    path = tiles / "tile/0/000"
    path.write_bytes(b"\x01" * 8192)
    done = subprocess.run([str(Path(sys.executable).parent / "drawledger"), "--db",
                           str(log["db"]), "tiles", str(tiles)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "tile/0/000" in done.stderr and "Traceback" not in done.stderr
    assert path.read_bytes() == b"\x01" * 8192


# -- an independent client: Go's golang.org/x/mod/sumdb/{note,tlog} --------------------

GOPATH = os.environ.get("DRAWLEDGER_GOPATH", "/usr/share/gocode")  # Debian's x/mod


@pytest.fixture(scope="module")
def tilecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/go/tilecheck built against x/mod (Debian's golang-golang-x-mod-dev, offline,
    GOPATH mode). Skipped when Go or x/mod is absent, unless DRAWLEDGER_REQUIRE_GO=1
    (.ci/run sets it and installs both)."""
    go = shutil.which("go")
    mod = Path(GOPATH) / "src/golang.org/x/mod/sumdb/tlog"
    if go is None or not mod.is_dir():
        why = (f"Go ({'found' if go else 'no go on PATH'}) and golang.org/x/mod in {GOPATH} "
               "are needed: apt-get install golang-go golang-golang-x-mod-dev")
        if os.environ.get("DRAWLEDGER_REQUIRE_GO") == "1":
            pytest.fail(why)
        pytest.skip(why)
    out = tmp_path_factory.mktemp("go") / "tilecheck"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOFLAGS": "",
           "GOCACHE": str(out.parent / "cache")}
    subprocess.run([go, "build", "-o", str(out), "."], cwd=REPO / "tests/go/tilecheck",
                   env=env, check=True, timeout=600)
    return out


def older_note(log: dict[str, Path]) -> str:
    """An earlier published checkpoint's note, about half the tree."""
    names = [n for n in (log["tiles"] / "checkpoints/index").read_text().split()
             if "." not in n[:-5] and 100 < int(n[:12]) < published_size(log)]
    return names[0]


def go_check(tool: Path, log: dict[str, Path], tiles: str, old: str, seed: int = 14
             ) -> subprocess.CompletedProcess[str]:
    vkey = json.loads((log["export"] / "trust.json").read_text())["log_key"]
    return subprocess.run([str(tool), tiles, vkey, str(log["export"] / "entries.jsonl"),
                           str(log["tiles"] / "checkpoints" / old), str(seed)],
                          capture_output=True, text=True, timeout=300)


def test_go_x_mod_verifies_checkpoint_tiles_and_proofs(tilecheck: Path,
                                                       log: dict[str, Path]) -> None:
    """Acceptance: x/mod's note verifies the checkpoint with our vkey as is, its
    TileHashReader authenticates our hash tiles against the signed root, and inclusion
    (first, last, 20 random) and consistency (an older published checkpoint) proofs built
    from them check; the root it computes is the checkpoint's, byte for byte."""
    old = older_note(log)
    done = go_check(tilecheck, log, str(log["tiles"]), old)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    lines = (log["tiles"] / "checkpoint").read_text().splitlines()
    assert (got["origin"], got["size"], got["root"]) == (lines[0], int(lines[1]), lines[2])
    size = published_size(log)
    assert got["inclusion"][:2] == [0, size - 1] and len(got["inclusion"]) == 22
    assert got["consistency"] == [int(old[:12]), size]


def test_go_x_mod_refuses_a_forged_tile(tilecheck: Path, log: dict[str, Path]) -> None:
    """The same client against a tile log with one flipped hash bit: it refuses."""
    tiles = tampered(log, "forged-for-go")
    path = tiles / f"tile/0/001.p/{published_size(log) - 256}"
    data = bytearray(path.read_bytes())
    data[0] ^= 0x80
    path.write_bytes(bytes(data))
    done = go_check(tilecheck, log, str(tiles), older_note(log))
    assert done.returncode == 1
    assert "tilecheck:" in done.stderr
