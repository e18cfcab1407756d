"""The working-day calendar: shipped data, body validation and deadline arithmetic."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import holidays
import pytest
from holidays.countries.china import ChinaStaticHolidays

from verifier._calendar import (
    CalendarMissing,
    WorkingCalendar,
    body_from_file,
    calendar_body_errors,
    shanghai_date,
)
from verifier._errors import FormatError, TrustError

ROOT = Path(__file__).resolve().parent.parent
DATA = files("ledger") / "data" / "calendar"
YEARS = range(2019, 2027)

# Facts of the shipped files. Working days 2019-2023 are from the project design; 2024-2026,
# the day-count columns and the digests were copied from the shared calendar INDEX.json
# (the index of the files these are byte-identical copies of).
INDEX = {
    2019: (250, 17, 6, "fe03434f5b760a7d40ed8cf6d7c442229b370e33c699dae3d8b06c8e747db499"),
    2020: (249, 19, 6, "9cd28f83924f0667749cc78650aa500e555ff68c189e96d0d101bee7329708f6"),
    2021: (250, 18, 7, "f5155e056de01ab025bd7687b45a73e2c0d72853d735d2447ed3db3f130bc10a"),
    2022: (249, 18, 7, "2cac49188126664b43effadd1e4be13dd62283415c6c258389785637fded97aa"),
    2023: (249, 18, 7, "5e7753b5800afb57cd02cfdb4b13c7cce4f20e477f9504aeddb3de7e5e24ad41"),
    2024: (251, 19, 8, "00863954bf3885930235388bd391e93b16100ff0a9f01bd9bde12930ea630f93"),
    2025: (248, 18, 5, "445451ace787eddf075169b3a7cebe5f1181c3ed469a0c577711ae768281ad97"),
    2026: (248, 19, 6, "41f6a1f128ef8fcec5145686f84e52b375ac258a5c0f9a1e48bd60272e10bf65"),
}


def _file_bytes(year: int) -> bytes:
    return (DATA / f"cn-{year}.json").read_bytes()


def _bodies() -> dict[int, dict[str, Any]]:
    return {y: body_from_file(json.loads(_file_bytes(y))) for y in YEARS}


CAL = WorkingCalendar.from_bodies(_bodies())


# --- shipped data ---------------------------------------------------------------------------

def test_shipped_files_are_exactly_2019_to_2026() -> None:
    names = sorted(p.name for p in (ROOT / "ledger" / "data" / "calendar").glob("*.json"))
    assert names == [f"cn-{y}.json" for y in YEARS]


def test_package_data_ships_the_calendar_files() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "data/calendar/*.json" in config["tool"]["setuptools"]["package-data"]["ledger"]


@pytest.mark.parametrize("year", YEARS)
def test_shipped_file_gives_a_valid_body_with_the_indexed_facts(year: int) -> None:
    working, days_off, makeups, digest = INDEX[year]
    raw = _file_bytes(year)
    assert hashlib.sha256(raw).hexdigest() == digest
    body = body_from_file(json.loads(raw))
    assert calendar_body_errors(body) == []
    assert body["year"] == year
    assert len(body["weekday_days_off"]) == days_off
    assert len(body["weekend_makeup_workdays"]) == makeups
    assert body["source"]["title"] == f"国务院办公厅关于{year}年部分节假日安排的通知"
    assert body["source"]["url"].startswith("https://www.gov.cn/")
    # 31 December of the year before needs no calendar: the count starts the day after.
    assert CAL.working_days_between(date(year - 1, 12, 31), date(year, 12, 31)) == working
    assert sum(CAL.is_working_day(date(year, 1, 1) + timedelta(days=i))
               for i in range(366 if year % 4 == 0 else 365)) == working


# --- the independent cross-check ------------------------------------------------------------

def test_add_working_days_agrees_with_the_holidays_package_for_every_start_and_n() -> None:
    """Every start 2019-01-01..2026-12-31 and n = 1..20, against holidays' own arithmetic.

    holidays extrapolates years it has no State Council notice for (its "estimated"
    holidays, no make-up workdays), so its answer counts only when the notice for the
    answer's year is in its data; otherwise both sides must call the answer unavailable.
    """
    ref = holidays.country_holidays("CN", years=range(2018, 2029))
    ref_years = set(ChinaStaticHolidays.special_public_holidays)  # years with a notice
    assert set(YEARS) <= ref_years
    assert ref.is_working_day(date(2026, 10, 10))  # the reference knows make-up workdays
    start, checked, unavailable = date(2019, 1, 1), 0, 0
    while start.year <= 2026:
        for n in range(1, 21):
            expected = ref.get_nth_working_day(start, n)
            if expected.year in ref_years:
                assert CAL.add_working_days(start, n) == expected, (start, n)
                checked += 1
            else:
                with pytest.raises(CalendarMissing, match=f"no calendar for year {expected.year}"):
                    CAL.add_working_days(start, n)
                unavailable += 1
        start += timedelta(days=1)
    assert checked + unavailable == 2922 * 20
    assert unavailable > 0


def test_working_days_between_agrees_with_the_holidays_package() -> None:
    ref = holidays.country_holidays("CN", years=range(2019, 2027))
    firsts = [date(y, m, d) for y in YEARS for m, d in ((1, 1), (2, 9), (10, 3))]
    for a in firsts:
        for b in firsts:
            if a < b:
                # holidays counts the closed interval [a, b]; ours counts (a, b].
                want = ref.get_working_days_count(a + timedelta(days=1), b)
                assert CAL.working_days_between(a, b) == want, (a, b)
    assert CAL.working_days_between(date(2026, 3, 1), date(2026, 2, 1)) == 0


# --- known answers --------------------------------------------------------------------------

def test_known_answers_from_the_design() -> None:
    # Spring Festival 2026: 16-23 Feb off, Saturday 28 Feb worked.
    assert CAL.add_working_days(date(2026, 2, 13), 3) == date(2026, 2, 25)
    # National Day 2026: Saturday 10 Oct is a make-up working day.
    assert CAL.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert date(2026, 10, 10).isoweekday() == 6
    assert CAL.deadline_met(date(2026, 2, 13), 3, date(2026, 2, 25))
    assert not CAL.deadline_met(date(2026, 2, 13), 3, date(2026, 2, 26))
    assert CAL.working_days_between(date(2026, 2, 13), date(2026, 2, 25)) == 3


def test_n_zero_and_negative() -> None:
    assert CAL.add_working_days(date(2026, 2, 16), 0) == date(2026, 2, 16)
    with pytest.raises(FormatError):
        CAL.add_working_days(date(2026, 2, 16), -1)
    with pytest.raises(FormatError):
        CAL.deadline_met(date(2026, 2, 16), -1, date(2026, 2, 16))


def test_a_deadline_crossing_into_a_year_without_calendar_raises() -> None:
    start = date(2026, 12, 28)  # Monday; 29, 30, 31 December are working days
    assert CAL.add_working_days(start, 3) == date(2026, 12, 31)
    with pytest.raises(CalendarMissing, match="no calendar for year 2027") as info:
        CAL.add_working_days(start, 4)
    assert isinstance(info.value, TrustError) and info.value.year == 2027
    with pytest.raises(CalendarMissing):
        CAL.is_working_day(date(2027, 1, 4))
    with pytest.raises(CalendarMissing):
        CAL.working_days_between(start, date(2027, 1, 4))
    with pytest.raises(CalendarMissing):  # done on a day whose status is unknown
        CAL.deadline_met(start, 5, date(2027, 1, 4))
    with pytest.raises(CalendarMissing):  # never a Monday-Friday fallback, even far away
        CAL.add_working_days(date(2026, 12, 31), 1)
    with pytest.raises(CalendarMissing, match="2018"):
        CAL.add_working_days(date(2018, 12, 30), 1)
    # What the known years settle is still answered.
    assert CAL.deadline_met(start, 5, date(2026, 12, 31))  # only 2 working days before done
    assert CAL.deadline_met(start, 5, date(2027, 1, 1))
    assert not CAL.deadline_met(start, 2, date(2027, 1, 5))  # deadline 30 December
    assert CAL.add_working_days(date(2018, 12, 31), 1) == date(2019, 1, 2)


def test_a_gap_year_is_missing_even_between_known_years() -> None:
    bodies = _bodies()
    del bodies[2023]
    cal = WorkingCalendar.from_bodies(bodies)
    with pytest.raises(CalendarMissing, match="2023"):
        cal.add_working_days(date(2022, 12, 20), 20)
    with pytest.raises(CalendarMissing, match="2023"):
        cal.working_days_between(date(2022, 1, 1), date(2024, 1, 1))


def test_many_working_days_span_years() -> None:
    total = sum(INDEX[y][0] for y in YEARS)
    assert CAL.add_working_days(date(2018, 12, 31), total) == date(2026, 12, 31)
    with pytest.raises(CalendarMissing, match="2027"):
        CAL.add_working_days(date(2018, 12, 31), total + 1)


# --- the chinese-calendar 2005 error ----------------------------------------------------------

# chinese-calendar's known 2005 data error: it treats Saturday 2005-12-31 as a rest day.
# It was a make-up working day, set by the notice for the *next* year: 国务院办公厅关于2006年
# 部分节假日安排的通知 (国办发明电〔2005〕35号, 16 Dec 2005), item 一: "元旦：1月1日—3日放假，
# 共3天……12月31日（星期六）上班". Reported as LKI/chinese-calendar issue #17 ("Bug 2006-12-31",
# 2018) and again as issue #125 ("2005-12-31 应为workday?", 2025: Arrangement._2005() in
# chinese_calendar/scripts/data.py lacks it); holidays 0.108 has it (China 2006 data:
# "JAN 3 ... DEC 31, 2005", the day worked in exchange for the 3 January day off).
_NOTICE_2006 = {
    "title": "国务院办公厅关于2006年部分节假日安排的通知",
    "url": "https://zh.wikisource.org/wiki/国务院办公厅关于2006年部分节假日安排的通知",
    "number": "国办发明电〔2005〕35号",
}
# The rest of 2005 as holidays 0.108 gives it (it cites the 2005 notice, 国务院办公厅关于
# 2005年部分节假日安排的通知); only 2005-12-31 matters to the test.
_OFF_2005 = ["2005-01-03", "2005-02-09", "2005-02-10", "2005-02-11", "2005-02-14",
             "2005-02-15", "2005-05-02", "2005-05-03", "2005-05-04", "2005-05-05",
             "2005-05-06", "2005-10-03", "2005-10-04", "2005-10-05", "2005-10-06",
             "2005-10-07"]
_MAKEUP_2005_WITHOUT_DEC_31 = ["2005-02-05", "2005-02-06", "2005-04-30", "2005-05-08",
                               "2005-10-08", "2005-10-09"]


def test_the_2005_error_of_chinese_calendar_is_not_repeated() -> None:
    # No 2005 calendar is shipped: a 2005 deadline is unverifiable, never guessed.
    with pytest.raises(CalendarMissing, match="no calendar for year 2005"):
        CAL.add_working_days(date(2005, 12, 30), 1)
    with pytest.raises(CalendarMissing, match="2005"):
        CAL.deadline_met(date(2005, 12, 29), 1, date(2005, 12, 31))

    # Built the correct way, 2005 counts Saturday 31 December as a working day.
    right = {"year": 2005, "weekday_days_off": _OFF_2005,
             "weekend_makeup_workdays": [*_MAKEUP_2005_WITHOUT_DEC_31, "2005-12-31"],
             "source": _NOTICE_2006}
    assert calendar_body_errors(right) == []
    cal = WorkingCalendar.from_bodies({2005: right})
    assert cal.is_working_day(date(2005, 12, 31))
    assert not cal.is_working_day(date(2005, 12, 25))  # an ordinary Sunday
    assert cal.add_working_days(date(2005, 12, 30), 1) == date(2005, 12, 31)
    assert cal.add_working_days(date(2005, 12, 29), 2) == date(2005, 12, 31)
    assert cal.deadline_met(date(2005, 12, 29), 2, date(2005, 12, 31))
    ref = holidays.country_holidays("CN", years=2005)
    assert ref.is_working_day(date(2005, 12, 31))
    assert cal.working_days_between(date(2004, 12, 31), date(2005, 12, 31)) == 251
    assert ref.get_working_days_count(date(2005, 1, 1), date(2005, 12, 31)) == 251
    with pytest.raises(CalendarMissing, match="2006"):
        cal.add_working_days(date(2005, 12, 30), 2)

    # The chinese-calendar way (no 31 December) gives a different, wrong answer.
    wrong = dict(right, weekend_makeup_workdays=_MAKEUP_2005_WITHOUT_DEC_31)
    cal_wrong = WorkingCalendar.from_bodies({2005: wrong})
    assert not cal_wrong.is_working_day(date(2005, 12, 31))
    with pytest.raises(CalendarMissing, match="2006"):
        cal_wrong.add_working_days(date(2005, 12, 30), 1)


# --- body validation ------------------------------------------------------------------------

def _good() -> dict[str, Any]:
    return copy.deepcopy(_bodies()[2026])


def _with(change: Any) -> dict[str, Any]:
    body = _good()
    change(body)
    return body


def _insert_sorted(key: str, value: str) -> Any:
    return lambda b: b[key].__setitem__(slice(None), sorted([*b[key], value]))


BAD_BODIES = [
    ("year as string", lambda b: b.update(year="2026"), "year: '2026' is not an integer"),
    ("year as bool", lambda b: b.update(year=True), "year: True is not an integer"),
    ("year too early", lambda b: b.update(year=1948), "year: 1948 is not an integer 1949..2200"),
    ("year too late", lambda b: b.update(year=2201), "year: 2201 is not"),
    ("unsorted", lambda b: b["weekday_days_off"].reverse(), "weekday_days_off[1]: 2026-10-06 "
     "is listed after 2026-10-07: the list must be sorted"),
    ("duplicate", lambda b: b["weekend_makeup_workdays"].insert(1, "2026-01-04"),
     "weekend_makeup_workdays[1]: 2026-01-04 repeats weekend_makeup_workdays[0]"),
    ("weekend day off", _insert_sorted("weekday_days_off", "2026-02-21"),
     "weekday_days_off[7]: 2026-02-21 is a Saturday, not a Monday to Friday"),
    ("weekday make-up", _insert_sorted("weekend_makeup_workdays", "2026-02-27"),
     "weekend_makeup_workdays[2]: 2026-02-27 is a Friday, not a Saturday or Sunday"),
    ("date in another year", lambda b: b["weekday_days_off"].insert(0, "2025-12-31"),
     "weekday_days_off[0]: 2025-12-31 is not in year 2026"),
    ("not ISO", lambda b: b["weekday_days_off"].__setitem__(0, "2026-1-1"),
     "weekday_days_off[0]: '2026-1-1' is not a date YYYY-MM-DD"),
    ("compact ISO", lambda b: b["weekday_days_off"].__setitem__(0, "20260101"),
     "weekday_days_off[0]: '20260101' is not a date"),
    ("non-ASCII digits", lambda b: b["weekday_days_off"].__setitem__(0, "２０２６-01-01"),
     "weekday_days_off[0]: "),
    ("no such day", lambda b: b["weekday_days_off"].__setitem__(5, "2026-02-30"),
     "weekday_days_off[5]: 2026-02-30 is not a calendar date"),
    ("date not a string", lambda b: b["weekday_days_off"].__setitem__(0, 20260101),
     "weekday_days_off[0]: 20260101 is not a date"),
    ("list not a list", lambda b: b.update(weekend_makeup_workdays="2026-01-04"),
     "weekend_makeup_workdays: must be a list"),
    ("missing list", lambda b: b.pop("weekday_days_off"), "weekday_days_off: missing"),
    ("missing source", lambda b: b.pop("source"), "source: missing"),
    ("source not object", lambda b: b.update(source="gov.cn"), "source: must be an object"),
    ("source without url", lambda b: b["source"].pop("url"), "source.url: missing"),
    ("source without title", lambda b: b["source"].pop("title"), "source.title: missing"),
    ("empty title", lambda b: b["source"].update(title=" "), "source.title: must be a non-empty"),
    ("ftp url", lambda b: b["source"].update(url="ftp://gov.cn/x"),
     "source.url: must be a string starting with https:// or http://"),
    ("bare scheme url", lambda b: b["source"].update(url="https://"), "source.url: "),
    ("number not a string", lambda b: b["source"].update(number=7), "source.number: must be"),
    ("extra source field", lambda b: b["source"].update(archived_url="https://x"),
     "source.archived_url: unexpected field"),
    ("extra field", lambda b: b.update(note="x"), "note: unexpected field"),
]


def test_a_good_body_has_no_errors() -> None:
    body = _good()
    assert calendar_body_errors(body) == []
    body["source"]["number"] = "国办发明电〔2025〕7号"
    body["source"]["url"] = "http://www.gov.cn/x"
    assert calendar_body_errors(body) == []
    assert calendar_body_errors(dict(body, weekday_days_off=[], weekend_makeup_workdays=[])) == []


@pytest.mark.parametrize(("change", "message"), [(c, m) for _, c, m in BAD_BODIES],
                         ids=[name for name, _, _ in BAD_BODIES])
def test_calendar_body_errors_names_the_field(change: Any, message: str) -> None:
    errors = calendar_body_errors(_with(change))
    assert any(e.startswith(message) for e in errors), errors
    with pytest.raises(FormatError):
        WorkingCalendar.from_bodies({2026: _with(change)})


def test_a_body_that_is_not_an_object() -> None:
    assert calendar_body_errors([]) == ["body: must be an object"]


def test_from_bodies_checks_the_year_key() -> None:
    with pytest.raises(FormatError, match="body is for year 2026"):
        WorkingCalendar.from_bodies({2025: _good()})


def test_body_from_file_rejects_a_file_without_sources() -> None:
    data = json.loads(_file_bytes(2026))
    data["sources"] = []
    with pytest.raises(FormatError):
        body_from_file(data)


# --- timestamps -----------------------------------------------------------------------------

@pytest.mark.parametrize(("ts", "day"), [
    ("2026-02-25T23:59:59.000000+08:00", date(2026, 2, 25)),
    ("2026-02-25T00:00:00+08:00", date(2026, 2, 25)),
    ("2026-02-25T15:59:59.999999Z", date(2026, 2, 25)),
    ("2026-02-25T16:00:00Z", date(2026, 2, 26)),
    ("2026-02-25T16:00:00+00:00", date(2026, 2, 26)),
    ("2026-02-25T10:59:59-05:00", date(2026, 2, 25)),
    ("2026-02-25T11:00:00-05:00", date(2026, 2, 26)),
    ("2026-02-26T01:00:00+09:00", date(2026, 2, 26)),
    ("2026-12-31T16:00:00Z", date(2027, 1, 1)),
    ("2016-12-31T23:59:60Z", date(2017, 1, 1)),  # a leap second
])
def test_shanghai_date(ts: str, day: date) -> None:
    assert shanghai_date(ts) == day


@pytest.mark.parametrize("ts", [
    "2026-02-25", "2026-02-25T23:59:59", "2026-02-25 23:59:59+08:00", "2026-02-25T23:59+08:00",
    "2026-02-30T00:00:00Z", "2026-02-25T24:00:00Z", "2026-02-25T00:00:00+24:00",
    "2026-02-25T00:00:00+0800", "2026-02-25t00:00:00z", "2026-02-25T00:00:00.Z",
])
def test_shanghai_date_rejects(ts: str) -> None:
    with pytest.raises(FormatError):
        shanghai_date(ts)
