"""A real headless browser for the page tests (Debian's chromium + chromedriver), shared by the
player-page, SCORM and accessibility tests. Skips only where no browser is installed (``make
test-deps`` installs one)."""

from __future__ import annotations

import shutil

import pytest

BROWSER_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")


def browser_paths():
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None)
        pytest.skip(f"{missing} not found; install them with `make test-deps` (Debian: chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One Chromium per test module; its console log is kept (``severe_errors``)."""
    binary, driver_path = browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


def set_viewport(browser, width=1280, height=800, mobile=False):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def wait_for_video(browser):
    """The lesson video's state once its metadata is loaded (readyState >= 1) or it failed."""
    return browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const v = document.getElementById('lesson');
        const report = () => done({ready: v.readyState, duration: v.duration, error: v.error && v.error.code,
                                   src: v.currentSrc});
        if (v.readyState >= 1 || v.error) report();
        else { v.addEventListener('loadedmetadata', report, {once: true}); v.addEventListener('error', report, {once: true}); }
    """)


def open_page(browser, folder, width=1280, height=800, mobile=False, hash=""):
    """Open the lesson folder's index.html (file://, as a course author double-clicks it) afresh."""
    set_viewport(browser, width, height, mobile)
    browser.get("about:blank")  # a fresh load, not a hash change on the open page
    browser.get(folder.index.as_uri() + hash)
    return wait_for_video(browser)


def severe_errors(browser) -> list:
    """Console errors since the last call (a blocked file, a missing image, a script error)."""
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
