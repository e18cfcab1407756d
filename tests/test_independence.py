"""The verifier stands alone: importing it loads neither ledger nor api, nor their deps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import api
import ledger
import verifier

ROOT = Path(__file__).resolve().parent.parent


def test_verifier_imports_neither_ledger_nor_api() -> None:
    code = ("import sys, verifier, verifier._cli\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('ledger', 'api', 'eventsourcing', 'fastapi', 'uvicorn', 'psycopg'))\n"
            "print(','.join(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert proc.stdout.strip() == ""


def test_verifier_sources_import_only_stdlib_and_cryptography() -> None:
    allowed = set(sys.stdlib_module_names) | {"cryptography", "verifier"}
    for path in (ROOT / "verifier").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and not line.startswith(" "):
                top = words[1].split(".")[0]
                assert top in allowed or top == "__future__", f"{path.name}: {line}"


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
