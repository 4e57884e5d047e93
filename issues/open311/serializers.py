"""The standard's exact shapes: bare JSON arrays and the spec's XML element names.

Values are prepared once as plain Python (str, bool, int, None, datetimes, nested lists of
dicts); JSON and XML are two renderings of the same rows, so the formats cannot drift.
"""

from __future__ import annotations

import json
from datetime import datetime
from xml.etree import ElementTree as ET

from django.db.models import CharField, Func
from django.http import HttpResponse
from django.utils import timezone

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# The element name of one item of a nested list, by the list's name.
ITEM_NAMES = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def w3c(moment: datetime | None, zone=None) -> str | None:
    """W3C date-time with the server's offset, e.g. 2026-12-03T18:00:00+08:00 (in
    ``zone``, by default the current time zone)."""
    if moment is None:
        return None
    return moment.astimezone(zone or timezone.get_current_timezone()).isoformat(timespec="seconds")


class W3CText(Func):
    """``w3c`` done by PostgreSQL: a timestamp column as W3C text in the current time zone,
    with the offset that zone had at that moment (summer time included). A list of a
    thousand rows then reads strings, not timestamps it would parse and format again.
    PostgreSQL only (``connection.vendor``); elsewhere read the column and use ``w3c``."""

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        if params:
            raise ValueError("W3CText formats a column, not an expression with parameters.")
        # The wall-clock time in the zone, then its offset from UTC at that moment, signed.
        offset = f"(({column} AT TIME ZONE %s) - ({column} AT TIME ZONE 'UTC'))"
        sql = (
            f"(to_char({column} AT TIME ZONE %s, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
            f"CASE WHEN {offset} < INTERVAL '0' THEN '-' || to_char(-{offset}, 'HH24:MI') "
            f"ELSE '+' || to_char({offset}, 'HH24:MI') END)"
        )
        return sql, [timezone.get_current_timezone_name()] * 4

    def as_sqlite(self, compiler, connection, **extra):
        raise NotImplementedError("W3CText is PostgreSQL's; elsewhere read the column.")


def _plain(value):
    if isinstance(value, datetime):
        return w3c(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _fill(element: ET.Element, row: dict) -> None:
    for name, value in row.items():
        child = ET.SubElement(element, name)
        if isinstance(value, list):
            item_name = ITEM_NAMES.get(name, name.rstrip("s"))
            for item in value:
                item_element = ET.SubElement(child, item_name)
                if isinstance(item, dict):
                    _fill(item_element, item)
                else:
                    item_element.text = _text(item)
        elif isinstance(value, dict):
            _fill(child, value)
        else:
            child.text = _text(value)


def xml_bytes(root: str, item: str | None, data) -> bytes:
    """``<root><item>…</item>…</root>`` for a list, or ``<root>…</root>`` for one dict."""
    element = ET.Element(root)
    if item is None:
        _fill(element, _plain(data))
    else:
        for row in _plain(data):
            _fill(ET.SubElement(element, item), row)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode()


def _json_values(zone):
    def value_of(value):
        """What ``json`` cannot write itself: datetimes, the only such values in our rows."""
        if isinstance(value, datetime):
            return w3c(value, zone)
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    return value_of


def render(fmt: str, data, *, root: str, item: str | None, status: int = 200) -> HttpResponse:
    if fmt == "xml":
        return HttpResponse(xml_bytes(root, item, data), content_type=XML_TYPE, status=status)
    # The JSON writer walks the rows itself and asks only about the datetimes.
    body = json.dumps(
        data,
        ensure_ascii=False,
        separators=(",", ":"),
        default=_json_values(timezone.get_current_timezone()),
    )
    return HttpResponse(body, content_type=JSON_TYPE, status=status)


def render_errors(fmt: str, status: int, description: str) -> HttpResponse:
    return render(
        fmt,
        [{"code": status, "description": description}],
        root="errors",
        item="error",
        status=status,
    )
