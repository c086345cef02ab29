#!/usr/bin/python3
"""Browser tests of the ledger node's dashboard: headless Chromium (Debian's chromium,
chromium-driver, python3-selenium) against a real `ledger node` that holds the records of a real
pipeline run (tests/browser/pipeline.py).

Usage: dashboard_test.py --bin BUILD/bin [--screenshots DIR] [--keep]
Exit 0 = every check passed, 1 = a check failed, 77 = Chromium or Selenium is missing (CTest
skips; under CI=true a missing browser fails instead).

Every wait is a WebDriverWait on a condition; the page marks a finished render with
#view[data-state=ready] and counts renders in data-generation.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import Pipeline, wait_for  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTILE_REASON = ('<img src=x onerror="window.__pwned=\'img\'">'
                  '<script>window.__pwned="script"</script> & </td>')
HOSTILE_GATEWAY = '"><script>window.__pwned="gw"</script>'
HOSTILE_QUERY = '<script>window.__pwned="query"</script><b id="injected">x</b>'

ARGS = None
P = None          # the Pipeline
DRIVER = None
WORK = None


def missing_browser():
    try:
        import selenium  # noqa: F401
        import cryptography  # noqa: F401
    except ImportError as e:
        return str(e)
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return path + " is not installed"
    return None


def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1000", "--user-data-dir=" + os.path.join(WORK, "chromium"),
              "--no-first-run", "--disable-extensions", "--hide-scrollbars"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def setUpModule():
    global P, DRIVER, WORK
    WORK = tempfile.mkdtemp(prefix="fwchain-dashboard-")
    P = Pipeline(ARGS.bin, WORK)
    started = time.monotonic()
    try:
        P.run_all()
        print("pipeline ready in %.1f s: ledger %s" % (time.monotonic() - started, P.ledger),
              file=sys.stderr)
        DRIVER = make_driver()
        DRIVER.set_page_load_timeout(30)
    except BaseException:
        tearDownModule(failed=True)
        raise


def tearDownModule(failed=False):
    global DRIVER
    if DRIVER is not None:
        DRIVER.quit()
        DRIVER = None
    if P is not None:
        P.stop()
    if WORK and (ARGS.keep or failed or os.environ.get("FWCHAIN_KEEP_TMP")):
        print("kept " + WORK, file=sys.stderr)
    elif WORK:
        shutil.rmtree(WORK, ignore_errors=True)


class Dashboard(unittest.TestCase):
    """Each test opens a page of the dashboard and compares it with the node's JSON API."""

    def setUp(self):
        from selenium.common.exceptions import (NoSuchElementException,
                                                StaleElementReferenceException)
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        self.By = By
        self.d = DRIVER
        # A re-render replaces the view's elements: a condition retries on a stale or
        # not-yet-present element instead of failing.
        self.wait = WebDriverWait(DRIVER, 20, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException))
        DRIVER.get_log("browser")  # start each test with an empty log

    def tearDown(self):
        # No page may log an error: script errors, CSP violations, failed loads.
        errors = [e for e in self.d.get_log("browser") if e["level"] == "SEVERE"]
        self.assertEqual(errors, [], "browser console errors")

    # ------------------------------------------------------------------ helpers

    def open(self, fragment, view, live=False):
        """Loads the dashboard at #fragment and waits until that view rendered. Live refresh is
        switched off unless asked for, so that the elements a test reads stay in place."""
        self.d.get("about:blank")  # a fresh load every time, not a same-document hash change
        self.d.get(P.ledger + "/" + fragment)
        v = self.rendered(view)
        self.js("document.getElementById('live').checked = arguments[0]", live)
        return v

    def rendered(self, view, after_generation=0):
        def done(d):
            v = d.find_element(self.By.ID, "view")
            if v.get_attribute("data-state") == "error":
                raise AssertionError("view failed: " + v.text)
            return (v.get_attribute("data-state") == "ready" and
                    v.get_attribute("data-view") == view and
                    int(v.get_attribute("data-generation")) > after_generation) and v
        return self.wait.until(done)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    # Reads of several elements happen in one script, so a re-render cannot split them.
    def attrs(self, css, attr):
        return self.js("return [...document.querySelectorAll(arguments[0])]"
                       ".map((e) => e.getAttribute(arguments[1]))", css, attr)

    def texts(self, css):
        return self.js("return [...document.querySelectorAll(arguments[0])]"
                       ".map((e) => e.innerText.trim())", css)

    def row_ids(self, table_id):
        return self.attrs("#%s tbody tr" % table_id, "data-txid")

    def chart(self, name):
        """The Chart.js instance drawn on canvas[data-chart=name]: its labels and datasets."""
        return self.js("""
            const c = document.querySelector('canvas[data-chart="' + arguments[0] + '"]');
            const chart = c && Chart.getChart(c);
            return chart && {labels: chart.data.labels,
                             data: chart.data.datasets.map((d) => ({label: d.label, data: d.data})),
                             points: Number(c.dataset.points), width: c.width};
        """, name)

    def assert_not_executed(self):
        self.assertIsNone(self.js("return window.__pwned === undefined ? null : window.__pwned"),
                          "hostile text was executed")
        # Nothing from the data became an element: no <img>, <b> or extra <script>.
        self.assertEqual(self.js("return document.querySelectorAll('#view img, #injected').length"),
                         0)
        self.assertEqual(self.js("return document.scripts.length"), 2)

    # ------------------------------------------------------------------ the pages

    def test_fleet_overview_charts_match_the_api(self):
        self.open("#/", "fleet")
        # Version distribution of cam: from GET /v1/status.
        status = P.get("/v1/status", product="cam", limit=0)
        self.assertEqual(status["versions"], {"1.0.0": 1, "1.1.0": 2})
        chart = self.wait.until(lambda d: self.chart("versions-cam"))
        self.assertEqual(chart["labels"], ["1.0.0", "1.1.0"])
        self.assertEqual(chart["data"][0]["data"], [1, 2])
        self.assertEqual(chart["points"], 2)
        self.assertGreater(chart["width"], 0)
        # door has an admitted device and no installs yet: no chart, a note.
        door = self.d.find_element(self.By.CSS_SELECTOR, '[data-product="door"]')
        self.assertIn("No installed reports yet", door.text)
        self.assertIsNone(self.chart("versions-door"))

        # Updates and failures over time: 60 one-minute bars (the default range), and the bars
        # add up to the update reports the API finds in the same range.
        activity = self.chart("activity")
        self.assertEqual(activity["points"], 60)
        self.assertEqual(len(activity["labels"]), 60)
        by_state = {d["label"]: d["data"] for d in activity["data"]}
        self.assertEqual(sorted(by_state), ["failed", "installed", "rolled-back"])
        for series in by_state.values():
            self.assertEqual(len(series), 60)
        canvas = self.d.find_element(self.By.CSS_SELECTOR, 'canvas[data-chart="activity"]')
        api = P.get("/v1/activity", bucket=canvas.get_attribute("data-bucket"),
                    since=canvas.get_attribute("data-since"),
                    until=canvas.get_attribute("data-until"))
        self.assertEqual(len(api["buckets"]), 60)
        for state in by_state:
            self.assertEqual(by_state[state], [b["counts"].get(state, 0) for b in api["buckets"]],
                             state)
        installed = P.search_all(type="update", state="installed", since=api["since"],
                                 until=api["until"] - 1)
        self.assertEqual(sum(by_state["installed"]), len(installed))
        self.assertGreaterEqual(sum(by_state["installed"]), 5)  # 3 x 1.0.0, 2 x 1.1.0
        self.assertGreaterEqual(sum(by_state["rolled-back"]), 1)
        self.shot("fleet")

    def test_search_form_shows_the_rows_the_api_finds(self):
        from selenium.webdriver.support.ui import Select
        v = self.open("#/search", "search")
        form = self.d.find_element(self.By.ID, "search-form")
        form.find_element(self.By.NAME, "device").send_keys("cam-003")
        Select(form.find_element(self.By.NAME, "type")).select_by_value("update")
        generation = int(v.get_attribute("data-generation"))
        form.find_element(self.By.CSS_SELECTOR, "button[type=submit]").click()
        self.rendered("search", generation)
        self.assertIn("device=cam-003", self.d.current_url)
        want = [r["id"] for r in P.search_all(device="cam-003", type="update")]
        self.assertGreaterEqual(len(want), 3)  # installed 1.0.0, downloading/installed, rolled-back
        self.assertEqual(self.row_ids("search-results"), want)

        # Product + version + state through the URL, as the overview links it.
        self.open("#/search?product=cam&ver=1.1.0&state=installed&type=update", "search")
        want = [r["id"] for r in P.search_all(product="cam", ver="1.1.0", state="installed",
                                              type="update")]
        self.assertEqual(len(want), 2)
        self.assertEqual(self.row_ids("search-results"), want)
        devices = set(self.texts("#search-results tbody tr td:nth-child(3)"))
        self.assertEqual(devices, {"cam-001", "cam-002"})
        self.shot("search")

        # A time range that holds nothing.
        self.open("#/search?device=cam-001&until=1000", "search")
        self.assertEqual(self.row_ids("search-results"), [])
        self.assertIn("No transactions match", self.d.find_element(
            self.By.ID, "search-summary").text)

    def test_device_page_shows_its_history(self):
        self.open("#/device/cam-003", "device")
        want = P.search_all(device="cam-003")
        self.assertEqual(self.row_ids("device-history"), [r["id"] for r in want])
        states = self.texts("#device-history tbody tr td:nth-child(2)")
        self.assertEqual(states, [r["tx"]["state"] for r in want])
        self.assertIn("rolled-back", states)
        summary = self.d.find_element(self.By.CSS_SELECTOR, "dl.kv").text
        self.assertIn("1.0.0", summary)  # cam-003 rolled back to 1.0.0

    def test_releases_show_rollout_outcomes(self):
        self.open("#/releases?product=cam", "releases")
        api = P.get("/v1/releases", product="cam")
        self.assertEqual(self.attrs("#release-list .release", "data-version"),
                         [r["version"] for r in api["releases"]])
        self.assertEqual([r["version"] for r in api["releases"]], ["1.1.0", "1.0.0"])
        newest = api["releases"][0]
        self.assertEqual(newest["outcomes"].get("installed"), 2)
        self.assertGreaterEqual(newest["outcomes"].get("rolled-back", 0), 1)
        chart = self.chart("release-outcomes")
        self.assertEqual(chart["labels"], ["1.0.0", "1.1.0"])
        installed = [d for d in chart["data"] if d["label"] == "installed"][0]["data"]
        self.assertEqual(installed, [r["outcomes"].get("installed", 0)
                                     for r in reversed(api["releases"])])
        self.shot("releases")

        # Rollout control adds optional fields to each entry; the page shows them when present
        # (free text as text). Fed here through the page's own fetch, as a newer node would.
        self.js("""
            const reason = arguments[0];
            const real = window.fetch;
            window.fetch = async (url, opts) => {
                const res = await real(url, opts);
                if (!String(url).startsWith('/v1/releases')) return res;
                const j = await res.json();
                Object.assign(j.releases[0], {stage: {index: 1, percent: 25, stages: [5, 25, 100]},
                    approvals: {have: 1, need: 2}, state: 'waiting-approvals',
                    reason: reason});
                j.releases[1].state = '<b id="injected">halted</b>';
                return new Response(JSON.stringify(j), {status: res.status});
            };
            location.hash = '#/releases?product=cam&with=rollout';
        """, HOSTILE_REASON)
        self.wait.until(lambda d: d.find_elements(self.By.CSS_SELECTOR, "#release-list .stage"))
        first, second = self.d.find_elements(self.By.CSS_SELECTOR, "#release-list .release")
        self.assertIn("stage 2 of 3 · 25%", first.find_element(self.By.CLASS_NAME, "stage").text)
        self.assertEqual(first.find_element(self.By.TAG_NAME, "progress").get_attribute("value"),
                         "25")
        self.assertEqual(first.find_element(self.By.CLASS_NAME, "approvals").text, "1 of 2")
        badge = first.find_element(self.By.CSS_SELECTOR, ".head .state")
        self.assertEqual(badge.text, "waiting-approvals")
        self.assertIn("state-waiting-approvals", badge.get_attribute("class"))
        self.assertEqual(first.find_element(self.By.CLASS_NAME, "reason").text, HOSTILE_REASON)
        self.assertEqual(second.find_element(self.By.CSS_SELECTOR, ".head .state").text,
                         '<b id="injected">halted</b>')
        self.assertEqual(second.find_elements(self.By.CLASS_NAME, "stage"), [])
        self.assert_not_executed()

    def test_explorer_lists_blocks_and_miners_and_refreshes_live(self):
        v = self.open("#/explorer", "explorer", live=True)
        blocks = P.get("/v1/chain/blocks", count=20)
        heights = [int(h) for h in self.attrs("#blocks tbody tr", "data-height")]
        self.assertEqual(heights, [b["height"] for b in blocks["blocks"]])
        miners = len(self.attrs("#miners tbody tr", "class"))
        self.assertEqual(miners, len(P.get("/v1/chain/miners", window=100)["miners"]))
        self.assertEqual(self.chart("miners")["points"], miners)
        self.shot("explorer")

        # Live refresh: a new tx gets mined, and the page shows the new block without a reload.
        generation = int(v.get_attribute("data-generation"))
        tip = blocks["tip"]
        tx, tx_id = P.device_report("cam-001", "watchdog", "gw-live")
        self.assertEqual(P.post("/v1/tx", tx)[0], 200)
        wait_for("the report to be mined",
                 lambda: P.get("/v1/tx/" + tx_id)["confirmations"] >= 1, timeout=30)
        self.wait.until(lambda d: int(d.find_element(
            self.By.CSS_SELECTOR, "#blocks tbody tr").get_attribute("data-height")) > tip)
        self.assertGreater(int(v.get_attribute("data-generation")), generation)
        self.assertTrue(self.d.current_url.endswith("#/explorer"))

    def test_tx_page_verifies_the_inclusion_proof(self):
        # A proof needs a block of several txs: reports posted together share the next block.
        for attempt in range(10):
            ids = P.post_together(P.cams, "batch %d" % attempt)
            best = max((P.get("/v1/tx/" + i) for i in ids), key=lambda t: len(t["proof"]))
            if best["proof"]:
                break
        self.assertTrue(best["proof"], "no block held two of the reports")
        self.open("#/tx/" + best["id"], "tx")
        verdict = self.d.find_element(self.By.ID, "proof-verdict")
        self.assertEqual(verdict.get_attribute("data-verified"), "true", verdict.text)
        self.assertEqual(len(self.attrs("#proof tbody tr", "class")), len(best["proof"]))
        self.shot("tx")

        # The check can fail: the same page fed a proof with one sibling changed refuses it.
        self.js("""
            const real = window.fetch;
            window.fetch = async (url, opts) => {
                const res = await real(url, opts);
                if (!String(url).startsWith('/v1/tx/')) return res;
                const j = await res.json();
                j.proof[0].hash = j.proof[0].hash.replace(/^./, (c) => c === '0' ? '1' : '0');
                return new Response(JSON.stringify(j), {status: res.status});
            };
            location.hash = '#/tx/' + arguments[0] + '?tampered=1';
        """, best["id"])
        self.wait.until(lambda d: d.find_element(self.By.ID, "proof-verdict")
                        .get_attribute("data-verified") == "false")

        # The block page lists every tx of the block, the reports among them.
        self.open("#/block/" + best["block_hash"], "block")
        block = P.get("/v1/chain/blocks", hash=best["block_hash"])["blocks"][0]
        links = [h.split("#/tx/")[1] for h in self.attrs("#block-txs a.txid", "href")]
        self.assertEqual(links, block["tx_ids"])
        self.assertIn(best["id"], links)
        self.assertGreaterEqual(len(links), 2)

    def test_hostile_text_is_shown_as_text_and_never_run(self):
        # A compromised cam-003 signs a report whose free-text fields are markup.
        tx, tx_id = P.device_report("cam-003", HOSTILE_REASON, HOSTILE_GATEWAY)
        status, answer = P.post("/v1/tx", tx)
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["id"], tx_id)
        wait_for("the hostile report to be mined",
                 lambda: P.get("/v1/tx/" + tx_id)["confirmations"] >= 1, timeout=30)

        self.open("#/device/cam-003", "device")
        cells = self.texts('#device-history tr[data-txid="%s"] td' % tx_id)
        self.assertEqual(cells[6], HOSTILE_REASON)
        self.assertEqual(cells[5], HOSTILE_GATEWAY)
        self.assert_not_executed()
        self.shot("device")

        for fragment, view in [("#/search?device=cam-003", "search"), ("#/tx/" + tx_id, "tx"),
                               ("#/", "fleet"), ("#/releases", "releases")]:
            self.open(fragment, view)
            self.assert_not_executed()
        self.open("#/tx/" + tx_id, "tx")
        self.assertIn('<script>window.__pwned=\\"script\\"</script>',
                      self.d.find_element(self.By.ID, "tx-json").text)
        self.assert_not_executed()

        # A search term is reflected in the page: as text.
        from urllib.parse import quote
        self.open("#/search?device=" + quote(HOSTILE_QUERY, safe=""), "search")
        summary = self.d.find_element(self.By.ID, "search-summary").text
        self.assertIn(HOSTILE_QUERY, summary)
        self.assertEqual(self.d.find_element(self.By.NAME, "device").get_attribute("value"),
                         HOSTILE_QUERY)
        self.assert_not_executed()

    def test_every_page_loads_without_console_errors(self):
        tip = P.get("/v1/tip")
        some_tx = P.search_all(type="release")[0]["id"]
        for fragment, view in [("#/", "fleet"), ("#/?range=1d", "fleet"), ("#/?range=30d", "fleet"),
                               ("#/search", "search"), ("#/releases", "releases"),
                               ("#/releases?product=door", "releases"),
                               ("#/explorer", "explorer"), ("#/device/door-001", "device"),
                               ("#/block/" + tip["hash"], "block"), ("#/tx/" + some_tx, "tx"),
                               ("#/nowhere", "nowhere")]:
            self.open(fragment, view)
            errors = [e for e in self.d.get_log("browser") if e["level"] == "SEVERE"]
            self.assertEqual(errors, [], fragment)
        # The page and its assets carry the security headers.
        import urllib.request
        with urllib.request.urlopen(P.ledger + "/") as r:
            self.assertIn("script-src 'self'", r.headers["Content-Security-Policy"])
            self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")

    def shot(self, name):
        if ARGS.screenshots:
            os.makedirs(ARGS.screenshots, exist_ok=True)
            # As a user sees it: with live refresh on (the tests switch it off).
            live = self.js("const b = document.getElementById('live'); const was = b.checked;"
                           "b.checked = true; return was")
            self.d.save_screenshot(os.path.join(ARGS.screenshots, name + ".png"))
            self.js("document.getElementById('live').checked = arguments[0]", live)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="directory of the built executables")
    parser.add_argument("--screenshots", help="save PNGs of the main pages here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    ARGS, rest = parser.parse_known_args()
    why = missing_browser()
    if why:
        print("dashboard browser test: " + why + " (scripts/setup --browser installs it)",
              file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)
    program = unittest.main(argv=[sys.argv[0], "-v"] + rest, exit=False)
    sys.exit(0 if program.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
