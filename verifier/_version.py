"""The verifier's version and the spec version it checks, read from one place.

``drawledger --version`` and every verifier report name both, so that an auditor who
quotes a verdict also says which rules produced it.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

__all__ = ["SPEC_VERSION", "__version__", "version_info"]

SPEC_VERSION = "SPEC-v2"  # docs/SPEC.md: version 2, which judges v1 logs by version 1


def _version() -> str:
    """The installed distribution's version; in a source checkout that is not installed,
    pyproject.toml's; else "unknown" (a verifier copied on its own still runs)."""
    try:
        return importlib.metadata.version("drawledger")
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        with (Path(__file__).resolve().parent.parent / "pyproject.toml").open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


__version__ = _version()


def version_info() -> dict[str, str]:
    """The object every JSON report carries as ``verifier``."""
    return {"version": __version__, "spec": SPEC_VERSION}
