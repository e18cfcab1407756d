"""``sign registry targets|inspectors FILE``: a registry file as one signed batch.

The rows are read by ``regfile``, the parser ``drawledger import`` uses, so the client
makes the same all-or-nothing checks (every bad row named by row and column, nothing
signed while one is bad) before the batch travels; the log checks the rows against its
state again (a USCC already registered, another department's sub-registry).
"""

from __future__ import annotations

import sys
from pathlib import Path

from regfile import RegistryFileError, format_errors, parse_file, statements
from verifier import BatchSubmission, NoteSigner, sign_batch

__all__ = ["sign_registry"]


def sign_registry(signer: NoteSigner, kind: str, path: Path, dept: str, *, seal: bool = False
                  ) -> tuple[BatchSubmission, str]:
    """The signed batch submission of ``path`` (``import.recorded`` head and one member
    per row), and the file's name; RegistryFileError lists every bad row. ``seal``: for a
    v2 log, each row's internal fields sealed, the openings in the file (SPEC.md 21.3)."""
    parsed = parse_file(path, kind, dept)
    if parsed.errors:
        more = " and more" if parsed.errors_omitted else ""
        raise RegistryFileError(
            f"{path.name}: {len(parsed.errors):,} 处问题，未签名 / problem(s){more}, nothing "
            "signed:\n" + format_errors(parsed.errors, parsed.errors_omitted))
    if not parsed.rows:
        raise RegistryFileError(f"{path.name}: 没有数据行 / no rows, nothing signed")
    if parsed.warnings:
        print(format_errors(parsed.warnings), file=sys.stderr)
    head = {"kind": kind, "dept": dept, "file_sha256": parsed.file_sha256,
            "file_name": parsed.file_name}
    return (sign_batch(signer, head, list(statements(kind, parsed.rows)), seal=seal),
            parsed.file_name)
