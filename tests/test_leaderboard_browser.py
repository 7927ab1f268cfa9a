"""The rendered board in headless Chromium from a file URL: sort a column, open a per-class view, screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from leaderboard_helpers import write_predictions

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def rendered(tiny_dataset, tmp_path_factory) -> Path:
    from wlbench.leaderboard import render_board, submit_run
    from wlbench.scoring import Settings

    d = tmp_path_factory.mktemp("browser")
    board = d / "leaderboard"
    fast = Settings(n_resamples=100)
    specs = [("CNN-attention", [0.3, 0.35, 0.4], "2.1"), ("MIL max-pool", [0.5], ""), ("Chance-ish", [1.2], "")]
    k = 0
    for name, noises, version in specs:
        files = []
        for noise in noises:
            files.append(write_predictions(tiny_dataset, d / f"p{k}.csv", noise, k))
            k += 1
        submit_run(board, tiny_dataset, name, files, method_version=version, seeds=list(range(len(files))),
                   description=f"{name} on the tiny tone dataset", config={"epochs": 10}, settings=fast)
    _, page = render_board(board, d / "site")
    return page


def _driver(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,1600"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


@pytest.mark.skipif(CHROMIUM is None or not os.path.exists(CHROMEDRIVER),
                    reason="chromium / chromium-driver not installed (apt-get install -y chromium chromium-driver)")
def test_board_page_sorts_drills_down_and_is_not_blank(rendered, tmp_path):
    import numpy as np
    from PIL import Image
    from selenium.webdriver.common.by import By

    driver = _driver(tmp_path / "profile")
    try:
        driver.get(rendered.resolve().as_uri())
        assert driver.title == "wlbench leaderboard"
        table = driver.find_element(By.CSS_SELECTOR, "table.board")

        def methods():
            return [r.find_elements(By.TAG_NAME, "td")[1].text
                    for r in table.find_elements(By.CSS_SELECTOR, "tbody tr.entry")]

        ranked = methods()
        assert ranked[0] == "CNN-attention 2.1" and len(ranked) == 3
        header = next(th for th in table.find_elements(By.TAG_NAME, "th") if th.text.strip() == "method")
        header.click()
        assert methods() == sorted(ranked, key=str.lower)
        assert "sorted-asc" in header.get_attribute("class")
        header.click()
        assert methods() == sorted(ranked, key=str.lower, reverse=True)
        runs = next(th for th in table.find_elements(By.TAG_NAME, "th") if th.text.strip() == "runs")
        runs.click()
        assert methods()[-1] == "CNN-attention 2.1"  # ascending run count: the 3-seed entry last
        # per-class drill-down, and the detail row travelled with its entry
        row = next(r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr.entry") if "CNN" in r.text)
        button = row.find_element(By.CSS_SELECTOR, "button.drill")
        detail = driver.find_element(By.ID, button.get_attribute("aria-controls"))
        assert not detail.is_displayed()
        button.click()
        assert detail.is_displayed() and button.get_attribute("aria-expanded") == "true"
        assert "Dog" in detail.text and "Cat" in detail.text and "Speech" in detail.text
        assert detail.find_element(By.CSS_SELECTOR, "img.plot").get_attribute("naturalWidth") not in ("0", None)
        order = methods()
        detail.find_element(By.CSS_SELECTOR, "table.pc th").click()
        assert methods() == order and button.get_attribute("aria-expanded") == "true"
        driver.execute_script("document.querySelector('.scroll').scrollLeft = 0;"
                              "document.querySelector('section h2').scrollIntoView({block: 'start'})")
        shot = tmp_path / "leaderboard.png"
        assert driver.save_screenshot(str(shot))
        keep = os.environ.get("WLBENCH_SCREENSHOT_DIR")
        if keep:
            shutil.copy(shot, Path(keep) / "leaderboard.png")
    finally:
        driver.quit()
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape[0] > 200 and img.shape[1] > 200
    assert img.std() > 10, "the screenshot is blank"
    assert len(np.unique(img)) > 20


@pytest.fixture(scope="module")
def many_rows(tiny_dataset, tmp_path_factory) -> Path:
    """A 15-row table: methods of two experiments (one maps to a paper), a control and an upper bound, one
    description holding an absolute path."""
    from wlbench.leaderboard import render_board, submit_run
    from wlbench.scoring import Settings

    d = tmp_path_factory.mktemp("many")
    board = d / "leaderboard"
    fast = Settings(n_resamples=50)
    names = [f"method-{i} [turpault2020]" for i in range(12)] + [
        "prior (prior) [turpault2020]", "method-0 (oracle) [turpault2020]", "hand-made"]
    noises = [0.05 + 0.08 * i for i in range(12)] + [2.0, 0.01, 0.6]
    for k, (name, noise) in enumerate(zip(names, noises)):
        f = write_predictions(tiny_dataset, d / f"p{k}.csv", noise, 100 + k)
        submit_run(board, tiny_dataset, name, [f], settings=fast,
                   description=f"{name} (/home/someone/checkout/baselines/experiments/turpault2020.toml)")
    _, page = render_board(board, d / "site")
    return page


@pytest.mark.skipif(CHROMIUM is None or not os.path.exists(CHROMEDRIVER),
                    reason="chromium / chromium-driver not installed (apt-get install -y chromium chromium-driver)")
def test_board_layout_sticky_method_column_top_group_and_controls(many_rows, tmp_path):
    """What a researcher sees at a glance: a title that says what the table is; the rank and method columns
    stay in view when the metrics scroll sideways, and the header when a long table scrolls down; the top
    tie group has its own colour; controls and upper bounds are tagged; reference entries link the paper and
    the docs; no absolute path is shown."""
    import numpy as np
    from PIL import Image
    from selenium.webdriver.common.by import By

    driver = _driver(tmp_path / "profile")
    try:
        driver.set_window_size(1000, 1000)  # narrower than the table: it has to scroll sideways
        driver.get(many_rows.resolve().as_uri())
        title = driver.find_element(By.CSS_SELECTOR, "section h2").text
        assert title.startswith("tiny") and "6 clips" in title and "eval split" in title and "tagging" in title
        assert "whole clips" in title and "truth" not in title
        toc = driver.find_element(By.CSS_SELECTOR, "ul").text
        assert "(15 entries)" in toc
        frame = driver.find_element(By.CSS_SELECTOR, ".scroll")
        assert "tall" in frame.get_attribute("class")
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr.entry")
        assert len(rows) == 15
        first_method = rows[0].find_element(By.CSS_SELECTOR, "td.methodcol")
        assert driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", frame)
        before = first_method.rect["x"]
        driver.execute_script("arguments[0].scrollLeft = arguments[0].scrollWidth", frame)
        assert driver.execute_script("return arguments[0].scrollLeft", frame) > 100
        assert first_method.rect["x"] == pytest.approx(before, abs=1)
        # not covered by the scrolled metric cells: the method cell is what sits at its own centre
        hit = driver.execute_script(
            "var r = arguments[0].getBoundingClientRect();"
            "return document.elementFromPoint(r.left + r.width / 2, r.top + 8).closest('td');", first_method)
        assert hit == first_method
        # the header row stays at the top of the frame when the long table scrolls down
        header = driver.find_element(By.CSS_SELECTOR, "table.board thead th.methodcol")
        top = header.rect["y"]
        driver.execute_script("arguments[0].scrollTop = 400", frame)
        assert driver.execute_script("return arguments[0].scrollTop", frame) > 100
        assert header.rect["y"] == pytest.approx(top, abs=1)
        driver.execute_script("arguments[0].scrollTop = 0; arguments[0].scrollLeft = 0", frame)

        def background(row):
            return row.find_element(By.CSS_SELECTOR, "td.metric").value_of_css_property("background-color")

        top_rows = [r for r in rows if "top" in r.get_attribute("class").split()]
        rest = [r for r in rows if "top" not in r.get_attribute("class").split()]
        assert top_rows and rest
        assert {background(r) for r in top_rows}.isdisjoint({background(r) for r in rest})
        by_name = {r.find_element(By.CSS_SELECTOR, "td.methodcol").text.split("\n")[0]: r for r in rows}
        prior = next(r for n, r in by_name.items() if n.startswith("prior"))
        oracle = next(r for n, r in by_name.items() if "(oracle)" in n)
        assert "CONTROL" in prior.text and "control" in prior.get_attribute("class")
        assert "UPPER BOUND" in oracle.text
        assert not any(t in r.text for r in rows if r not in (prior, oracle) for t in ("CONTROL", "UPPER BOUND"))
        links = {a.text: a.get_attribute("href") for a in rows[0].find_elements(By.CSS_SELECTOR, ".refs a")}
        assert links["paper"].startswith("https://arxiv.org/") and "docs/baselines.md#" in links["docs"]
        hand = next(r for n, r in by_name.items() if n.startswith("hand-made"))
        assert not hand.find_elements(By.CSS_SELECTOR, ".refs a")
        assert "/home/someone" not in driver.page_source
        shot = tmp_path / "leaderboard-many.png"
        assert driver.save_screenshot(str(shot))
        keep = os.environ.get("WLBENCH_SCREENSHOT_DIR")
        if keep:
            shutil.copy(shot, Path(keep) / "leaderboard-many.png")
    finally:
        driver.quit()
    img = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert img.std() > 10, "the screenshot is blank"
    # the top group's green is on the screen
    green = (img[..., 1] > img[..., 0] + 8) & (img[..., 1] > img[..., 2] + 4)
    assert green.sum() > 1000
