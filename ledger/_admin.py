"""The authority's and departments' routine statements: calendars, matters, plans.

Each function signs with the key it is given and submits through ``Ledger.submit``, so the
same rules as everywhere apply and a refused statement writes nothing.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ledger._app import ImportResult, Ledger
from ledger._errors import ImportRejectedError, InputError
from ledger._import import (
    KIND_ALIASES,
    KINDS,
    ParseInChild,
    ParseStream,
    RowError,
    conflict_errors,
    format_errors,
    parse_file,
)
from ledger._statements import sign_statement
from regfile import RegistryFileError, statements
from verifier import NoteSigner, VerifierError
from verifier._calendar import body_from_file

__all__ = ["bundled_calendars", "calendar_from_file", "file_plan", "import_file",
           "publish_calendar", "publish_matters", "publish_plan", "receive_plan"]


def bundled_calendars() -> list[dict[str, Any]]:
    """The official calendars shipped in ``ledger/data/calendar`` (2019-2026), as bodies."""
    folder = resources.files("ledger") / "data" / "calendar"
    bodies = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.startswith("cn-") and item.name.endswith(".json"):
            bodies.append(body_from_file(json.loads(item.read_text(encoding="utf-8"))))
    return bodies


def publish_calendar(ledger: Ledger, authority: NoteSigner, body: dict[str, Any],
                     *, amend: bool = False) -> int:
    """``calendar.published`` (or ``calendar.amended``) for one year."""
    type_ = "calendar.amended" if amend else "calendar.published"
    return ledger.submit([sign_statement(authority, type_, f"calendar/{body['year']}",
                                         "authority", body)])[0]


def calendar_from_file(path: Path) -> dict[str, Any]:
    """A calendar body from a ``cn-YYYY.json`` file (the shipped format)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON calendar ({exc})") from None
    try:
        return body_from_file(data)
    except (VerifierError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a calendar in the bundled format ({exc})") from None


def publish_matters(ledger: Ledger, authority: NoteSigner, matters: list[dict[str, Any]],
                    now: datetime | None = None) -> list[int]:
    """The 随机抽查事项清单: one ``matter.published`` per line, in one transaction."""
    return ledger.submit([sign_statement(authority, "matter.published", f"matter/{m['id']}",
                                         "authority", m, now=now) for m in matters])


def file_plan(ledger: Ledger, signer: NoteSigner, plan: dict[str, Any],
              now: datetime | None = None) -> int:
    """``plan.filed`` by the plan's lead department."""
    return ledger.submit([sign_statement(signer, "plan.filed", f"plan/{plan['plan_id']}",
                                         str(plan["dept"]), plan, now=now)])[0]


def receive_plan(ledger: Ledger, authority: NoteSigner, plan_id: str,
                 on: date | None = None, now: datetime | None = None) -> int:
    """The office's filing receipt (``plan.received``)."""
    day = (on or datetime.now(UTC).date()).isoformat()
    return ledger.submit([sign_statement(authority, "plan.received", f"plan/{plan_id}",
                                         "authority", {"plan_id": plan_id, "received_on": day},
                                         now=now)])[0]


def publish_plan(ledger: Ledger, signer: NoteSigner, dept: str, plan_id: str,
                 url: str, now: datetime | None = None) -> int:
    """``plan.published``: where the department made the plan public."""
    return ledger.submit([sign_statement(signer, "plan.published", f"plan/{plan_id}", dept,
                                         {"plan_id": plan_id, "dept": dept, "url": url},
                                         now=now)])[0]


def import_file(ledger: Ledger, signer: NoteSigner, dept: str, kind: str, path: Path, *,
                background: bool | None = None) -> tuple[ImportResult, list[RowError]]:
    """Parse ``path`` and append it as one import, all or nothing.

    Raises InputError listing every bad row (row, column, reason) and writes nothing when
    any row is bad; returns the result and the warnings otherwise. ``background`` (the
    default where ``ParseInChild.available()``) parses in a forked child while this
    process encodes the rows it has sent; the outcome is the same.

    The cyclic garbage collector is paused meanwhile: an import allocates a few objects
    per row and frees none until it ends, so each full collection it would trigger
    (several for 100,000 rows) only walks the growing heap to find nothing.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _import_file(ledger, signer, dept, kind, path, background)
    except RegistryFileError as exc:  # the shared parser's own error, as the ledger's
        raise InputError(str(exc)) from None
    finally:
        if paused:
            gc.enable()


def _import_file(ledger: Ledger, signer: NoteSigner, dept: str, kind: str, path: Path,
                 background: bool | None) -> tuple[ImportResult, list[RowError]]:
    if background is None:
        background = ParseInChild.available()
    kind = KIND_ALIASES.get(kind, kind)

    def items(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        return statements(kind, rows)  # lazily: an unknown kind is the parser's to name

    if background and kind in KINDS and Path(path).suffix.lower() == ".xlsx":
        # openpyxl is the slow part: the child reads the cells, this process checks them.
        with ParseInChild(path, kind, dept, cells=True) as job:
            stream = ParseStream(path, kind, dept, xlsx_rows=job.xlsx_rows)
            encoded = ledger.encode_import(dept, items(stream.rows()))
            parsed = stream.parsed()
    elif background and kind in KINDS:
        with ParseInChild(path, kind, dept) as job:
            encoded = ledger.encode_import(dept, items(job.rows()))
            parsed = job.result()
    else:
        parsed = parse_file(path, kind, dept)
        encoded = None
    if parsed.errors:
        more = " and more" if parsed.errors_omitted else ""
        raise InputError(f"{Path(path).name}: {len(parsed.errors):,} problem(s){more}, nothing "
                         "imported:\n" + format_errors(parsed.errors, parsed.errors_omitted))
    record = {"kind": kind, "file_sha256": parsed.file_sha256, "file_name": parsed.file_name}
    # parse_file ran the verifier's body rules (check_body) on every row it kept.
    try:
        return (ledger.submit_import(signer, dept, record,
                                     encoded if encoded is not None else items(parsed.rows),
                                     bodies_checked=True),
                parsed.warnings)
    except ImportRejectedError as exc:  # rows that conflict with the log, by row and column
        errors = conflict_errors(kind, parsed.row_numbers, exc.refused)
        raise InputError(f"{Path(path).name}: {len(errors) + exc.omitted:,} row(s) conflict "
                         "with the log, nothing imported:\n"
                         + format_errors(errors, exc.omitted)) from None
