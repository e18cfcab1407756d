"""The one exception of ``regfile``."""

from __future__ import annotations

__all__ = ["RegistryFileError"]


class RegistryFileError(ValueError):
    """A registry file that cannot be read as one (the message names the file, row or
    column); the ledger reports it as its InputError."""
