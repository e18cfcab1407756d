"""The verifier stands alone: importing it loads neither ledger nor api, nor their deps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import api
import ledger
import verifier

ROOT = Path(__file__).resolve().parent.parent


_SERVER_SIDE = ("ledger", "api", "eventsourcing", "fastapi", "uvicorn", "psycopg", "httpx")


def _loaded_server_side(imports: str) -> list[str]:
    """The server-side modules a fresh interpreter holds after ``import <imports>``."""
    code = (f"import sys, {imports}\n"
            f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{_SERVER_SIDE!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return [m for m in proc.stdout.strip().split(",") if m]


def test_verifier_imports_neither_ledger_nor_api() -> None:
    assert _loaded_server_side("verifier, verifier._cli") == []


def _top_level_imports(package: str) -> list[tuple[str, str]]:
    """(file name, top-level package) of each module-level import in ``package``."""
    out = []
    for path in (ROOT / package).glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and not line.startswith(" "):
                out.append((path.name, words[1].split(".")[0]))
    return out


def test_verifier_sources_import_only_stdlib_and_cryptography() -> None:
    allowed = set(sys.stdlib_module_names) | {"cryptography", "verifier", "__future__"}
    for name, top in _top_level_imports("verifier"):
        assert top in allowed, f"{name}: imports {top}"


def test_client_imports_the_verifier_never_ledger_or_api() -> None:
    """A department runs the client without the server: importing it (and its CLI, every
    command's module) loads neither ledger nor api nor the server's libraries."""
    modules = ", ".join(f"client.{p.stem}" for p in sorted((ROOT / "client").glob("_*.py"))
                        if p.stem != "__main__")
    assert _loaded_server_side(f"client, {modules}") == []
    for path in (ROOT / "client").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.strip().split()
            if len(words) >= 2 and words[0] in ("import", "from"):
                assert words[1].split(".")[0] not in ("ledger", "api"), f"{path.name}: {line}"


def test_regfile_imports_only_stdlib_verifier_and_openpyxl() -> None:
    """The registry parser is shared by the ledger and the client: it depends on neither."""
    assert _loaded_server_side("regfile, regfile._parse, regfile._xlsx") == []
    allowed = set(sys.stdlib_module_names) | {"verifier", "regfile", "__future__"}
    for name, top in _top_level_imports("regfile"):
        assert top in allowed, f"{name}: imports {top}"


def test_ledger_never_imports_api() -> None:
    for path in (ROOT / "ledger").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from api" not in text and "import api" not in text.replace("import api_", "")


def test_public_names_are_pinned() -> None:
    for module in (verifier, ledger, api):
        exported = set(module.__all__)
        public = {n for n in dir(module) if not n.startswith("_")} - {
            n for n in dir(module) if type(getattr(module, n)).__name__ == "module"}
        assert {n for n in exported if not n.startswith("__")} == public
        for name in exported:
            assert getattr(module, name) is not None


def test_witness_imports_the_verifier_never_ledger_or_api() -> None:
    """An audit body runs the witness service with the verifier's dependencies only:
    importing it (its server and CLI too) loads neither ledger nor api nor their libraries,
    and its sources import only the standard library, cryptography and the verifier."""
    assert _loaded_server_side("witness, witness._server, witness.__main__") == []
    allowed = set(sys.stdlib_module_names) | {"cryptography", "verifier", "witness",
                                              "__future__"}
    for name, top in _top_level_imports("witness"):
        assert top in allowed, f"{name}: imports {top}"
