"""The edges a new user meets first: versions, a mistyped ``--db``, ``init`` without an
origin, ``make run`` and its demo, statuses in both languages, warnings at install and test.

Each test is named after the trap it closes; each failed before its fix.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

import pytest

from ledger import DEFAULT_ORIGIN, Ledger, NoLogError
from ledger._app import require_log
from ledger._cli import EXIT_NO_LOG
from ledger._cli import main as cli_main
from tests.conftest import PG_DBNAME, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        body: bytes = r.read()
        return body


# -- 15: --version ------------------------------------------------------------------------

def test_drawledger_version_names_the_package_and_the_spec(
        capsys: pytest.CaptureFixture[str]) -> None:
    from verifier import SPEC_VERSION

    with pytest.raises(SystemExit) as stop:
        cli_main(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert f"drawledger {metadata.version('drawledger')} " in out
    assert SPEC_VERSION in out and SPEC_VERSION.startswith("SPEC-v")


# -- 20: a mistyped --db is refused, never created ------------------------------------------

@pytest.mark.parametrize("command", [
    ["draws"], ["checkpoint"], ["export", "{tmp}/out"], ["bundle", "p/b", "{tmp}/b.json"],
    ["witness", "cosign"], ["import", "targets", "{tmp}/t.csv", "--department", "ZC-SCJGJ"],
    ["plan", "receive", "2025-ZC-SCJGJ"], ["calendar", "publish", "{tmp}/cn.json"],
    ["matters", "publish", "{tmp}/m.json"],
    ["result", "record", "--department", "ZC-SCJGJ", "--inspection", "x", "--outcome",
     "no_problem", "--findings", "f"],
])
def test_a_mistyped_db_is_refused_and_not_created(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    typo = tmp_path / "no-such-dir" / "typo.sqlite"
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    assert cli_main(["--db", str(typo), *args]) == EXIT_NO_LOG
    err = capsys.readouterr().err
    assert "没有日志" in err and f"no log at {typo}" in err and "drawledger" in err
    assert "init" in err and "Traceback" not in err
    assert not typo.parent.exists()  # not the file, not even its directory
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"", b"not a database\n", "sqlite-other"])
def test_a_file_that_holds_no_log_is_refused_unchanged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | str) -> None:
    db = tmp_path / "x.sqlite"
    if isinstance(content, bytes):
        db.write_bytes(content)
    else:  # a SQLite database of something else
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE other (x)")
        conn.close()
    before = db.read_bytes()
    assert cli_main(["--db", str(db), "draws"]) == EXIT_NO_LOG
    assert "no log at" in capsys.readouterr().err
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.sqlite"]


def test_python_m_api_refuses_a_mistyped_db(tmp_path: Path) -> None:
    """Before: it created typo.sqlite and served {"status":"ok","entries":0}."""
    typo = tmp_path / "typo.sqlite"
    proc = subprocess.run([sys.executable, "-m", "api", "--db", str(typo), "--port",
                           str(_free_port())], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert proc.returncode == EXIT_NO_LOG, proc.stderr
    assert "没有日志" in proc.stderr and f"no log at {typo}" in proc.stderr
    assert "Traceback" not in proc.stderr and not typo.exists()


def test_create_app_refuses_a_missing_log(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api import create_app

    with pytest.raises(NoLogError), TestClient(create_app(str(tmp_path / "typo.sqlite"))):
        pass
    assert list(tmp_path.iterdir()) == []


_PG_CONNINFO = dict(host=PG_HOST, port=PG_PORT, dbname=PG_DBNAME, user=PG_USER,
                   password=PG_PASSWORD)


@pytest.fixture
def pg_empty_schema() -> Iterator[str]:
    import psycopg

    schema = f"dl{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**_PG_CONNINFO, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(**_PG_CONNINFO, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgres
def test_a_postgres_database_without_tables_is_refused(
        pg_empty_schema: str, capsys: pytest.CaptureFixture[str]) -> None:
    import psycopg

    secret = f":{quote(PG_PASSWORD, safe='')}" if PG_PASSWORD else ""
    url = (f"postgresql://{quote(PG_USER, safe='')}{secret}@{PG_HOST}:{PG_PORT}/{PG_DBNAME}"
           f"?schema={pg_empty_schema}")
    assert cli_main(["--db", url, "draws"]) == EXIT_NO_LOG
    assert "no log at" in capsys.readouterr().err
    with pytest.raises(NoLogError):
        require_log(url)
    with psycopg.connect(**_PG_CONNINFO) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = %s",
                              (pg_empty_schema,)).fetchone()
    assert tables == (0,)  # nothing created
    ledger = Ledger(url)  # the library call that may create does, and then the log is found
    ledger.close()
    require_log(url)


# -- 20: init needs an origin; demo keeps its example one ----------------------------------

def test_init_without_origin_is_refused(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "log" / "db.sqlite"
    with pytest.raises(SystemExit) as stop:
        cli_main(["--db", str(db), "init"])
    assert stop.value.code == 64 and "--origin" in capsys.readouterr().err
    assert not db.parent.exists()
    origin = "market.example.gov.cn/ssj"
    assert cli_main(["--db", str(db), "init", "--origin", origin]) == 0
    ledger = Ledger(str(db), create=False)
    try:
        assert ledger.genesis()["origin"] == origin
    finally:
        ledger.close()


def test_draws_show_statuses_in_both_languages_and_demo_keeps_its_origin(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "db.sqlite")
    assert cli_main(["--db", db, "demo", "--targets", "30", "--inspectors", "5"]) == 0
    capsys.readouterr()
    assert cli_main(["--db", db, "draws"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines
    for line in lines:
        draw_id, _, status, *_ = line.split("\t")
        assert "/" in draw_id  # field 1 is still the draw id (`cut -f1`)
        assert status == "已执行 / executed"
    ledger = Ledger(db, create=False)
    try:
        assert ledger.genesis()["origin"] == DEFAULT_ORIGIN
    finally:
        ledger.close()


# -- 16: make run: HOST/PORT, the demo built once, rebuilt only by make demo ---------------

def _make_run(tmp_path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    # -o: the venv is what the suite already runs in; do not reinstall it from a test.
    return subprocess.Popen(
        ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "run",
         f"PORT={port}", "HOST=127.0.0.1", f"DEMO_DIR={tmp_path / 'demo'}",
         "DEMO_ARGS=--targets 30 --inspectors 5"],
        cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _serve_until_healthy(proc: subprocess.Popen[bytes], port: int, log: Path) -> bytes:
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"make run exited {proc.returncode}:\n{log.read_text()}")
            try:
                return _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"make run did not serve within 90 s:\n{log.read_text()}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv/bin/python").exists(),
                    reason="needs make and the project's .venv")
def test_make_run_builds_the_demo_once_and_serves_on_port(tmp_path: Path) -> None:
    """Before: port 8000 only, and var/demo wiped and rebuilt on every `make run`."""
    port = _free_port()
    log = tmp_path / "first.log"
    health = _serve_until_healthy(_make_run(tmp_path, port, log), port, log)
    first = log.read_text()
    assert b'"status":"ok"' in health and "building the demo log" in first
    db = tmp_path / "demo" / "drawledger.sqlite"
    built = db.stat().st_mtime_ns
    log = tmp_path / "second.log"
    port = _free_port()
    again = _serve_until_healthy(_make_run(tmp_path, port, log), port, log)
    second = log.read_text()
    assert "reusing the demo log" in second and "沿用" in second
    assert "rm -rf" not in second and "demo log:" not in second  # nothing rebuilt
    assert again == health and db.stat().st_mtime_ns == built
    rebuild = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed-stamp",
                              "demo", f"DEMO_DIR={tmp_path / 'demo'}",
                              "DEMO_ARGS=--targets 30 --inspectors 5"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
    assert "replacing" in rebuild.stdout and "替换" in rebuild.stdout
    assert not (tmp_path / "demo.new").exists() and db.exists()


# -- 18: warnings a newcomer sees at install and test ----------------------------------------

def test_pyproject_license_is_an_spdx_string_for_a_setuptools_that_reads_it() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    requires = PYPROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77
               for r in requires), requires


def test_building_the_package_prints_no_warning(tmp_path: Path) -> None:
    """What `make install` builds: no deprecated license table, no editable-finder notice."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    for package in ("verifier", "ledger", "api"):
        shutil.copytree(ROOT / package, project / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"),
                           "install", "--no-deps", "-e", str(project)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "--python" in proc.stderr:
        pytest.skip("this pip cannot install into another interpreter")
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "BuildBackendWarning" not in output and "deprecated" not in output.lower(), output


@pytest.mark.parametrize("extra", ["server", "dev"])
def test_dependencies_have_upper_bounds(extra: str) -> None:
    """A release next month must not change what a fresh `make install` gets."""
    for requirement in PYPROJECT["project"]["optional-dependencies"][extra]:
        assert "<" in requirement or "==" in requirement, requirement
    names = {re.split(r"[\[<>=]", r)[0] for r in PYPROJECT["project"]["optional-dependencies"]
             ["server"]}
    assert {"fastapi", "starlette", "uvicorn"} <= names


def test_the_test_client_imports_without_a_deprecation_warning() -> None:
    proc = subprocess.run([sys.executable, "-W", "error", "-c", "import fastapi.testclient"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
