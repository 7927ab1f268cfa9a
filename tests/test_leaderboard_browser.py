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
