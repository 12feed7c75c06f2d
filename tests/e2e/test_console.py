"""The web console in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver (both installed by scripts/console-deps), against a `weir serve` runtime
on the session's tansu broker, in a pool of its own (its own registry and status topics).

One scenario, in the order a user would meet it: the Jobs page lists a running job with
non-zero throughput; a poison record shows in the job page's dead letters with its reason;
pausing without a token is refused (the runtime has one) and the job keeps running; with the
token, pause from the page pauses the job (checked through the API); the Runtimes page lists
this runtime with the job's partitions, and then a second runtime that runs no job (the job is
paused by then), from its heartbeat; the Modules page gives the module's language; an upload
of a garbage file shows the API's `not_wasm`; every control is reached with Tab and labelled,
every chart has a text alternative, a refused read shows its code, and at a phone's width
nothing scrolls sideways. Each page is saved as a
screenshot in the test's tmp dir (and in $WEIR_CONSOLE_SCREENSHOTS when set: that is how
docs/console/ is made)."""

import os
import pathlib
import shutil
import threading
import time

import pytest
from confluent_kafka import Producer

from control import TOKEN, Runtime, job_spec, job_status, pool_config, upload, wait_for, word_count_bytes
from pool import create_topic, unique

LINES = ["the quick brown fox", "jumps over the lazy dog", "to be or not to be"]
POISON = b"\xff\xfe not text"  # not UTF-8: word count's map refuses it (`rejected`)


def chromium_driver(width, height):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is missing: run scripts/console-deps")
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert browser and driver, "chromium and chromedriver are missing: run scripts/console-deps"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--no-first-run", f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The system chromedriver, named explicitly: Selenium Manager downloads nothing.
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


@pytest.fixture
def browser():
    driver = chromium_driver(1280, 900)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def pool(tmp_path):
    """The console's pool: a registry and a status topic of its own, so its pages show only the
    runtimes and jobs of this test, whatever other tests left on the broker."""
    return pool_config(tmp_path, "console")


@pytest.fixture
def runtime(weir, broker, tmp_path, pool):
    rt = Runtime(weir, broker, tmp_path, "console", extra=["--config", pool]).wait_ready()
    yield rt
    rt.stop()


class Publisher:
    """Publishes a line every 50 ms to the job's input until stopped, so it has throughput."""

    def __init__(self, broker, topic):
        self.producer = Producer({"bootstrap.servers": broker, "linger.ms": 5})
        self.topic, self.done = topic, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        i = 0
        while not self.done.is_set():
            self.producer.produce(self.topic, value=LINES[i % len(LINES)].encode(), partition=i % 2)
            self.producer.poll(0)
            i += 1
            time.sleep(0.05)
        self.producer.flush(10)

    def stop(self):
        self.done.set()
        self.thread.join(timeout=15)


# The console re-renders its tables every few seconds, so an element handle taken in one WebDriver
# call can be stale by the next (CI failed on exactly that, reading a cell's text just after
# finding it). Every read of page content below is therefore one script, run in one go inside
# the page: it finds and reads in the same turn of the page's event loop, so no render can land
# between the two.

def text_of(driver, css):
    """The rendered text of every element matching `css`, joined by spaces."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText.trim()).join(' ')", css)


def until(driver, what, probe, timeout=45):
    """Polls `probe(driver)` until truthy; on timeout fails with the page's text."""
    start, last = time.monotonic(), None
    while time.monotonic() - start < timeout:
        try:
            last = probe(driver)
        except Exception as err:  # the page re-renders under us: try again
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.3)
    page = driver.find_element("tag name", "body").text[-3000:]
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}\n--- page ---\n{page}")


def click(driver, by, value):
    """Clicks an element of a region the page re-renders every few seconds: found afresh until
    the click lands."""
    from selenium.common.exceptions import StaleElementReferenceException
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            driver.find_element(by, value).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.05)
    raise AssertionError(f"{value} kept being re-rendered under the click for 10 s")


def job_row_cell(driver, job, label):
    """The text of the Jobs table's cell `label` in `job`'s row, or None."""
    return driver.execute_script(
        "const [job, label] = arguments;"
        "for (const row of document.querySelectorAll('main tbody tr')) {"
        "  if (![...row.querySelectorAll('a')].some(a => a.innerText.trim() === job)) continue;"
        "  const cell = [...row.querySelectorAll('td')].find(td => td.dataset.label === label);"
        "  return cell ? cell.innerText : null;"
        "}"
        "return null;", job, label)


def save(driver, tmp_path, name):
    path = tmp_path / f"console-{name}.png"
    driver.save_screenshot(str(path))
    target = os.environ.get("WEIR_CONSOLE_SCREENSHOTS")
    if target:
        pathlib.Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, pathlib.Path(target) / f"{name}.png")
    return path


def no_script_errors(driver):
    """No script or rendering error in the browser's log (the refused requests the test makes
    on purpose are logged as `network` errors and do not count)."""
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and e["source"] != "network"]
    assert not errors, errors


def runtime_row(driver, name):
    """The text of the Runtimes table's row of runtime `name`, or None."""
    return driver.execute_script(
        "for (const row of document.querySelectorAll('main tbody tr')) {"
        "  if ([...row.querySelectorAll('[data-runtime]')].some(e => e.dataset.runtime === arguments[0]))"
        "    return row.innerText;"
        "}"
        "return null;", name)


def test_the_console_shows_jobs_dead_letters_and_modules_and_pauses_with_the_token(
        weir, broker, pool, runtime, browser, tmp_path):
    from selenium.webdriver.common.by import By
    rt, driver = runtime, browser
    source, job, output = unique("console-in"), unique("console-job"), unique("console-out")
    create_topic(broker, source, 2)
    reply = upload(rt, word_count_bytes(), unique("wc"))
    assert reply.status == 201, reply
    spec = job_spec(job, reply.json["id"], [source], output, window="tumbling:5s", time="processing")
    assert rt.api("POST", "/v1/jobs", spec).status == 201
    publisher = Publisher(broker, source)
    try:
        poison = Producer({"bootstrap.servers": broker})
        poison.produce(source, value=POISON, partition=1)
        assert poison.flush(30) == 0
        wait_for("the job to run", lambda: job_status(rt, job)["state"] == "running", deadline=90)

        # Jobs: the job, running, with records per second in and out.
        driver.get(f"{rt.url}/#/jobs")
        until(driver, "the job's row to say running",
              lambda d: "running" in (job_row_cell(d, job, "State") or ""))

        def throughput(d):
            cells = (job_row_cell(d, job, "In/s"), job_row_cell(d, job, "Out/s"))
            numbers = [float(c.replace(",", "")) for c in cells if c and c != "—"]
            return len(numbers) == 2 and numbers[0] > 0 and cells
        until(driver, "non-zero throughput on the Jobs page", throughput)
        until(driver, "the dead letter counted", lambda d: "(1 in all)" in job_row_cell(d, job, "Dead letters/min"))
        assert "map" in job_row_cell(driver, job, "Lag per stage")
        assert driver.find_elements(By.CSS_SELECTOR, "main svg.spark polyline"), "no sparkline"
        save(driver, tmp_path, "jobs")

        # Without a token, pause is refused with the API's code, and the job keeps running.
        click(driver, By.CSS_SELECTOR, f'button[data-key="pause:{job}"]')
        until(driver, "the refusal", lambda d: "unauthorized" in text_of(d, "#notice"))
        assert "Enter the API token" in text_of(driver, "#notice")
        assert job_status(rt, job)["state"] == "running"

        # The job page: its data path, charts, and the poison record among the dead letters.
        click(driver, By.LINK_TEXT, job)
        until(driver, "the job page", lambda d: d.find_elements(By.CSS_SELECTOR, "svg.path rect"))
        until(driver, "the poison record in the dead letters",
              lambda d: "rejected" in text_of(d, "#dead-letters + section"), timeout=60)
        dead = text_of(driver, "#dead-letters + section")
        assert f"{source}/1@" in dead and "not text" in dead, dead
        until(driver, "a watermark in the window frontier",
              lambda d: any(c.text not in ("", "—") for c in d.find_elements(By.CSS_SELECTOR, 'td[data-label="Watermark"]')))
        until(driver, "the dead letter counted", lambda d: "(1 since" in text_of(d, "main .card dd"))
        until(driver, "a throughput chart of a few samples", lambda d: any(
            len(p.get_attribute("points").split()) >= 4 for p in d.find_elements(By.CSS_SELECTOR, "svg.chart polyline")))
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(height + 120, 4000))
        save(driver, tmp_path, "job")
        driver.set_window_size(1280, 900)

        # Runtimes: this one, ready, with its version, holding the job's partitions.
        driver.find_element(By.LINK_TEXT, "Runtimes").click()
        until(driver, "this runtime with the job",
              lambda d: "ready" in text_of(d, "main .card") and "(this one)" in text_of(d, "main tbody")
              and job in text_of(d, "main tbody"))
        assert "map: " in text_of(driver, "main tbody")

        # With the token (typed once, kept in the tab's sessionStorage), pause pauses the job.
        driver.get(f"{rt.url}/#/jobs/{job}")
        until(driver, "the job page again", lambda d: d.find_elements(By.CSS_SELECTOR, f'button[data-key="pause:{job}"]'))
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "token-save").click()
        assert driver.execute_script("return sessionStorage.getItem('weir.token')") == TOKEN
        click(driver, By.CSS_SELECTOR, f'button[data-key="pause:{job}"]')
        wait_for("the job to be paused", lambda: job_status(rt, job)["state"] == "paused", deadline=30)
        until(driver, "the page to show it paused", lambda d: "paused" in text_of(d, "main .card .state"))
        until(driver, "a Resume button", lambda d: d.find_elements(By.CSS_SELECTOR, f'button[data-key="resume:{job}"]'))
    finally:
        publisher.stop()

    # Runtimes: a second runtime joins the pool. It runs no job (the only one is paused), and
    # the page lists it all the same, ready, from its heartbeat.
    idle = Runtime(weir, broker, tmp_path, "idle", extra=["--config", pool])
    try:
        idle.wait_ready()
        reply = idle.api("GET", "/v1/runtime")
        assert reply.status == 200, reply
        idle_name = reply.json["runtime"]
        driver.get(f"{rt.url}/#/runtimes")

        def idle_listed(d):
            row = runtime_row(d, idle_name)
            return row and "ready" in row and "no job" in row and row
        row = until(driver, "the second runtime, ready, running no job", idle_listed)
        assert "(this one)" not in row and idle.url in row, row
        this_row = runtime_row(driver, rt.api("GET", "/v1/runtime").json["runtime"])
        assert this_row and "(this one)" in this_row, this_row
        save(driver, tmp_path, "runtimes")
    finally:
        idle.stop()

    # Modules: the word count is listed with its language (read from its producers sections)
    # and the SDK it names; a garbage upload shows the API's `not_wasm`.
    driver.get(f"{rt.url}/#/modules")
    until(driver, "the module list", lambda d: "weir-sdk-rust" in text_of(d, "main tbody"))
    language = text_of(driver, 'main tbody td[data-label="Language / SDK"]')
    assert language.startswith("Rust"), language
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"this is not a WebAssembly component\n" * 10)
    driver.find_element(By.ID, "module-file").send_keys(str(garbage))
    driver.find_element(By.ID, "upload").click()
    until(driver, "the upload's refusal", lambda d: "not_wasm" in text_of(d, "#upload-result"))
    save(driver, tmp_path, "modules")

    # Keyboard and labels: the skip link then the navigation come first in tab order, every
    # form control has a label, every chart a text alternative; a read the API refuses (an
    # unknown job) says so with its code instead of an empty page.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    driver.get(f"{rt.url}/#/modules")
    until(driver, "the module list", lambda d: d.find_elements(By.CSS_SELECTOR, "main tbody tr"))
    reached = set()
    for _ in range(40):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        # Read in one script: the page re-renders its tables every few seconds, so an element
        # handle taken here could be stale by the next call (CI failed on exactly that).
        reached.add(driver.execute_script(
            "const a = document.activeElement; return a ? (a.id || a.innerText.trim()) : ''"))
    for control in ("Skip to content", "Jobs", "Modules", "Runtimes", "token", "token-save",
                    "module-file", "module-name", "upload"):
        assert control in reached, f"{control} is not reachable with Tab: {reached}"
    unlabelled = driver.execute_script(
        "return [...document.querySelectorAll('input, select, textarea')]"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id)")
    assert not unlabelled, unlabelled
    driver.get(f"{rt.url}/#/jobs/no-such-job")
    until(driver, "the refused read", lambda d: "job_not_found" in text_of(d, "main [role=alert]"))
    driver.get(f"{rt.url}/#/jobs/{job}")
    until(driver, "the charts", lambda d: d.find_elements(By.CSS_SELECTOR, "svg.chart"))
    unnamed = driver.execute_script(
        "return [...document.querySelectorAll('svg[role=img]')].filter(c => !c.getAttribute('aria-label')).length")
    assert unnamed == 0, f"{unnamed} charts have no text alternative"

    # A phone's width: the Jobs table becomes one card per job, nothing needs sideways scrolling.
    driver.set_window_size(390, 844)
    driver.get(f"{rt.url}/#/jobs")
    until(driver, "the job on a narrow screen", lambda d: job_row_cell(d, job, "State"))
    wide = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1")
    assert not wide, "the Jobs page scrolls sideways at a phone's width"
    save(driver, tmp_path, "jobs-phone")
    no_script_errors(driver)
    rt.api("DELETE", f"/v1/jobs/{job}")
