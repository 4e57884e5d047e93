"""Tracking numbers: what a resident reads out over the phone to follow an issue.

A new number is the filing date, seven random digits and a check digit (Damm algorithm,
which catches every single wrong digit and every swap of two neighbours):
``20261203 4829173 5``, written without spaces. Numbers cannot be guessed from one another,
so nobody lists the issues of a day by counting. Numbers given before (date and row id,
or anything else the admin imported) keep working: lookups take any number the path
converter accepts, and only a number of the new length must pass its check digit.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.urls import register_converter
from django.utils import timezone

RANDOM_DIGITS = 7
LENGTH = 8 + RANDOM_DIGITS + 1
# Letters and digits only, as the field holds them: anything else in a URL is a 404.
PATTERN = r"[0-9A-Za-z]{1,20}"

# The Damm algorithm's quasigroup of order 10 (totally anti-symmetric).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def check_digit(digits: str) -> str:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][int(digit)]
    return str(interim)


def new_number(now: datetime) -> str:
    """A number for an issue filed at ``now`` (the caller makes sure it is not taken)."""
    random_part = f"{secrets.randbelow(10**RANDOM_DIGITS):0{RANDOM_DIGITS}d}"
    body = f"{timezone.localtime(now):%Y%m%d}{random_part}"
    return body + check_digit(body)


def normalise(text: str) -> str:
    """What people type or paste: spaces and dashes dropped, letters upper case."""
    return "".join(ch for ch in text if ch not in " -\u3000").upper()


def has_valid_check_digit(number: str) -> bool:
    """False only for a number of the new shape whose check digit does not fit (a typo)."""
    if len(number) != LENGTH or not number.isdigit():
        return True
    return check_digit(number) == "0"


class TrackingNumberConverter:
    """``<tracking:tracking_number>`` in URL patterns."""

    regex = PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TrackingNumberConverter, "tracking")
