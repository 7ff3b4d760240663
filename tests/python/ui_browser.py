"""Loads meterd's status page in headless Chromium (Debian `chromium` + `chromium-driver`) through
Selenium, and prints what a reader sees as JSON for tests/e2e/ui_browser.rs to check against the
API: every table's cells (by their data-* attributes), the browser console, and every URL the
browser requested.

Usage: ui_browser.py URL [BEARER_TOKEN]
"""

import json
import os
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = os.environ.get("METERD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("METERD_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")

# Runs inside the page through WebDriver (not subject to the page's CSP, which allows no script).
EXTRACT = r"""
const text = (e) => (e ? e.textContent : null);
const cells = (tr) => {
  const dims = {}, fields = {};
  tr.querySelectorAll('td[data-dim]').forEach((td) => { dims[td.dataset.dim] = td.textContent; });
  tr.querySelectorAll('td[data-field]').forEach((td) => { fields[td.dataset.field] = td.textContent; });
  return { dims, fields, attrs: Object.assign({}, tr.dataset) };
};
const spend = {};
for (const id of ['today-team', 'today-model', 'month-team', 'month-model']) {
  const t = document.getElementById(id);
  if (!t) { spend[id] = null; continue; }
  if (t.tagName !== 'TABLE') { spend[id] = { empty: t.textContent }; continue; }
  spend[id] = {
    rows: [...t.querySelectorAll('tr[data-row]')].map(cells),
    rest: [...t.querySelectorAll('tr[data-rest]')].map(cells),
    total: [...t.querySelectorAll('tr[data-total]')].map(cells),
  };
}
const budgets = [...document.querySelectorAll('#budgets tr[data-budget]')].map((tr) => {
  const c = cells(tr);
  const spendCell = tr.querySelector('td[data-field=spend]');
  c.nanos = spendCell ? spendCell.dataset.nanos : null;
  c.values = {};
  tr.querySelectorAll('td[data-value]').forEach((td) => { c.values[td.dataset.field] = td.dataset.value; });
  return c;
});
const unpriced = [...document.querySelectorAll('#unpriced tbody tr')].map(cells);
const entries = document.getElementById('price-entries');
return {
  title: document.title,
  today_total: text(document.getElementById('today-total')),
  month_total: text(document.getElementById('month-total')),
  version: text(document.getElementById('version')),
  scripts: document.querySelectorAll('script').length,
  spend,
  budgets,
  unpriced,
  price_entries: entries ? entries.dataset.count : null,
  price_sources: [...document.querySelectorAll('#price-sources li')].map((li) => li.textContent),
  price_rows: document.querySelectorAll('#prices tbody tr').length,
  checks: [...document.querySelectorAll('#checks tr[data-check]')].map((tr) => tr.textContent),
  reload: text(document.getElementById('reload')),
  counters: [...document.querySelectorAll('#counters tbody tr')].map((tr) => tr.textContent),
  body_text: document.body.innerText,
};
"""


def main():
    url = sys.argv[1]
    token = sys.argv[2] if len(sys.argv) > 2 else None
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: install Debian chromium and chromium-driver (scripts/test.sh does)")
    # Never let Selenium Manager look for a driver or browser on the network.
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="meterd-ui-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        driver.set_page_load_timeout(30)
        if token:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd(
                "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {token}"}}
            )
        # Only what the page itself causes: drop the new tab's own start-up entries.
        driver.get_log("browser")
        driver.get_log("performance")
        driver.get(url)
        page = driver.execute_script(EXTRACT)
        console = driver.get_log("browser")
        requests = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                requests.append(msg["params"]["request"]["url"])
        page["console"] = console
        page["requests"] = requests
        print(json.dumps(page))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
