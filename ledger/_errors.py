"""The ledger's exceptions, split by who is at fault.

::

    LedgerError                  root
    ├── InputError               the caller's data is wrong (names the field, row or line);
    │   └── RejectedError        a well-formed statement the rules refuse (carries findings)
    │       └── ImportRejectedError  import rows the rules refuse (every one, by index)
    └── StorageError             the database refused or is misconfigured
        └── NoLogError           the database holds no log (only ``init``/``demo`` make one)

    verifier.KeyFileError        a key file is missing, unreadable, exposed or malformed
                                 (re-exported: key files are the verifier's, a party's
                                 client reads them without the ledger)

Nothing is written when any of these is raised during a submission.
"""

from __future__ import annotations

from collections.abc import Sequence

from verifier import Finding, KeyFileError

__all__ = ["ImportRejectedError", "InputError", "KeyFileError", "LedgerError", "NoLogError",
           "RejectedError", "StorageError"]


class LedgerError(Exception):
    """Root of every exception the ledger raises."""


class InputError(LedgerError, ValueError):
    """Bad input from the caller; the message names the field, row or line."""


class RejectedError(InputError):
    """A statement the authorisation rules refuse; ``findings`` says which rule and why."""

    def __init__(self, index: int, findings: Sequence[Finding]) -> None:
        self.index = index
        self.findings = list(findings)
        reasons = "; ".join(f"{f.rule}: {f.en}" for f in self.findings)
        super().__init__(f"statement {index} rejected: {reasons}")


class ImportRejectedError(RejectedError):
    """Rows of an import that the rules refuse: ``refused`` holds (member index in file
    order, findings) for the first ones, ``omitted`` counts the rest, so that the importer
    can name every conflicting row by its spreadsheet row (``ledger._import``)."""

    def __init__(self, refused: Sequence[tuple[int, Sequence[Finding]]], omitted: int) -> None:
        self.refused = [(i, list(f)) for i, f in refused]
        self.omitted = omitted
        super().__init__(self.refused[0][0] + 1, self.refused[0][1])
        more = len(self.refused) - 1 + omitted
        if more:
            self.args = (f"{self.args[0]} (and {more:,} more row(s))",)


class StorageError(LedgerError):
    """The database refused an operation or is configured unsafely."""


class NoLogError(StorageError):
    """``--db`` names no log: a typo must not silently become a new, empty one."""

    def __init__(self, db: str, why: str = "") -> None:
        self.db = db
        detail = f" ({why})" if why else ""
        super().__init__(f"没有日志 / no log at {db}{detail}: run `drawledger --db {db} init "
                         "--origin ORIGIN` (or `demo`) to create one")
