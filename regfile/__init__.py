"""Registry files (检查对象名录、执法检查人员名录) read into checked event bodies.

One parser for everyone who reads them: ``drawledger import`` on the log's host and
``drawledger-client sign registry`` on a department's machine run the same row checks
(the verifier's body rules), so a file the client signed is one the log would import.
Imports the standard library, ``verifier`` and (for .xlsx, when a workbook is read)
``openpyxl``; never ``ledger`` or ``api``. Layouts: ``regfile._parse``, docs/IMPORT.md.
"""

from regfile._errors import RegistryFileError
from regfile._parse import (
    KIND_ALIASES,
    KINDS,
    MAX_ERRORS,
    ParsedImport,
    RowError,
    conflict_errors,
    format_errors,
    parse_file,
    statements,
)

__all__ = ["KINDS", "KIND_ALIASES", "MAX_ERRORS", "ParsedImport", "RegistryFileError",
           "RowError", "conflict_errors", "format_errors", "parse_file", "statements"]
