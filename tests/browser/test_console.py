"""The console end to end: headless Chromium against the stack ``make run`` starts.

One ``jobyard-dev up`` for the module (its sample feeds, its first import, its worker and
scheduler). Every page a test opens is checked by axe-core (no serious or critical
violation), must load nothing from another origin, and is saved as a screenshot under
``docs/screenshots/console-*.png`` (the README shows three of them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from jobyard_devstack.net import wait_until
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import SCREENSHOTS, Browsing
from tests.support.devstack import DevStack, admin_password, dev_stack

SERIOUS = ("serious", "critical")
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[DevStack, str]]:
    with dev_stack(tmp_path_factory.mktemp("console") / "data", redis_url) as stack:
        banner = stack.up()
        yield stack, banner


@pytest.fixture
def origin(console: tuple[DevStack, str]) -> str:
    return f"http://127.0.0.1:{console[0].console_port}"


def look(browsing: Browsing, origin: str, name: str) -> None:
    """The page as it is now: accessible, all from our origin, and saved as a picture."""
    page = browsing.page
    page.wait_for_load_state("networkidle")
    violations = [v for v in Axe().run(page).response["violations"] if v["impact"] in SERIOUS]
    assert violations == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    assert browsing.foreign(origin) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def sign_in(page: Page, origin: str, email: str, password: str) -> None:
    page.goto(f"{origin}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # argon2 (64 MiB, deliberately slow) under a loaded CI machine: more than the default 5 s
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT_MS)


def register(page: Page, origin: str, email: str) -> None:
    page.goto(f"{origin}/register")
    page.get_by_label("Name").fill("Console User")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("Account created", timeout=WAIT_MS)
    sign_in(page, origin, email, "a long enough passphrase")


def create_task(page: Page, origin: str, name: str, kind: str, payload: str, retries: int = 3) -> None:
    page.goto(f"{origin}/tasks/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Kind", exact=True).select_option(kind)
    page.get_by_label("Payload").fill(payload)
    page.get_by_label("Retries").fill(str(retries))
    page.get_by_role("button", name="Create task").click()
    shows_created(page, name)


def choose_zone(page: Page, zone: str) -> None:
    """Type a time zone and leave the field, as a keyboard user does: its suggestions list
    closes, and its change refreshes the cron preview now, not when the submit's click
    blurs it. A test then waits for the preview in that zone before it clicks: the
    preview's swap above the button must not move the button from under the click (a
    submit whose form was never sent, 1 run in many on a busy machine)."""
    field = page.get_by_label("Time zone", exact=True)
    field.fill(zone)
    field.press("Tab")


def shows_created(page: Page, name: str) -> None:
    """After a create form's submit: the new thing's page (waited for: a busy machine answers
    the post and its redirect slowly), or the form's errors, named."""
    try:
        expect(page.get_by_role("heading", level=1)).to_have_text(name, timeout=WAIT_MS)
    except AssertionError as missed:
        errors = page.locator(".field-error, [role=alert]").all_inner_texts()
        raise AssertionError(f"{name!r} not created; the form says {errors}") from missed


def test_an_admin_signs_in_and_reads_the_imports(
    console: tuple[DevStack, str], origin: str, browsing: Browsing
) -> None:
    page = browsing.page
    page.goto(origin + "/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    look(browsing, origin, "sign-in")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")

    sign_in(page, origin, "admin@example.com", admin_password(console[1]))
    expect(page.get_by_role("heading", name="Queues")).to_be_visible()
    expect(page.get_by_role("rowheader", name="tasks.default")).to_be_visible()
    look(browsing, origin, "overview")
    # the one cookie: __Host- prefixed, so no subdomain or plain-http page may set it
    [session] = [c for c in page.context.cookies() if c["name"].endswith("jobyard_session")]
    assert session["name"] == "__Host-jobyard_session"
    assert (
        session["secure"]
        and session["httpOnly"]
        and session["path"] == "/"
        and session["sameSite"] == "Strict"
    )

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    rows = page.locator("#import-rows tr")
    expect(rows).to_have_count(3, timeout=WAIT_MS)  # the three sample feeds' first runs
    expect(page.locator("#import-rows .status-completed")).to_have_count(3, timeout=WAIT_MS)
    look(browsing, origin, "imports")

    # each sample feed has one item without a title: the detail lists it with its reason
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile("^Failed items"))).to_contain_text("(1)")
    expect(page.get_by_role("cell", name="missing title")).to_be_visible()
    expect(page.locator("progress")).to_be_visible()
    look(browsing, origin, "import-detail")

    page.goto(f"{origin}/jobs?company=Northwind+Data")
    expect(page.locator("tbody tr")).to_have_count(2)
    page.locator("tbody a").first.click()
    expect(page.get_by_role("heading", name="Description")).to_be_visible()
    look(browsing, origin, "job-detail")
    page.goto(f"{origin}/jobs")
    look(browsing, origin, "jobs")


def test_a_task_completes_before_your_eyes(origin: str, browsing: Browsing) -> None:
    page = browsing.page
    register(page, origin, "watcher@example.com")
    create_task(page, origin, "hello from the console", "noop", "{}")
    page.evaluate("window.notReloaded = true")  # gone if the page reloads
    expect(page.locator("#executions tr[data-status=completed]")).to_have_count(1, timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
    look(browsing, origin, "task")

    page.locator("#executions a").first.click()
    expect(page.locator(".timeline li")).to_have_count(1)
    look(browsing, origin, "execution")
    page.goto(f"{origin}/tasks")
    expect(page.get_by_role("link", name="hello from the console")).to_be_visible()
    states = page.get_by_role("navigation", name="Tasks by state")
    expect(states.get_by_role("link", name="done 1")).to_be_visible()  # a one-time task, run
    expect(states.get_by_role("link", name="active 0")).to_be_visible()
    look(browsing, origin, "tasks")
    states.get_by_role("link", name="active 0").click()
    expect(page.get_by_text("No task matches.")).to_be_visible()
    expect(states.get_by_role("link", name="active 0")).to_have_attribute("aria-current", "true")


COMPLETED_IN_TABLE = (
    "cells => cells.reduce((sum, cell) => sum + Number(cell.textContent.replace(/,/g, '')), 0)"
)


def test_the_overview_charts_what_ran_and_keeps_up(origin: str, browsing: Browsing) -> None:
    """Outcomes, run time and backlog drawn on the server; the page, left open, counts a run
    that ends after it was drawn (its table, opened by the reader, stays open)."""
    page = browsing.page
    register(page, origin, "charts@example.com")
    page.goto(origin + "/")
    outcomes = page.get_by_role("img", name=re.compile("^Outcomes per minute"))
    expect(outcomes).to_be_visible()
    for name in ("Run time", "Queue backlog"):
        expect(page.get_by_role("img", name=re.compile(f"^{name}"))).to_be_visible()
    legend = page.locator(".chart").first.locator(".legend li")
    expect(legend).to_have_count(4)
    assert [item.split(":")[0].strip() for item in legend.all_inner_texts()] == [
        "completed",
        "retried",
        "dead",
        "cancelled",
    ]
    page.get_by_text("The charts' numbers as a table").click()
    cells = "#chart-numbers tbody td:nth-of-type(1)"
    expect(page.locator("#chart-numbers tbody tr")).to_have_count(60)
    before = page.eval_on_selector_all(cells, COMPLETED_IN_TABLE)

    other = page.context.new_page()
    create_task(other, origin, "charted", "noop", "{}")
    expect(other.locator("#executions tr[data-status=completed]")).to_have_count(1, timeout=WAIT_MS)
    other.close()

    def counted() -> bool:  # the 10 s refresh, with the table still open
        is_open = page.locator("#chart-numbers[open]").count() == 1
        return is_open and page.eval_on_selector_all(cells, COMPLETED_IN_TABLE) > before

    wait_until(counted, timeout=WAIT_MS / 1000, what="the open overview to count the new run", interval=0.5)
    expect(page.locator(".chart").first.locator("path.series.solid")).to_have_count(2)  # line and legend

    page.get_by_role("link", name="day", exact=True).click()
    expect(page.get_by_role("heading", name="Over the last day")).to_be_visible()
    page.get_by_role("link", name="tasks.default", exact=True).click()
    expect(
        page.get_by_role("img", name=re.compile("^Outcomes per 10 minutes · tasks.default"))
    ).to_be_visible()
    look(browsing, origin, "charts")


def test_a_page_opened_right_after_submit_shows_every_state(origin: str, browsing: Browsing) -> None:
    """Its subscription starts after the page was drawn: whatever changed in between is fetched
    on ``resync``, so a task that was already running is seen running, then done."""
    page = browsing.page
    register(page, origin, "early@example.com")
    create_task(page, origin, "three seconds", "sleep", '{"seconds": 3}')
    expect(page.locator("#executions tr[data-status=processing]")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#task-facts")).to_contain_text("processing")  # the last run, in the facts too
    expect(page.locator("#executions tr[data-status=completed]")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#task-facts")).to_contain_text("completed")


def test_a_running_attempt_shows_its_log_lines_live(origin: str, browsing: Browsing) -> None:
    page = browsing.page
    register(page, origin, "tail@example.com")
    create_task(page, origin, "twenty seconds", "sleep", '{"seconds": 20}')
    expect(page.locator("#executions tr[data-status=processing]")).to_have_count(1, timeout=WAIT_MS)
    page.locator("#executions a").first.click()
    expect(page.locator("[data-live-logs]")).to_contain_text("info: sleeping seconds=20.0", timeout=WAIT_MS)
    expect(page.get_by_role("link", name="← Its task: twenty seconds")).to_be_visible()
    expect(page.locator("[data-payload]")).to_contain_text('"seconds": 20')
    look(browsing, origin, "execution-running")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#execution")).to_contain_text("cancelled", timeout=WAIT_MS)
    expect(page.locator("[data-live-logs]")).to_have_count(0)
    expect(page.locator("[data-logs]")).to_contain_text("info: sleeping seconds=20.0")  # now stored


def test_a_quiet_page_stays_subscribed_and_sees_the_next_change_at_once(
    origin: str, browsing: Browsing
) -> None:
    """A minute of silence (four api keep-alives) on one stream, never reconnected; then the run
    that falls due shows within the scheduler's tick and a second, not at the 10 s poll."""
    page = browsing.page
    register(page, origin, "patient@example.com")
    due = datetime.now(UTC) + timedelta(seconds=65)
    page.goto(f"{origin}/tasks/new")
    page.get_by_label("Name", exact=True).fill("in a minute")
    page.get_by_label("Once, later").check()
    page.get_by_label("Run at").fill(due.strftime("%Y-%m-%dT%H:%M:%S"))
    choose_zone(page, "UTC")
    page.get_by_role("button", name="Create task").click()
    shows_created(page, "in a minute")
    page.evaluate("window.notReloaded = true")
    opened = [url for url in browsing.requests if url.endswith("/live")]
    expect(page.locator("#executions tr[data-status=completed]")).to_have_count(1, timeout=120_000)
    seen = datetime.now(UTC)
    assert (seen - due).total_seconds() < 3.5, f"shown {(seen - due).total_seconds():.1f} s after it fell due"
    assert page.evaluate("window.notReloaded") is True
    assert [url for url in browsing.requests if url.endswith("/live")] == opened  # one stream throughout


def test_the_task_form_explains_what_is_wrong(origin: str, browsing: Browsing) -> None:
    page = browsing.page
    register(page, origin, "typo@example.com")
    page.goto(f"{origin}/tasks/new")
    page.get_by_label("Name", exact=True).fill("typo")
    page.get_by_label("Kind", exact=True).select_option("http")
    page.get_by_label("Payload").fill('{"url": 5}')
    page.get_by_role("button", name="Create task").click()
    expect(page.locator("#payload-error")).to_contain_text("url")
    expect(page.get_by_label("Payload")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Recurring (cron)").check()
    page.get_by_label(re.compile("^Cron")).fill("30 9 * * 1-5")
    choose_zone(page, "Europe/Paris")
    expect(page.locator("#cron-preview li")).to_have_count(5)
    expect(page.locator("#cron-preview")).to_contain_text("09:30 AM, Monday through Friday")
    expect(page.locator("#cron-preview li").first).to_contain_text("09:30:00 CE")
    look(browsing, origin, "task-new")


def test_a_recurring_task_shows_its_next_runs_in_its_zone_and_the_viewers(
    browser: Browser, origin: str
) -> None:
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-US")
    page = context.new_page()
    try:
        register(page, origin, "zones@example.com")
        page.goto(f"{origin}/tasks/new")
        page.get_by_label("Name", exact=True).fill("standup reminder")
        page.get_by_label("Recurring (cron)").check()
        page.get_by_label(re.compile("^Cron")).fill("30 9 * * 1-5")
        choose_zone(page, "America/New_York")
        expect(page.locator("#cron-preview li").first).to_contain_text(re.compile(r"09:30:00 E[SD]T"))
        page.get_by_label("Kind", exact=True).select_option("noop")
        page.get_by_role("button", name="Create task").click()
        shows_created(page, "standup reminder")
        rows = page.get_by_role("region", name="Next runs").locator("tbody tr")
        expect(rows).to_have_count(5)
        first = rows.first.locator("td")
        expect(first.nth(0)).to_contain_text(re.compile(r"09:30:00 E[SD]T"))  # the task's zone
        expect(first.nth(1)).to_contain_text(re.compile(r"(10|11):30:00 PM GMT\+9"))  # the viewer's: Tokyo
    finally:
        context.close()


def test_a_failing_task_retries_dies_and_is_replayed(origin: str, browsing: Browsing) -> None:
    page = browsing.page
    register(page, origin, "failing@example.com")
    # the egress guard refuses this address (no traffic is sent): every attempt fails
    create_task(page, origin, "doomed", "http", '{"url": "http://127.0.0.1:1/"}', retries=1)
    expect(page.locator("#executions tr[data-status=dead]")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#executions")).to_contain_text("attempt 2 of 2")

    page.get_by_role("link", name="Dead letters").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("[data-kept]")).to_have_text("7 days")  # the api's retention of dead ones
    cell = page.locator("td.actions").first  # a cell, in line with its row (not a flex box)
    assert cell.evaluate("c => getComputedStyle(c).display") == "table-cell"
    look(browsing, origin, "dead-letters")
    page.get_by_role("button", name="Replay", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Replayed 1.")
    expect(page.locator("tbody")).to_contain_text("No dead letters.")

    page.goto(f"{origin}/tasks")
    page.get_by_role("link", name="doomed").click()
    page.locator("#executions a").first.click()
    expect(page.locator(".facts")).to_contain_text("(replay 1)", timeout=WAIT_MS)
    logged = page.locator("[data-logs]").last  # what each attempt's kind logged, and where it failed
    expect(logged).to_contain_text("calling method=GET url=http://127.0.0.1:1/", timeout=WAIT_MS)
    page.get_by_text("Traceback").first.click()
    expect(page.locator("[data-traceback]").first).to_contain_text("EgressRefused")
    kept = page.locator("[data-expires] time")  # dead again: kept 7 days, said in words
    expect(kept).to_have_text("in 7 days", timeout=WAIT_MS)
    local = page.evaluate(
        "t => new Date(t).toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric',"
        " hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short'})",
        kept.get_attribute("datetime"),
    )
    expect(kept).to_have_attribute("title", local)  # the exact moment, in the viewer's time zone


def test_failures_first_and_everything_matching_at_once(origin: str, browsing: Browsing) -> None:
    """The Executions page: dead ones across tasks with their names and errors, a search by
    name, pages that say where they are, and a replay of every match after a confirmation."""
    page = browsing.page
    register(page, origin, "oncall@example.com")
    for n in range(3):  # the egress guard refuses this address (no traffic is sent): each dies
        create_task(page, origin, f"doomed {n}", "http", '{"url": "http://127.0.0.1:1/"}', retries=0)
        expect(page.locator("#executions tr[data-status=dead]")).to_have_count(1, timeout=WAIT_MS)
    page.get_by_role("link", name="Executions").click()
    page.get_by_role("link", name="dead", exact=True).click()
    rows = page.locator("tbody tr[data-status=dead]")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("doomed 2")
    expect(rows.first).to_contain_text("EgressRefused")  # the last error, on the row
    look(browsing, origin, "executions")

    page.get_by_label("Task name").fill("DOOMED 1")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("doomed 1")

    page.goto(f"{origin}/tasks")  # the same search on the tasks
    page.get_by_label("Name", exact=True).fill("oomed 2")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("doomed 2")

    page.goto(f"{origin}/executions?status=dead&limit=1")
    pager = page.get_by_role("navigation", name="Execution pages")
    expect(pager).to_contain_text("3 in all · page 1 of 3")
    pager.get_by_role("link", name="Next").click()
    expect(pager).to_contain_text("page 2")  # by cursor, and still says where it is
    expect(rows.first).to_contain_text("doomed 1")
    pager.get_by_role("link", name="Previous").click()
    expect(pager).to_contain_text("page 1 of 3")
    expect(rows.first).to_contain_text("doomed 2")

    page.goto(f"{origin}/executions?status=dead")
    page.get_by_role("button", name="Replay all dead…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Replay 3 executions?")
    look(browsing, origin, "executions-bulk")
    page.get_by_role("button", name="Replay 3 executions").click()
    expect(page.get_by_role("status")).to_have_text("Replay 3 of 3 execution(s).")
    expect(page).not_to_have_url(re.compile("notice="))  # said once; a reload does not repeat it
    page.reload()
    expect(page.get_by_role("status")).to_have_count(0)

    def dead_again() -> bool:  # they fail the same way: dead again, after one replay each
        page.reload()
        return page.locator("tbody tr[data-status=dead]", has_text="(replay 1)").count() == 3

    wait_until(dead_again, timeout=WAIT_MS / 1000, what="the replayed executions to die again")

    # a page left open stays true: its times are words recomputed as the clock runs
    page.clock.install()
    page.reload()
    created = page.locator("tbody tr").first.locator("time").first
    expect(created).to_have_text(re.compile(r"^(just now|\d min ago)$"))
    page.clock.fast_forward("20:00")
    expect(created).to_have_text(re.compile(r"^2\d min ago$"))


def test_an_admin_sees_each_worker_and_the_leader(
    console: tuple[DevStack, str], origin: str, browsing: Browsing
) -> None:
    _, banner = console
    page = browsing.page
    sign_in(page, origin, "admin@example.com", admin_password(banner))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workers").click()
    worker = page.locator("tr[data-worker]").first
    expect(worker).to_have_attribute("data-stale", "no")
    expect(worker).to_contain_text("tasks.default")
    expect(worker).to_contain_text("MB")
    expect(page.locator("[data-leader]")).to_contain_text("leading", timeout=WAIT_MS)
    expect(page.locator("[data-leader]")).to_contain_text("last tick")
    look(browsing, origin, "workers")
    page.goto(f"{origin}/executions")
    expect(page.get_by_role("columnheader", name="Owner")).to_be_visible()  # everyone's, with whose


def test_an_admin_adds_a_feed_and_imports_it(
    console: tuple[DevStack, str], origin: str, browsing: Browsing
) -> None:
    _, banner = console
    page = browsing.page
    sign_in(page, origin, "admin@example.com", admin_password(banner))
    feed = re.search(r"feeds\s+(http://127\.0\.0\.1:\d+)/", banner)
    assert feed, banner
    url = f"{feed.group(1)}/jobicy.xml?copy=console"
    page.get_by_role("link", name="Feed sources").click()
    page.get_by_label("Feed URL").fill(url)
    page.get_by_label("Name (optional)").fill("Jobicy again")
    page.get_by_role("button", name="Add feed").click()
    expect(page.get_by_role("status")).to_contain_text("Added")
    row = page.locator("tr", has_text="Jobicy again")
    look(browsing, origin, "feed-sources")
    row.get_by_role("button", name="Import now").click()
    expect(page.get_by_role("status")).to_contain_text("started 1 import")
    expect(page.locator("#import-rows tr").first).to_contain_text("completed", timeout=WAIT_MS)
    expect(page.locator("[data-kept]")).to_have_text("30 days")

    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("cell", name="admin@example.com")).to_be_visible()
    look(browsing, origin, "users")

    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("cell", name="feed_source.created").first).to_be_visible()
    page.get_by_label("Action").select_option("auth.sign_in")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="auth.sign_in", exact=True).first).to_be_visible()
    expect(page.get_by_role("cell", name="feed_source.created")).to_have_count(0)
    look(browsing, origin, "audit")


def test_a_user_is_refused_admin_pages_and_signs_out(origin: str, browsing: Browsing) -> None:
    page = browsing.page
    register(page, origin, "plain@example.com")
    expect(page.get_by_role("link", name="Feed sources")).to_have_count(0)
    for path in ("/admin/feed-sources", "/admin/users", "/admin/audit"):
        answer = page.goto(origin + path)
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    answer = page.goto(origin + "/tasks/0123456789abcdef01234567")
    assert answer is not None and answer.status == 404

    page.goto(origin + "/api-keys")
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("Your new key").input_value()
    assert key.startswith("jy")
    look(browsing, origin, "api-keys")
    page.reload()  # shown once
    expect(page.get_by_label("Your new key")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("Signed out.")
    page.goto(origin + "/tasks")
    expect(page).to_have_url(re.compile(r"/sign-in"))


def test_dark_and_light_follow_the_system_until_the_toggle_chooses(
    console: tuple[DevStack, str], origin: str, browsing: Browsing
) -> None:
    """Both themes pass axe on every page a user or an admin reaches; the toggle's choice is
    remembered. (Every other test checks the light theme on the pages it opens.)"""
    page = browsing.page
    register(page, origin, "night@example.com")
    background = "getComputedStyle(document.body).backgroundColor"
    page.emulate_media(color_scheme="dark")  # the system says dark; nothing chosen yet
    for path in (
        "/",
        "/?span=day",
        "/imports",
        "/jobs",
        "/tasks",
        "/tasks/new",
        "/executions",
        "/dead-letters",
        "/api-keys",
    ):
        page.goto(origin + path)
        assert page.evaluate(background) == "rgb(13, 17, 23)", path
        look(browsing, origin, "dark" if path == "/executions" else "dark-page")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, origin, "admin@example.com", admin_password(console[1]))
    for path in ("/admin/feed-sources", "/admin/users", "/admin/audit", "/workers"):
        page.goto(origin + path)
        assert page.evaluate(background) == "rgb(13, 17, 23)", path
        look(browsing, origin, "dark-page")
    for path in ("/admin/feed-sources", "/admin/users", "/admin/audit", "/workers"):  # and light
        page.emulate_media(color_scheme="light")
        page.goto(origin + path)
        assert page.evaluate(background) == "rgb(255, 255, 255)", path
        look(browsing, origin, "dark-page")
    page.emulate_media(color_scheme="dark")
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()  # light, though the system says dark
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    page.reload()
    assert page.evaluate(background) == "rgb(255, 255, 255)"  # remembered
    page.emulate_media(color_scheme="light")
    toggle.click()
    page.reload()
    assert page.evaluate(background) == "rgb(13, 17, 23)"  # chosen dark, on a light system
    look(browsing, origin, "dark-page")
    (SCREENSHOTS / "console-dark-page.png").unlink()


def fits(page: Page, origin: str, *paths: str) -> None:
    """Each page is no wider than the screen: wide tables scroll inside their own region."""
    for path in paths:
        page.goto(origin + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        wider = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 362"
            " && !e.closest('.table-wrap')).slice(0, 5).map(e => e.tagName + '.' + e.className)"
        )
        assert width <= page.viewport_size["width"], (path, width, wider)  # type: ignore[index]


def test_small_screens_and_the_keyboard(
    browser: Browser, console: tuple[DevStack, str], origin: str, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        register(page, origin, "phone@example.com")
        fits(page, origin, "/", "/imports", "/tasks", "/tasks/new", "/executions", "/dead-letters")
        page.screenshot(path=str(SCREENSHOTS / "console-overview-360.png"), full_page=True)
        page.get_by_role("button", name="Sign out").click()
        sign_in(page, origin, "admin@example.com", admin_password(console[1]))
        fits(page, origin, "/admin/feed-sources", "/admin/users", "/workers", "/executions")
        page.goto(origin + "/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('href')") == "/"
    finally:
        context.close()


def test_a_workflow_is_drawn_and_moves_before_your_eyes(origin: str, browsing: Browsing) -> None:
    """A wrong graph is named beside the steps; a right one is drawn on the server and its
    steps change state live, each linking to its execution."""
    page = browsing.page
    register(page, origin, "flows@example.com")
    page.goto(f"{origin}/workflows/new")
    page.get_by_label("Name", exact=True).fill("diamond")
    page.get_by_label(re.compile("^Steps")).fill(
        '[{"id": "a", "kind": "noop", "dependsOn": ["b"]}, {"id": "b", "kind": "noop", "dependsOn": ["a"]}]'
    )
    page.get_by_role("button", name="Create workflow").click()
    expect(page.locator("#steps-error")).to_contain_text("steps[0].dependsOn: a cycle: a → b → a")
    expect(page.get_by_label(re.compile("^Steps"))).to_have_attribute("aria-invalid", "true")
    look(browsing, origin, "workflow-new")

    page.get_by_label(re.compile("^Steps")).fill(
        '[{"id": "start", "kind": "noop"},'
        ' {"id": "left", "kind": "sleep", "payload": {"seconds": 1}, "dependsOn": ["start"]},'
        ' {"id": "right", "kind": "noop", "dependsOn": ["start"]},'
        ' {"id": "join", "kind": "noop", "dependsOn": ["left", "right"]},'
        ' {"id": "undo", "kind": "noop", "dependsOn": ["join"], "runIf": "anyFailed"}]'
    )
    page.get_by_role("button", name="Create workflow").click()
    shows_created(page, "diamond")
    page.evaluate("window.notReloaded = true")  # gone if the page reloads
    graph = page.locator("svg.dag")
    expect(graph.locator("g.node")).to_have_count(5)
    expect(graph.locator("path.edge")).to_have_count(5)
    expect(graph.locator("g.node.status-completed")).to_have_count(4, timeout=WAIT_MS)
    expect(graph.locator('g.node[data-step="undo"]')).to_have_class(re.compile("status-skipped"))
    expect(page.locator(".facts")).to_contain_text("completed")
    assert page.evaluate("window.notReloaded") is True  # it moved live, not by reloading
    look(browsing, origin, "workflow")
    graph.locator('g.node[data-step="join"] a').click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Execution")
    expect(page.get_by_role("link", name="Step join of its workflow")).to_be_visible()
    expect(page.locator("#inputs")).to_contain_text("left")  # what its dependencies returned
    page.goto(f"{origin}/workflows")
    expect(page.get_by_role("link", name="diamond")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("diamond"))).to_contain_text("5 of 5")


def test_a_recurring_workflow_is_scheduled_from_the_form_and_stopped(origin: str, browsing: Browsing) -> None:
    """The workflow form takes the task form's "When": a wrong cron is named beside its field;
    a right one leaves the workflow pending with its schedule and next run, until stopped."""
    page = browsing.page
    register(page, origin, "nightly@example.com")
    page.goto(f"{origin}/workflows/new")
    page.get_by_label("Name", exact=True).fill("nightly")
    page.get_by_label("Recurring (cron)").check()
    expect(page.get_by_label("Run at (delayed; in the time zone below)")).to_be_hidden()
    page.get_by_label(re.compile("^Cron")).fill("0 25 * * *")
    page.get_by_role("button", name="Create workflow").click()
    expect(page.locator("#cron-error")).to_be_visible()
    page.get_by_label(re.compile("^Cron")).fill("30 2 * * *")
    choose_zone(page, "Europe/Berlin")
    expect(page.locator("#cron-preview li").first).to_contain_text("02:30:00 CE")
    page.get_by_role("button", name="Create workflow").click()
    shows_created(page, "nightly")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("pending")
    expect(facts).to_contain_text("30 2 * * * (Europe/Berlin)")
    expect(facts).to_contain_text("0 started")
    look(browsing, origin, "workflow-recurring")
    page.get_by_role("button", name="Stop its runs").click()
    expect(facts).to_contain_text("cancelled")
    expect(page.locator("svg.dag g.node.status-cancelled")).to_have_count(3)
