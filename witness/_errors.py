"""The witness package's one root exception."""

from __future__ import annotations


class WitnessError(Exception):
    """A witness cannot start or serve: bad policy, key or state (the message names it)."""
