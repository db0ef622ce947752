"""Cron expressions for schedule triggers: 5 fields or @hourly/@daily/@weekly/@monthly.

Deliberately stricter than croniter: schedules become django-celery-beat ``CrontabSchedule``
rows, which understand plain 5-field crontab syntax and nothing more (no seconds field, no
``L``/``W``/``#``/``?``). Accepting what the scheduler cannot run would only move the error from
``hector validate`` to a log line at 3 a.m.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["CRON_MACROS", "CronFields", "cron_fields", "is_valid_cron"]

CRON_MACROS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


class _FieldSpec(NamedTuple):
    low: int
    high: int
    names: dict[str, int]


_SPECS = (
    _FieldSpec(0, 59, {}),  # minute
    _FieldSpec(0, 23, {}),  # hour
    _FieldSpec(1, 31, {}),  # day of month
    _FieldSpec(1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),  # month
    _FieldSpec(0, 7, {name: i for i, name in enumerate(_DAYS)}),  # day of week (0 and 7 = Sun)
)

_ITEM = re.compile(r"^(?P<range>\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/(?P<step>[0-9]+))?$")


class CronFields(NamedTuple):
    """The five crontab fields, as django-celery-beat's ``CrontabSchedule`` takes them."""

    minute: str
    hour: str
    day_of_month: str
    month_of_year: str
    day_of_week: str


def _value(token: str, spec: _FieldSpec) -> int | None:
    if token.isdigit():
        number = int(token)
        return number if spec.low <= number <= spec.high else None
    return spec.names.get(token)


def _valid_item(item: str, spec: _FieldSpec) -> bool:
    match = _ITEM.match(item)
    if match is None:
        return False
    step = match.group("step")
    if step is not None and int(step) == 0:
        return False
    part = match.group("range")
    if part == "*":
        return True
    bounds = part.split("-")
    values = [_value(token, spec) for token in bounds]
    if any(v is None for v in values):
        return False
    if len(values) == 2:
        return values[0] <= values[1]  # type: ignore[operator]
    return step is None  # "5/10" is not portable crontab syntax; write "5-59/10"


def cron_fields(expression: str) -> CronFields:
    """The five fields of a valid expression (macros expanded); ``ValueError`` otherwise."""
    text = expression.strip().lower()
    text = CRON_MACROS.get(text, text)
    fields = text.split()
    if len(fields) != 5:
        raise ValueError("invalid cron expression")
    for field, spec in zip(fields, _SPECS, strict=True):
        if not all(_valid_item(item, spec) for item in field.split(",")):
            raise ValueError("invalid cron expression")
    return CronFields(*fields)


def is_valid_cron(expression: str) -> bool:
    try:
        cron_fields(expression)
    except ValueError:
        return False
    return True
