"""report.html in a real browser: headless Chromium over the DevTools protocol."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from enso.report import build_report
from enso.workspace import Workspace

from tests.report_helpers import make_results, write_results
from tests.report_helpers_chromium import find_chromium, open_page

NAME = "report-test"
QUESTIONS = {
    "title": "document.title",
    "figures": "document.querySelectorAll('figure svg').length",
    "drawn": "Array.from(document.querySelectorAll('figure svg')).every("
             "s => s.getBoundingClientRect().width > 400 && s.getBoundingClientRect().height > 200)",
    "tables": "document.querySelectorAll('table').length",
    "first_heading": "document.querySelector('h2').textContent",
    "overflowing": "document.documentElement.scrollWidth > window.innerWidth + 1",
    "height": "document.documentElement.scrollHeight",
}


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        message = ("headless Chromium is not installed (Debian package `chromium`: "
                   "apt-get install -y chromium); the report's browser check cannot run")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.mark.slow
def test_report_opens_in_chromium_without_errors_and_draws_something(chromium, tmp_path, shared_datasets):
    from PIL import Image

    write_results(make_results(shared_datasets, NAME), tmp_path / "results" / NAME)
    report = build_report(NAME, Workspace(tmp_path))
    visit = open_page(report.html, executable=chromium, questions=QUESTIONS)

    assert visit.errors == []
    assert visit.requests == [report.html.resolve().as_uri()]  # self-contained: nothing else fetched
    answers = visit.answers
    assert answers["title"] == f"enso report: {NAME}"
    assert answers["figures"] == len(report.figures) and answers["drawn"] is True
    assert answers["tables"] >= 8 and answers["first_heading"] == "Best choices per training size"
    assert answers["overflowing"] is False and answers["height"] > 5000

    image = np.asarray(Image.open(io.BytesIO(visit.screenshot)).convert("RGB"), dtype=np.int16)
    assert image.shape[0] >= 1000 and image.shape[1] >= 1000
    not_white = (np.abs(image - 255).sum(axis=2) > 30).mean()
    assert 0.02 < not_white < 0.6, f"{not_white:.1%} of the screenshot is ink"
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # text, rules, table shading: not one flat colour


def test_browser_check_sees_console_errors(chromium, tmp_path):
    """The check itself can fail: a page that logs an error and throws is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom');"
                    "undefinedFunction();</script><img src='missing.png'></body></html>")
    visit = open_page(page, executable=chromium)
    assert any("boom" in e for e in visit.errors)
    assert any(e.startswith("exception:") for e in visit.errors)
    assert any("missing.png" in url for url in visit.requests)
