"""A verifier-only install (issue 16 item 5): ``pip install drawledger`` with no extras,
in a fresh virtual environment, checks a demo draw's bundle and an entity proof end to
end, the drand round's BLS signature included (exit 0, never "unverifiable"); the
``drawledger`` command says which package is missing and how to install it, with no
traceback; the department client and the witness start. Without the BLS library the
same bundle is unverifiable (exit 3), still without a traceback.

The files are written by this checkout's own environment first. The test needs PyPI
(pip's cache makes a rerun quick): it is skipped only when PyPI does not answer and
DRAWLEDGER_REQUIRE_NETWORK is unset.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("verifier", "regfile", "ledger", "api", "client", "witness", "drawledger")
INSTALL_SECONDS = 240


def _pypi_answers() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/cryptography/", timeout=10) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _checkout_copy(dst: Path) -> Path:
    """The sources pip builds from, outside the checkout (an in-tree build would write
    build/ there): pyproject, README and the packages."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dst / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dst / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dst


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site packages) with the checkout installed, no extras."""
    if not _pypi_answers():
        if os.environ.get("DRAWLEDGER_REQUIRE_NETWORK"):
            pytest.fail("PyPI does not answer and DRAWLEDGER_REQUIRE_NETWORK is set")
        pytest.skip("PyPI does not answer (set DRAWLEDGER_REQUIRE_NETWORK=1 to fail instead)")
    root = tmp_path_factory.mktemp("install")
    (root / "src").mkdir()
    src = _checkout_copy(root / "src")
    env = root / "venv"
    made = _run([sys.executable, "-m", "venv", str(env)], root)
    assert made.returncode == 0, made.stderr
    done = _run([str(env / "bin" / "python"), "-m", "pip", "install", "--quiet",
                 "--disable-pip-version-check", str(src)], root, timeout=INSTALL_SECONDS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A demo log's trust.json, one draw's bundle and a drawn company's entity proof,
    written with this checkout's environment (which has the server side)."""
    root = tmp_path_factory.mktemp("files")
    db = str(root / "db.sqlite")

    def cli(*args: str) -> str:
        done = _run([sys.executable, "-m", "ledger._cli", "--db", db, *args], ROOT)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("demo", "--targets", "200", "--inspectors", "40")
    cli("export", str(root / "out"))
    draw = cli("draws").splitlines()[0].split("\t")[0]
    cli("bundle", draw, str(root / "draw.json"))
    bundle = json.loads((root / "draw.json").read_text(encoding="utf-8"))
    executed = [json.loads(e["entry"]) for e in bundle["entries"]]
    uscc = next(e["body"]["outcome"]["selected"][0]["uscc"] for e in executed
                if e["type"] == "draw.executed")
    cli("entity-proof", draw, uscc, str(root / "entity.json"))
    return {"trust": root / "out" / "trust.json", "bundle": root / "draw.json",
            "entity": root / "entity.json"}


def _verify(venv: Path, cwd: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """``python -m verifier ARGS --json`` in the venv, from a directory that is not the
    checkout (so the installed copy runs): exit code, report, stderr."""
    done = _run([str(venv / "bin" / "python"), "-m", "verifier", *args, "--json"], cwd)
    assert "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report, done.stderr


def test_verifier_only_install_checks_a_draw_and_an_entity_proof(
        venv: Path, files: dict[str, Path], tmp_path: Path) -> None:
    py = str(venv / "bin" / "python")
    where = _run([py, "-c", "import verifier; print(verifier.__file__)"], tmp_path)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    server = _run([py, "-c", "import eventsourcing"], tmp_path)
    assert server.returncode != 0  # verifier-only: no server side installed

    trust = str(files["trust"])
    code, report, _ = _verify(venv, tmp_path, "bundle", str(files["bundle"]), "--trust", trust)
    assert (code, report["exit_code"], report["findings"]) == (0, 0, []), report
    assert report["draws"]["verified"] == 1 and report["trust_source"] == "pinned"

    code, proof, _ = _verify(venv, tmp_path, "entity-proof", str(files["entity"]),
                             "--trust", trust)
    assert (code, proof["exit_code"]) == (0, 0), proof
    steps = {s["step"]: s["ok"] for s in proof["steps"]}
    assert steps["beacon"] is True and all(steps.values()), steps
    assert proof["answer"]["verdict"] == "drawn"

    # without the compiled BLS library the verifier still runs: the round is unverifiable
    gone = _run([py, "-m", "pip", "uninstall", "--yes", "--quiet", "py_arkworks_bls12381"],
                tmp_path)
    assert gone.returncode == 0, gone.stderr
    try:
        code, report, _ = _verify(venv, tmp_path, "bundle", str(files["bundle"]),
                                  "--trust", trust)
        assert code == 3 and report["exit_code"] == 3, report
        assert {(f["rule"], f["kind"]) for f in report["findings"]} == {
            ("V5.beacon", "unverifiable")}, report["findings"]
    finally:
        back = _run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                     "py_arkworks_bls12381==0.5.0"], tmp_path, timeout=INSTALL_SECONDS)
        assert back.returncode == 0, back.stderr


def test_commands_without_the_server_extra(venv: Path, tmp_path: Path) -> None:
    bin_ = venv / "bin"
    for args in (["--help"], ["--db", "x.sqlite", "export", "out"]):
        done = _run([str(bin_ / "drawledger"), *args], tmp_path)
        assert done.returncode == 69, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert "pip install 'drawledger[server]'" in done.stderr
        assert "缺少 Python 包 eventsourcing" in done.stderr, done.stderr
        assert "the Python package eventsourcing is missing" in done.stderr
    assert not (tmp_path / "x.sqlite").exists()
    for cmd in ([str(bin_ / "drawledger-client"), "--help"],
                [str(bin_ / "python"), "-m", "witness", "--help"]):
        done = _run(cmd, tmp_path)
        assert done.returncode == 0 and "usage" in done.stdout, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
