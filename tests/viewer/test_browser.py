"""The viewer in headless Chromium (Debian's chromium and chromium-driver, through Selenium).

No test tool downloads a browser: Selenium is given the system's chromium and
chromedriver, and ``SE_OFFLINE`` keeps Selenium Manager from fetching anything.
Where either executable is absent every test here skips saying so; ``.ci/run``
installs both, so CI never skips them. The tree page's screenshot is kept as an
artifact: under ``$THINKTREE_TEST_ARTIFACTS`` when set, else pytest's temporary
directory; its path is printed and recorded as the test's ``screenshot`` property.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.server.helpers import serving
from tests.viewer.conftest import (
    HOSTILE,
    HOSTILE_PROBLEM,
    LIVE_RUN,
    REAL_PROBLEM,
    REAL_RUN,
    SC_RUN,
    TREE_RUN,
    live_row,
)
from thinktree.server import ServerConfig, create_app
from thinktree.store import RunStore
from thinktree.viewer import problem_url, run_url

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver on PATH "
        "(apt-get install chromium chromium-driver; .ci/run installs them)",
    ),
]


@pytest.fixture(scope="module")
def url(store_path: Path) -> Iterator[str]:
    with serving(create_app(None, ServerConfig(store_path=store_path))) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager may never download a driver
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1400,1250", "--lang=en-GB"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("THINKTREE_TEST_ARTIFACTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def node_detail(browser: WebDriver, node_id: int):
    return browser.find_element(By.ID, f"node-detail-{node_id}")


def test_the_runs_page_lists_the_real_run(browser, url) -> None:
    browser.get(url + "/")
    row = browser.find_element(By.CSS_SELECTOR, f'tr.run-row[data-run="{REAL_RUN}"]')
    cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
    assert cells[:7] == [REAL_RUN, "gsm8k:test", "mcts@4", "qwen2.5-coder-0.5b-instruct",
                         "complete", "2", "100.0 (34.2–100.0, n=2)"]  # fmt: skip
    row.find_element(By.LINK_TEXT, REAL_RUN).click()
    WebDriverWait(browser, 10).until(lambda b: b.title == f"{REAL_RUN} · thinktree")
    problems = browser.find_elements(By.CSS_SELECTOR, "tr.problem-row")
    assert [p.get_attribute("data-problem") for p in problems] == ["gsm8k/test/3", "gsm8k/test/4"]


def test_the_tree_page_draws_the_nodes_and_a_click_shows_a_node_s_code(
    browser, url, store_path, tmp_path_factory, record_property
) -> None:
    with RunStore(store_path) as store:
        nodes = {n["id"]: n for n in store.tree(REAL_RUN, REAL_PROBLEM)["nodes"]}
    browser.get(url + problem_url(REAL_RUN, REAL_PROBLEM))
    drawn = browser.find_elements(By.CSS_SELECTOR, "svg.tree g.node")
    assert sorted(int(g.get_attribute("data-node")) for g in drawn) == sorted(nodes)
    assert all(g.is_displayed() for g in drawn[:3])
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.tree line.edge")) == len(nodes) - 1
    shown = [d for d in browser.find_elements(By.CSS_SELECTOR, ".node-detail") if d.is_displayed()]
    assert [d.get_attribute("data-detail") for d in shown] == ["6"]  # the chosen answer

    code_node = 1
    assert not node_detail(browser, code_node).is_displayed()
    browser.find_element(By.CSS_SELECTOR, f'svg.tree g.node[data-node="{code_node}"]').click()
    detail = node_detail(browser, code_node)
    assert detail.is_displayed()
    assert not node_detail(browser, 6).is_displayed()
    assert detail.find_element(By.CSS_SELECTOR, "pre.code").text == nodes[code_node]["step"]["code"]
    assert detail.find_element(By.CSS_SELECTOR, "pre.output").text == (
        nodes[code_node]["step"]["output"].strip()
    )
    facts = detail.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert f"N\n{nodes[code_node]['visits']}" in facts and "Q\n-0.83" in facts

    browser.find_element(By.CSS_SELECTOR, 'input[name="colour"][value="score"]').click()
    fills = {d.get_attribute("fill") for d in browser.find_elements(By.CSS_SELECTOR, "circle.dot")}
    assert fills == {"#c8c8c8"}  # this run had no PPM: every node is "no score"
    browser.find_element(By.CSS_SELECTOR, 'input[name="colour"][value="q"]').click()
    assert (
        len({d.get_attribute("fill") for d in browser.find_elements(By.CSS_SELECTOR, "circle.dot")})
        > 1
    )

    browser.find_element(By.CSS_SELECTOR, f'svg.tree g.node[data-node="{code_node}"]').click()
    # No console errors: nothing the Content-Security-Policy refused, no missing asset.
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    shot = artifacts(tmp_path_factory) / "viewer-tree.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    record_property("screenshot", str(shot))
    print(f"tree page screenshot: {shot}")


def test_a_script_in_a_stored_step_stays_text(browser, url) -> None:
    browser.get(url + problem_url(SC_RUN, HOSTILE_PROBLEM))
    assert browser.find_element(By.CSS_SELECTOR, "pre.question").text == (
        f"What does {HOSTILE} print?"
    )
    codes = [c.text for c in browser.find_elements(By.CSS_SELECTOR, ".sample pre.code")]
    assert codes[0] == f"print('{HOSTILE}')"
    assert browser.find_element(By.CSS_SELECTOR, ".sample pre.output").text == HOSTILE
    assert browser.execute_script("return typeof window.pwned") == "undefined"
    scripts = browser.find_elements(By.TAG_NAME, "script")
    assert [s.get_attribute("src") for s in scripts] == [url + "/assets/viewer.js"]

    browser.get(url + problem_url(TREE_RUN, "q1"))
    browser.find_element(By.CSS_SELECTOR, 'svg.tree g.node[data-node="1"]').click()
    assert node_detail(browser, 1).find_element(By.CSS_SELECTOR, "pre.code").text == (
        f"print('{HOSTILE}')"
    )
    assert browser.find_element(By.CSS_SELECTOR, "svg.tree text.answer-label").text == "✗ <b>9</b>"
    assert browser.execute_script("return typeof window.pwned") == "undefined"


def test_a_running_run_s_page_fills_in_as_results_arrive(browser, url, store_path) -> None:
    browser.get(url + run_url(LIVE_RUN))
    rows = lambda b: b.find_elements(By.CSS_SELECTOR, "tr.problem-row")  # noqa: E731
    assert len(rows(browser)) == 1
    with RunStore(store_path) as store:
        store.add_result(LIVE_RUN, live_row(1))
    started = time.monotonic()
    WebDriverWait(browser, 20).until(lambda b: len(rows(b)) == 2)
    # The page refetches itself every 5 s: the new row shows within one refresh
    # (and the swap), not merely before the 20 s the wait allows.
    assert time.monotonic() - started < 5 + 2
    assert browser.find_element(By.ID, "live-status").text.startswith("live · updated ")
