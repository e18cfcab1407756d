"""The official working-day calendar (``calendar.published`` bodies) and deadline arithmetic.

A body states one year of the State Council's holiday arrangement::

    {"year": 2026,
     "weekday_days_off": ["2026-01-01", ...],        Mon-Fri days that are not worked
     "weekend_makeup_workdays": ["2026-01-04", ...],  Sat/Sun days that are worked (调休上班)
     "source": {"title": "...", "url": "https://...", "number": "国办发明电〔2025〕7号"}}

``number`` is optional. A date d is a working day exactly when
``(d is Mon-Fri and d not in weekday_days_off) or d in weekend_makeup_workdays``.
Dates are Asia/Shanghai calendar dates. A year without a calendar is never guessed
(no Monday-Friday fallback): any answer that needs it raises :class:`CalendarMissing`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from verifier._errors import FormatError, TrustError

__all__ = [
    "BODY_FIELDS",
    "ISO_DATE_RE",
    "CalendarMissing",
    "WorkingCalendar",
    "body_from_file",
    "calendar_body_errors",
    "iso_date",
    "shanghai_date",
]

BODY_FIELDS = ("year", "weekday_days_off", "weekend_makeup_workdays", "source")
_SOURCE_REQUIRED = ("title", "url")
_SOURCE_OPTIONAL = ("number",)
MIN_YEAR = 1949
MAX_YEAR = 2200
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# [0-9], not \d: \d also matches non-ASCII digits.
ISO_DATE_RE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# RFC 3339 date-time with offset, as the entry grammar writes it (upper-case T and Z).
_TS_RE = re.compile(r"\A([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                    r"(?:\.[0-9]{1,6})?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))\Z")
_SHANGHAI = timezone(timedelta(hours=8))


def iso_date(value: object) -> date | None:
    """A strict ISO date ``YYYY-MM-DD`` (ASCII digits, a real day) or None: the one date
    parser of every body rule."""
    if type(value) is not str or not ISO_DATE_RE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class CalendarMissing(TrustError):
    """The answer needs a year for which no calendar is known."""

    def __init__(self, year: int) -> None:
        super().__init__(f"no calendar for year {year}")
        self.year = year


def _date_list_errors(name: str, value: object, year: int | None, weekend: bool) -> list[str]:
    if type(value) is not list:
        return [f"{name}: must be a list of dates YYYY-MM-DD"]
    errors: list[str] = []
    prev: date | None = None
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        if type(item) is not str or not ISO_DATE_RE.match(item):
            errors.append(f"{where}: {item!r} is not a date YYYY-MM-DD")
            prev = None
            continue
        try:
            d = date.fromisoformat(item)
        except ValueError:
            errors.append(f"{where}: {item} is not a calendar date")
            prev = None
            continue
        if year is not None and d.year != year:
            errors.append(f"{where}: {item} is not in year {year}")
        if (d.weekday() >= 5) != weekend:
            want = "a Saturday or Sunday" if weekend else "a Monday to Friday"
            errors.append(f"{where}: {item} is a {_WEEKDAY_NAMES[d.weekday()]}, not {want}")
        if prev is not None and d == prev:
            errors.append(f"{where}: {item} repeats {name}[{i - 1}]")
        elif prev is not None and d < prev:
            errors.append(f"{where}: {item} is listed after {prev.isoformat()}: the list must be "
                          "sorted")
        prev = d
    return errors


def _source_errors(source: object) -> list[str]:
    if type(source) is not dict:
        return ["source: must be an object with title and url"]
    errors = [f"source.{key}: missing" for key in _SOURCE_REQUIRED if key not in source]
    errors += [f"source.{key}: unexpected field" for key in source
               if key not in _SOURCE_REQUIRED + _SOURCE_OPTIONAL]
    title = source.get("title")
    if "title" in source and (type(title) is not str or not title.strip()):
        errors.append("source.title: must be a non-empty string")
    url = source.get("url")
    if "url" in source and not (
            type(url) is str and any(url.startswith(p) and len(url) > len(p)
                                     for p in ("https://", "http://"))):
        errors.append("source.url: must be a string starting with https:// or http://")
    number = source.get("number")
    if "number" in source and (type(number) is not str or not number.strip()):
        errors.append("source.number: must be a non-empty string")
    return errors


def calendar_body_errors(body: object) -> list[str]:
    """Every way ``body`` differs from a valid ``calendar.published`` body; empty if valid."""
    if type(body) is not dict:
        return ["body: must be an object"]
    errors = [f"{key}: missing" for key in BODY_FIELDS if key not in body]
    errors += [f"{key}: unexpected field" for key in body if key not in BODY_FIELDS]
    year: int | None = None
    if "year" in body:
        raw = body["year"]
        if type(raw) is int and MIN_YEAR <= raw <= MAX_YEAR:
            year = raw
        else:
            errors.append(f"year: {raw!r} is not an integer {MIN_YEAR}..{MAX_YEAR}")
    for key, weekend in (("weekday_days_off", False), ("weekend_makeup_workdays", True)):
        if key in body:
            errors += _date_list_errors(key, body[key], year, weekend)
    if "source" in body:
        errors += _source_errors(body["source"])
    return errors


def body_from_file(data: Mapping[str, Any]) -> dict[str, Any]:
    """A body from a shipped calendar file (its ``sources[0]`` becomes ``source``).

    The body is not checked here; pass it to :func:`calendar_body_errors`.
    """
    try:
        first = data["sources"][0]
        return {"year": data["year"],
                "weekday_days_off": list(data["weekday_days_off"]),
                "weekend_makeup_workdays": list(data["weekend_makeup_workdays"]),
                "source": {"title": first["title"], "url": first["original_url"]}}
    except (KeyError, IndexError, TypeError) as exc:
        raise FormatError(f"calendar file: missing or malformed field {exc}") from None


def shanghai_date(ts: str) -> date:
    """The Asia/Shanghai (fixed UTC+8) calendar date of an RFC 3339 time with offset."""
    m = _TS_RE.match(ts) if type(ts) is str else None
    if m is None:
        raise FormatError(f"time {ts!r}: not an RFC 3339 time with offset")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    off_h, off_m = (0, 0) if m.group(7) else (int(m.group(9)), int(m.group(10)))
    if off_h > 23 or off_m > 59:
        raise FormatError(f"time {ts!r}: offset out of range")
    sign = -1 if m.group(8) == "-" else 1
    try:
        # A leap second (:60) falls on the same date as :59 in every offset.
        local = datetime(year, month, day, hour, minute, min(second, 59),
                         tzinfo=timezone(sign * timedelta(hours=off_h, minutes=off_m)))
        return local.astimezone(_SHANGHAI).date()
    except (ValueError, OverflowError):
        raise FormatError(f"time {ts!r}: not a valid date and time") from None


class WorkingCalendar:
    """Working days for the years it holds calendars for; every other year is unknown."""

    __slots__ = ("_working", "_working_set")

    def __init__(self, working: Mapping[int, tuple[int, ...]]) -> None:
        # year -> sorted ordinals of that year's working days
        self._working = dict(working)
        self._working_set = {y: frozenset(days) for y, days in self._working.items()}

    @classmethod
    def from_bodies(cls, bodies: Mapping[int, Mapping[str, Any]]) -> WorkingCalendar:
        """Build from year -> ``calendar.published`` body; raises FormatError if one is bad."""
        working: dict[int, tuple[int, ...]] = {}
        for year, body in bodies.items():
            errors = calendar_body_errors(body)
            if errors:
                raise FormatError(f"calendar for {year}: " + "; ".join(errors))
            if body["year"] != year:
                raise FormatError(f"calendar for {year}: body is for year {body['year']}")
            off = {date.fromisoformat(s) for s in body["weekday_days_off"]}
            makeup = {date.fromisoformat(s) for s in body["weekend_makeup_workdays"]}
            first = date(year, 1, 1).toordinal()
            last = date(year, 12, 31).toordinal()
            working[year] = tuple(
                o for o in range(first, last + 1)
                if (d := date.fromordinal(o)) in makeup or (d.weekday() < 5 and d not in off))
        return cls(working)

    @property
    def years(self) -> frozenset[int]:
        """The years this calendar can answer for."""
        return frozenset(self._working)

    def _year(self, year: int) -> tuple[int, ...]:
        try:
            return self._working[year]
        except KeyError:
            raise CalendarMissing(year) from None

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day; CalendarMissing if its year is unknown."""
        self._year(d.year)
        return d.toordinal() in self._working_set[d.year]

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (``start`` itself for n = 0)."""
        if type(n) is not int or n < 0:
            raise FormatError(f"working-day count {n!r} is not an integer >= 0")
        if n == 0:
            return start
        after = start.toordinal()
        # The count starts on the day after start, so a start on 31 December needs no
        # calendar for its own year.
        year = start.year + 1 if (start.month, start.day) == (12, 31) else start.year
        while True:
            days = self._year(year)
            i = bisect_right(days, after)
            if n <= len(days) - i:
                return date.fromordinal(days[i + n - 1])
            n -= len(days) - i
            year += 1

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days d satisfy start < d <= end (0 when end <= start)."""
        if end <= start:
            return 0
        first = start.year + 1 if (start.month, start.day) == (12, 31) else start.year
        lo, hi = start.toordinal(), end.toordinal()
        total = 0
        for year in range(first, end.year + 1):
            days = self._year(year)
            total += bisect_right(days, hi) - bisect_right(days, lo)
        return total

    def deadline_met(self, start: date, n: int, done: date) -> bool:
        """Whether ``done`` is no later than the n-th working day after ``start``.

        Needs only the years up to the earlier of the deadline and the day before ``done``:
        ``done`` is on time exactly when fewer than n working days lie in (start, done).
        """
        try:
            return done <= self.add_working_days(start, n)
        except CalendarMissing:
            if done <= start:
                return True
            return self.working_days_between(start, done - timedelta(days=1)) < n
