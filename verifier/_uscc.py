"""统一社会信用代码 check character (GB 32100-2015).

Only the MOD 31 check is here; issue-level validation (normalisation, the embedded
organisation-code warning) builds on it.
"""

from __future__ import annotations

from verifier._errors import FormatError

__all__ = ["USCC_CHARSET", "uscc_check_char", "uscc_valid"]

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]


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
