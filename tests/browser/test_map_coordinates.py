"""GCJ-02 in the browser: with MAP_COORDINATES=gcj02 (tiles from 高德 or 腾讯) the map module
converts stored WGS-84 points for display and the points people pick back to WGS-84. The
conversion is checked in the page's own JavaScript against the published reference vector
that every "eviltransform" implementation shares, and round-trips to well under a metre."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# WGS-84 (39.915, 116.404) is GCJ-02 (39.91640428150164, 116.41024449916938) in every
# implementation of the published formulas (coordtransform, eviltransform, Hutool).
WGS = (39.915, 116.404)
GCJ = (39.91640428150164, 116.41024449916938)

CONVERSIONS = """(wgs) => {
  const M = window.GridMap;
  const there = M.wgsToGcj(wgs[0], wgs[1]);
  const back = M.gcjToWgs(there[0], there[1]);
  const display = M.toDisplay(36.62, 117.13);
  const picked = M.fromDisplay(display);
  return {
    there: there,
    back: back,
    outside: M.wgsToGcj(51.5, -0.12),
    display: [display.lat, display.lng],
    picked: [picked.lat, picked.lng],
  };
}"""


def conversions(page, settings, coordinates):
    settings.MAP_TILES_URL = ""  # no tile server: the conversion needs none
    settings.MAP_COORDINATES = coordinates
    page.goto("/map/")
    page.wait_for_function("() => window.GridMap !== undefined")
    return page.evaluate(CONVERSIONS, list(WGS))


def test_points_are_shown_in_gcj02_and_picked_back_in_wgs84(page, settings):
    got = conversions(page, settings, "gcj02")
    assert got["there"] == pytest.approx(GCJ, abs=1e-9)
    # Back to WGS-84 within 1e-6 degrees (about 0.1 m).
    assert got["back"] == pytest.approx(WGS, abs=1e-6)
    # Outside China the formulas do not apply.
    assert got["outside"] == [51.5, -0.12]
    # A stored point is drawn where the GCJ-02 tiles have it: hundreds of metres away...
    shift = (got["display"][0] - 36.62, got["display"][1] - 117.13)
    assert 0.0001 < abs(shift[0]) < 0.01 and 0.001 < abs(shift[1]) < 0.01, shift
    # ...and the point picked there is the stored point again, to the stored 6 decimals.
    assert got["picked"] == pytest.approx([36.62, 117.13], abs=1.5e-6)


def test_wgs84_tiles_show_points_as_stored(page, settings):
    got = conversions(page, settings, "wgs84")
    assert got["display"] == [36.62, 117.13]
    assert got["picked"] == [36.62, 117.13]
