"""The report opened as a person would: in headless Chromium (Debian package ``chromium``).

Checks that the page loads without console errors, that every image decodes and every audio
player has a playable source, saves a screenshot, and that hostile track and class names
execute nothing. Skips with a message where no Chromium is installed (``.ci/run`` installs it
with apt-get when it runs as root).
"""

from __future__ import annotations

import struct

import pytest
from cdp_browser import CHECK_PAGE_JS, Browser, find_chromium
from report_fixtures import (  # noqa: F401  (session fixtures)
    CLASSES,
    XSS_CLASS,
    XSS_TRACK,
    full_run,
    hostile_run,
)

pytestmark = pytest.mark.browser

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (install Debian's `chromium` package, or set GENRELENS_CHROMIUM "
    "to the executable) — the report's browser tests need a real browser",
)


@pytest.fixture
def browser(tmp_path):
    with Browser(CHROMIUM, user_data_dir=tmp_path / "profile") as b:
        yield b


def _png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@needs_chromium
def test_report_loads_cleanly_in_chromium(tmp_path, browser, full_run):  # noqa: F811
    report = full_run / "report.html"
    session = browser.open(report.resolve().as_uri(), width=1280, height=2000)
    page = browser.evaluate(CHECK_PAGE_JS, session=session)
    assert browser.errors() == []
    assert len(page["imgs"]) >= 25
    assert all(img["width"] > 0 for img in page["imgs"]), page["imgs"]
    assert len(page["auds"]) == len(CLASSES) + 5
    for audio in page["auds"]:
        assert audio["error"] is None and audio["canPlay"] in ("maybe", "probably"), audio
        assert audio["duration"] == pytest.approx(3.0, abs=0.01)
    shot = browser.screenshot(tmp_path / "report.png", session=session)
    assert _png_size(shot) == (1280, 2000)
    full = browser.screenshot(tmp_path / "full.png", session=session, full_page=True)
    width, height = _png_size(full)
    assert width == 1280 and height > 4000  # the whole page, laid out for a laptop width


#: What a reader sees of scales, titles, tables and the run record (read from the page's DOM).
LAYOUT_JS = r"""
(() => {
  const groups = {};
  document.querySelectorAll('#explanations .track').forEach((track, t) => {
    track.querySelectorAll('.card').forEach(card => {
      const key = t + ' ' + card.dataset.scaleGroup;
      groups[key] = (groups[key] || []).concat(
        Array.from(card.querySelectorAll('img')).map(i => i.dataset.scale));
    });
  });
  const record = document.querySelector('#run table');
  return {
    groups,
    dbRanges: Array.from(document.querySelectorAll('#dataset img[data-db-range]'))
      .map(i => i.dataset.dbRange),
    explainedDbRanges: Array.from(document.querySelectorAll('#explanations img[data-db-range]'))
      .map(i => i.dataset.dbRange),
    timelines: Array.from(document.querySelectorAll('#explanations img[alt^="timeline of"]'))
      .map(i => ({width: i.naturalWidth, height: i.naturalHeight, scales: i.dataset.scales,
                  dbRange: i.dataset.dbRange})),
    titles: Array.from(document.querySelectorAll('img[data-title]')).map(i => i.dataset.title),
    tables: document.querySelectorAll('table').length,
    pres: document.querySelectorAll('pre').length,
    caveats: Array.from(document.querySelectorAll('.caveat')).map(c => c.innerText),
    stages: Array.from(record.querySelectorAll('tbody tr'))
      .map(r => [r.cells[0].innerText, r.cells[1].innerText]),
  };
})()
"""


@needs_chromium
def test_report_scales_titles_tables_and_stages_as_seen_in_chromium(browser, full_run):  # noqa: F811
    session = browser.open((full_run / "report.html").resolve().as_uri())
    page = browser.evaluate(LAYOUT_JS, session=session)
    # one colour scale per component kind (and dense method) in each track, on every figure
    assert len(page["groups"]) >= 6
    for key, scales in page["groups"].items():
        assert scales and None not in scales and len(set(scales)) == 1, (key, scales)
    assert len(page["dbRanges"]) == len(CLASSES) and len(set(page["dbRanges"])) == 1
    assert len(page["explainedDbRanges"]) == 10 and len(set(page["explainedDbRanges"])) == 1
    (timeline,) = page["timelines"]  # the track explained segment by segment
    assert timeline["width"] > 900 and timeline["height"] > 300  # three panels, decoded
    assert timeline["dbRange"] == page["explainedDbRanges"][0] and "time ±" in timeline["scales"]
    assert page["titles"] == ["ALE of spectral centroid"]  # the descriptor, not its file
    assert page["tables"] >= 15 and page["pres"] == 0  # tables, not dumps
    assert any(c.startswith("Thin evidence") for c in page["caveats"])
    assert page["stages"] == [["data", "done"], ["train", "done"], ["quality", "done"]]
    assert browser.errors() == []


@needs_chromium
def test_hostile_names_execute_nothing_in_chromium(browser, hostile_run):  # noqa: F811
    report = hostile_run / "report.html"
    session = browser.open(report.resolve().as_uri())
    page = browser.evaluate(CHECK_PAGE_JS, session=session)
    assert page["pwned"] is None
    assert page["scripts"] == 0
    assert "pwned" not in page["title"]
    # the payloads are shown as text, exactly as written
    assert XSS_CLASS in page["text"]
    assert XSS_TRACK + "3" in page["text"]
    assert all(img["width"] > 0 for img in page["imgs"])  # no broken <img src=x> injected
    assert browser.errors() == []
