"""Witness benchmark: add-checkpoint requests per second and latency on one witness.

Run ``python bench/witness.py [--requests N]``. It starts ``python -m witness serve`` as
its own process on a loopback port (its own key folder and state, as an audit body runs
it) and sends N add-checkpoint requests one after another over one keep-alive HTTP/1.1
connection, each extending the tree by one entry with its consistency proof, so every
request is a real cosignature: parse, log-signature check, proof check, state write
(temporary file, fsync, rename, fsync of the folder), cosign.

Then the time from a new entry to a published quorum checkpoint: three witness processes
on loopback, a log whose genesis pins them with quorum 2, and the Checkpointer the API
runs (sign, add-checkpoint to the three concurrently, store with the quorum) after each
new entry; ``--rounds`` of them.

Beside it, measured in the same run in this process, the floor a witness cannot go under:
one Ed25519 signature verification (the log's), one consistency-proof verification, one
Ed25519 signature (the cosignature), and, separately, the durable write of a small file
(write, fsync, rename, fsync of the folder) that the state needs. Latencies are wall
clock (the witness is another process); the floor is the median of the same number of
repetitions.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verifier import (  # noqa: E402 (after the path insert)
    Checkpoint,
    MerkleTree,
    NoteSigner,
    cosign,
    leaf_hash,
    parse_note,
    sign_note,
    verify_consistency,
    verify_note,
)
from verifier._note import COSIGNATURE_TYPE  # noqa: E402
from verifier._witness import format_add_checkpoint  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _floor(tree: MerkleTree, log: NoteSigner, witness: NoteSigner, n: int,
           folder: Path) -> dict[str, float]:
    """Median microseconds of each step a cosignature needs, done directly."""
    old, new = tree.size // 2, tree.size // 2 + 1
    proof = tree.consistency_proof(old, new)
    note = parse_note(sign_note(Checkpoint(log.name, new, tree.root(new)).text, [log]))
    old_root, new_root = tree.root(old), tree.root(new)
    steps: dict[str, list[float]] = {"verify": [], "consistency": [], "sign": [],
                                     "durable_write": []}
    target = folder / "floor.json"
    for _ in range(n):
        t0 = time.perf_counter()
        verify_note(note, [log.verifier])
        t1 = time.perf_counter()
        verify_consistency(old, new, old_root, new_root, proof)
        t2 = time.perf_counter()
        cosign(note.text, witness, 1)
        t3 = time.perf_counter()
        tmp = folder / ".floor.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b'{"o": {"size": 1, "root": "%s"}}\n' % new_root.hex().encode())
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, target)
        dfd = os.open(folder, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        t4 = time.perf_counter()
        for key, dt in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            steps[key].append(dt * 1e6)
    return {k: statistics.median(v) for k, v in steps.items()}


def _start_witness(folder: Path, name: str, log_vkey: str
                   ) -> tuple[subprocess.Popen[str], int, str]:
    """An audit body's witness: keygen in its own folder, a log policy, serve on a free
    loopback port. Returns the process, its port and its vkey."""
    keygen = subprocess.run([sys.executable, "-m", "witness", "keygen", "--name", name,
                             "--out", str(folder / "key")], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    (key,) = (folder / "key").glob("*.skey")
    (folder / "logs.policy").write_text(f"log {log_vkey}\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "witness", "serve", "--key", str(key),
                             "--state", str(folder / "state"), "--log-policy",
                             str(folder / "logs.policy"), "--listen", "127.0.0.1:0"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline().rsplit(":", 1)[1].split()[0])
    return proc, port, keygen.stdout.strip()


def _publication(rounds: int, folder: Path) -> list[float]:
    """Microseconds from each new entry (accepted) to its published 2-of-3 checkpoint."""
    from ledger import Ledger, sign_statement
    from ledger._checkpointer import Checkpointer, load_witnesses
    from verifier._statements import DEFAULT_POLICY, genesis_body

    log = NoteSigner.generate("bench.example/quorum-log")
    authority = NoteSigner.generate("bench-authority")
    started = [_start_witness(folder / f"w{i}", f"bench.example/w{i}", log.verifier.vkey)
               for i in range(3)]
    ledger = Ledger(str(folder / "db.sqlite"))
    try:
        ledger.submit([sign_statement(authority, "log.genesis", "log", "authority", genesis_body(
            log.name, log.verifier.vkey, [authority.verifier.vkey], [v for _, _, v in started],
            2, DEFAULT_POLICY, None))])
        path = folder / "witnesses.json"
        path.write_text(json.dumps([{"vkey": v, "url": f"http://127.0.0.1:{port}"}
                                    for _, port, v in started]))
        checkpointer = Checkpointer(ledger, log, load_witnesses(path, ledger.trust()))
        checkpointer.publish()
        times = []
        for i in range(rounds):
            ledger.submit([sign_statement(authority, "department.registered",
                                          f"dept/ZC-B{i}", "authority",
                                          {"code": f"ZC-B{i}", "name": f"基准局{i}"})])
            t0 = time.perf_counter()
            outcome = checkpointer.publish()
            times.append((time.perf_counter() - t0) * 1e6)
            if outcome is None or not outcome.published:
                raise SystemExit(f"round {i}: not published ({outcome})")
        return times
    finally:
        ledger.close()
        for proc, _, _ in started:
            proc.terminate()
            proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=100,
                        help="new entries published through three witnesses")
    args = parser.parse_args()
    n = args.requests
    tree = MerkleTree([leaf_hash(b"entry %d" % i) for i in range(n + 2)])
    log = NoteSigner.generate("bench.example/log")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc, port, _ = _start_witness(folder / "one", "bench.example/witness",
                                       log.verifier.vkey)
        try:
            bodies = [format_add_checkpoint(
                i, tree.consistency_proof(i, i + 1) if i else [],
                sign_note(Checkpoint(log.name, i + 1, tree.root(i + 1)).text, [log]))
                for i in range(n)]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            latencies = []
            start = time.perf_counter()
            for body in bodies:
                t0 = time.perf_counter()
                conn.request("POST", "/add-checkpoint", body)
                resp = conn.getresponse()
                resp.read()
                latencies.append((time.perf_counter() - t0) * 1e6)
                if resp.status != 200:
                    raise SystemExit(f"witness answered {resp.status}")
            elapsed = time.perf_counter() - start
            conn.close()
        finally:
            proc.terminate()
            proc.wait(10)
        witness = NoteSigner.generate("bench.example/witness", COSIGNATURE_TYPE)
        floor = _floor(tree, log, witness, n, folder)
        publication = _publication(args.rounds, folder / "quorum")
    cpu = floor["verify"] + floor["consistency"] + floor["sign"]
    print(f"witness add-checkpoint, one witness on loopback, {n} sequential requests "
          f"(tree {n + 1} entries)")
    print(f"  throughput     {n / elapsed:10.0f} requests/s")
    print(f"  latency p50    {statistics.median(latencies):10.0f} us")
    print(f"  latency p99    {_pct(latencies, 0.99):10.0f} us")
    print(f"entry to published checkpoint, 2-of-3 quorum, three witnesses on loopback "
          f"({args.rounds} rounds)")
    print(f"  latency p50    {statistics.median(publication):10.0f} us")
    print(f"  latency p99    {_pct(publication, 0.99):10.0f} us")
    print("floor, same run (median):")
    print(f"  log signature verify (Ed25519)   {floor['verify']:8.1f} us")
    print(f"  consistency proof verify         {floor['consistency']:8.1f} us")
    print(f"  cosignature (Ed25519 sign)       {floor['sign']:8.1f} us")
    print(f"  = crypto floor                   {cpu:8.1f} us  ({1e6 / cpu:8.0f}/s)")
    print(f"  durable state write (fsync x2)   {floor['durable_write']:8.1f} us")
    total = cpu + floor["durable_write"]
    print(f"  = floor with the write           {total:8.1f} us  ({1e6 / total:8.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
