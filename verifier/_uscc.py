"""统一社会信用代码 check characters (GB 32100-2015) and the embedded organisation code's
check character (GB 11714-1997).

Only the arithmetic is here; issue-level validation (the code tables, normalisation, the
embedded organisation-code warning) is in :mod:`verifier._registry`.
"""

from __future__ import annotations

from verifier._errors import FormatError

__all__ = ["USCC_CHARSET", "org_code_check_char", "uscc_check_char", "uscc_valid"]

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
# GB 11714: digits are worth 0-9 and letters A-Z 10-35; weights for positions 1-8.
_ORG_VALUE = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(body: str) -> str:
    """The 18th character for a 17-character code body."""
    if len(body) != 17:
        raise FormatError(f"USCC body has {len(body)} characters, needs 17")
    try:
        total = sum(_VALUE[c] * w for c, w in zip(body, _WEIGHTS, strict=True))
    except KeyError as exc:
        raise FormatError(f"USCC character {exc.args[0]!r} is not in the GB 32100 set") from None
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_valid(code: str) -> bool:
    """True when ``code`` is 18 characters from the set with a correct check character."""
    if len(code) != 18:
        return False
    try:
        return uscc_check_char(code[:17]) == code[17]
    except FormatError:
        return False


def org_code_check_char(body: str) -> str:
    """The 9th character of a GB 11714 organisation code for its 8-character body.

    c = 11 - (sum of value * weight) mod 11; 10 is written ``X`` and 11 is written ``0``.
    """
    if len(body) != 8:
        raise FormatError(f"organisation code body has {len(body)} characters, needs 8")
    try:
        total = sum(_ORG_VALUE[c] * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    except KeyError as exc:
        raise FormatError(f"organisation code character {exc.args[0]!r} is not 0-9 or A-Z") \
            from None
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)
