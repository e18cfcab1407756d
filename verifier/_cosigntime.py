"""Which witness cosignature times can be true (SPEC.md 7.3): one rule for the audit and
the bundle check.

A cosignature is evidence of when a tree existed only if its time is plausible: not after
the checker's now (plus a clock skew), and not contradicting the same witness's own order.
A witness that keeps its state (7.5) never cosigns a smaller tree after a bigger one, so a
cosignature of a smaller tree dated strictly after that witness cosigned a bigger one is
the one that broke the rule; the bigger tree's cosignature stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["COSIGNATURE_SKEW", "Cosigned", "implausible"]

COSIGNATURE_SKEW = 300  # seconds a witness's clock may run ahead of the checker's


@dataclass(frozen=True)
class Cosigned:
    """One pinned witness's cosignature of a tree, in the note named ``name``."""

    witness: str
    size: int
    time: int
    name: str


def implausible(cosigned: Iterable[Cosigned], limit: float
                ) -> list[tuple[Cosigned, Cosigned | None]]:
    """The cosignatures not to use as evidence, each with the bigger tree's cosignature it
    contradicts (None when it is dated after ``limit``, the checker's now plus the skew)."""
    out: list[tuple[Cosigned, Cosigned | None]] = []
    by_witness: dict[str, list[Cosigned]] = {}
    for c in cosigned:
        if c.time > limit:
            out.append((c, None))
        else:
            by_witness.setdefault(c.witness, []).append(c)
    for _, signed in sorted(by_witness.items()):
        # From the biggest tree down, keeping the earliest cosignature of a strictly bigger one.
        signed.sort(key=lambda c: (-c.size, c.time, c.name))
        earliest: Cosigned | None = None
        i = 0
        while i < len(signed):
            j = i
            while j < len(signed) and signed[j].size == signed[i].size:
                j += 1
            group = signed[i:j]
            out.extend((c, earliest) for c in group
                       if earliest is not None and earliest.time < c.time)
            first = group[0]  # the group's earliest (sorted by time)
            if earliest is None or first.time < earliest.time:
                earliest = first
            i = j
    return out
