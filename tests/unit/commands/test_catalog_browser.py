"""The catalog page in a real browser (Debian's headless Chromium): it renders, and its search
box filters the agents. Checked on screenshots (the coloured bar that starts each visible row,
counted down the left edge) and on the DOM after the page's script ran.

Chromium is required, not optional: .ci/run installs it; without it this test fails."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from compiler.cli import main

REPO = Path(__file__).resolve().parents[3]
CONTAINER, WASM, HEADER = (0x1F, 0x6F, 0xEB), (0x82, 0x50, 0xDF), (0x0D, 0x11, 0x17)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--force-device-scale-factor=1", "--hide-scrollbars", "--window-size=1400,2000",
         "--virtual-time-budget=5000"]


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Chromium is missing: apt-get install -y chromium (.ci/run installs it)"
    return exe


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalog")
    r = CliRunner().invoke(main, ["catalog", str(REPO), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out / "index.html"


def browse(chromium: str, page: Path, tmp: Path, query: str,
           *action: str) -> subprocess.CompletedProcess[str]:
    profile = tempfile.mkdtemp(prefix="profile-", dir=tmp)  # a fresh profile every run
    url = page.as_uri() + (f"?q={query}" if query else "")
    done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *action, url],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def rows(png: Path) -> tuple[int, int]:
    """(container rows, wasm rows) visible: runs of each bar colour down column x=3."""
    img = Image.open(png).convert("RGB")
    counts = {CONTAINER: 0, WASM: 0}
    previous = None
    for y in range(img.height):
        colour = img.getpixel((3, y))
        if colour in counts and colour != previous:
            counts[colour] += 1
        previous = colour
    return counts[CONTAINER], counts[WASM]


def screenshot(chromium: str, page: Path, tmp: Path, query: str) -> Path:
    png = tmp / f"shot-{query or 'all'}.png"
    browse(chromium, page, tmp, query, f"--screenshot={png}")
    assert png.is_file() and png.stat().st_size > 0
    img = Image.open(png).convert("RGB")
    assert img.getpixel((5, 5)) == HEADER  # the page rendered, with its stylesheet
    assert len(img.getcolors(maxcolors=1 << 24) or []) > 50  # text, not a blank page
    return png


def test_page_renders_every_agent(chromium: str, page: Path, tmp_path: Path) -> None:
    assert rows(screenshot(chromium, page, tmp_path, "")) == (11, 3)


def test_search_filters(chromium: str, page: Path, tmp_path: Path) -> None:
    assert rows(screenshot(chromium, page, tmp_path, "wasm")) == (0, 3)
    assert rows(screenshot(chromium, page, tmp_path, "summary text")) == (2, 0)
    assert rows(screenshot(chromium, page, tmp_path, "no-such-agent")) == (0, 0)


def test_search_updates_the_count(chromium: str, page: Path, tmp_path: Path) -> None:
    dom = browse(chromium, page, tmp_path, "news-digest", "--dump-dom").stdout
    assert "3 of 14 agent versions" in dom
    assert dom.count('<tr class="agent') == 14 and dom.count("hidden") >= 11
