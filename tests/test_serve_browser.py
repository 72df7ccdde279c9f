"""`deblurkit serve` in a real browser: headless Chromium driven by Selenium.

Starts the command line's server (`python -m deblurkit serve --port 0`), opens its page in
Debian's `chromium` through `chromedriver` (packages `chromium`, `chromium-driver`; `.ci/run`
installs them), uploads the demo photo with the page's file picker, waits for the restored
picture, moves the comparison slider, and checks that the picture the page offers for
download is byte for byte what `deblurkit restore` writes for that photo with the same
model and tiling. Without the browser the test is skipped with the reason; with CI=true it
fails instead (CI must run it).

A screenshot of the page after restoring is saved in the test's temporary folder; set
DEBLURKIT_SERVE_SCREENSHOT=docs/images/serve-page.png to write the one the docs show.
"""

from __future__ import annotations

import hashlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from deblurkit.cli import main
from deblurkit.cli.demo import PHOTO_BLURRED, default_assets_dir
from deblurkit.io import read_image

#: What the server and `deblurkit restore` both run: the bundled model, 128 px tiles (so the
#: page shows tile progress on the 512 x 384 demo photo), on the CPU.
MODEL_ARGS = ["--model", "default", "--tile", "128", "--overlap", "32", "--device", "cpu"]
#: Chromium flags for a root user in a container with no network but the package mirrors.
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-extensions",
                  "--disable-default-apps", "--window-size=1280,1180",
                  "--force-device-scale-factor=1")
#: Seconds allowed for the server to start, the restore to finish, the browser to answer.
START_TIMEOUT = 180
RESTORE_TIMEOUT = 300


def _browser() -> tuple[str, str]:
    """(chromium, chromedriver) paths; skip (or fail with CI=true) when either is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromium-driver", driver))
               if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip, the test extra)")
    if missing:
        reason = (f"the browser test needs {', '.join(missing)} "
                  "(apt-get install -y chromium chromium-driver)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true: it must run, not skip (.ci/run installs them)")
        pytest.skip(reason)
    assert chromium is not None and driver is not None
    return chromium, driver


def _env(tmp: Path) -> dict[str, str]:
    """The server's environment: this process's (tests/conftest.py sets one torch thread,
    so the server computes exactly as `deblurkit restore` run here), its own TMPDIR."""
    return dict(os.environ, TMPDIR=str(tmp), DEBLURKIT_PROGRESS="0")


def _start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    """Run `deblurkit serve --port 0`; return it and the URL it prints."""
    server = subprocess.Popen([sys.executable, "-m", "deblurkit", "serve", "--port", "0",
                               *MODEL_ARGS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=_env(tmp), text=True)
    assert server.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(server.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if selector.select(timeout=1.0):
            line = server.stdout.readline()
            if "http://" in line:
                url = line.split()[2]
                assert url.startswith("http://127.0.0.1:"), f"not loopback: {line}"
                return server, url
            if not line:
                break
        if server.poll() is not None:
            break
    server.kill()
    _, err = server.communicate(timeout=30)
    pytest.fail(f"deblurkit serve did not start: {err[-2000:]}")


def _wait_ready(url: str) -> None:
    """Poll /api/info until the server answers (it accepts connections from the start)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(url + "api/info", timeout=10) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def _chrome(chromium: str, driver_path: str, profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


#: In the page: SHA-256 (hex) of what a URL serves, fetched by the browser itself.
_SHA256_OF_URL = """
const done = arguments[arguments.length - 1];
const hex = (d) => Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, "0"));
fetch(arguments[0]).then((r) => r.arrayBuffer())
  .then((b) => crypto.subtle.digest("SHA-256", b))
  .then((d) => done(hex(d).join(""))).catch((e) => done("error: " + e));
"""


@pytest.mark.slow
def test_page_restores_the_demo_photo_like_deblurkit_restore(tmp_path, monkeypatch):
    chromium, driver_path = _browser()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not try to download
    photo = default_assets_dir() / PHOTO_BLURRED
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    server, url = _start_server(server_tmp)
    browser = None
    try:
        _wait_ready(url)
        browser = _chrome(chromium, driver_path, tmp_path / "profile")
        browser.get(url)
        wait = WebDriverWait(browser, START_TIMEOUT)
        wait.until(lambda b: "model default" in b.find_element(By.ID, "server-info").text)
        assert "tiles of 128 px" in browser.find_element(By.ID, "server-info").text

        browser.find_element(By.ID, "picker").send_keys(str(photo))
        viewer = browser.find_element(By.ID, "viewer")
        WebDriverWait(browser, RESTORE_TIMEOUT).until(
            lambda b: viewer.get_attribute("data-ready") == "true")
        item = browser.find_element(By.CSS_SELECTOR, "#queue .item")
        assert item.get_attribute("data-status") == "done"
        assert item.find_element(By.CLASS_NAME, "item-status").text.startswith("restored in")
        job_id = viewer.get_attribute("data-job")
        assert item.get_attribute("data-job") == job_id
        assert browser.find_element(By.ID, "viewer-title").text == PHOTO_BLURRED

        # the slider moves the split between before (left) and after (right)
        after = browser.find_element(By.ID, "after")
        clip = "return getComputedStyle(document.getElementById('after')).clipPath"
        assert browser.execute_script(clip) == "inset(0px 0px 0px 50%)"
        slider = browser.find_element(By.ID, "slider")
        slider.send_keys(Keys.HOME)
        for _ in range(30):
            slider.send_keys(Keys.ARROW_RIGHT)
        assert slider.get_attribute("value") == "30"
        assert browser.execute_script(clip) == "inset(0px 0px 0px 30%)"
        left = browser.find_element(By.ID, "divider").value_of_css_property("left")
        assert float(left.removesuffix("px")) == pytest.approx(0.3 * after.size["width"],
                                                                abs=0.5)
        # a click on the slider's track three quarters along moves it there
        ActionChains(browser).move_to_element_with_offset(
            slider, round(0.25 * slider.size["width"]), 0).click().perform()
        value = int(slider.get_attribute("value"))
        assert 70 <= value <= 80
        assert browser.execute_script(clip) == f"inset(0px 0px 0px {value}%)"

        # the pictures shown and offered are the server's, at the photo's size
        height, width = read_image(photo).pixels.shape[:2]
        natural = "return [arguments[0].naturalWidth, arguments[0].naturalHeight]"
        assert browser.execute_script(natural, after) == [width, height]
        download = browser.find_element(By.ID, "download")
        href = download.get_attribute("href")
        assert href == f"{url}api/jobs/{job_id}/result"
        assert download.get_attribute("download") == "photo_blurred_restored.png"

        # ... and exactly what `deblurkit restore` writes for this photo with the same model
        out = tmp_path / "cli"
        assert main(["restore", str(photo), "-o", str(out), *MODEL_ARGS]) == 0
        expected = (out / PHOTO_BLURRED).read_bytes()
        with urllib.request.urlopen(href, timeout=60) as response:
            served = response.read()
        assert served == expected
        restored = read_image(out / PHOTO_BLURRED).pixels
        assert restored.shape == (height, width, 3)
        assert not np.array_equal(restored, read_image(photo).pixels)  # the model did run
        digest = hashlib.sha256(expected).hexdigest()
        browser.set_script_timeout(60)
        assert browser.execute_async_script(_SHA256_OF_URL, href) == digest
        assert browser.execute_async_script(_SHA256_OF_URL, after.get_attribute("src")) == digest

        slider.send_keys(Keys.HOME)
        for _ in range(50):
            slider.send_keys(Keys.ARROW_RIGHT)
        shot = tmp_path / "serve-page.png"
        browser.save_screenshot(str(shot))
        target = os.environ.get("DEBLURKIT_SERVE_SCREENSHOT")
        if target:
            shutil.copyfile(shot, target)
    finally:
        if browser is not None:
            browser.quit()
        server.send_signal(signal.SIGINT)  # Ctrl-C: the server stops and cleans up
        try:
            server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
    assert not list(server_tmp.glob("deblurkit-serve-*")), "temporary folder left behind"
