"""The bulk-QA review in a real browser (Playwright driving Debian's chromium) against the live portal.

Sign in, "Start working", untick two of the 25 images, submit, land on the next task; then the
admin consolidates and reads the results table and the report in the browser.
"""

from __future__ import annotations

import csv
import io

from openmaker.labeling import workforce
from tests.browser import browser, page  # noqa: F401  (pytest fixtures)
from tests.labeling.conftest import PASSWORD, make_job


def _browser_sign_in(page, url, email):  # noqa: F811
    page.goto(f"{url}/signin")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_review_in_the_browser_untick_two_of_25_and_read_the_results(portal, page):  # noqa: F811
    lab = portal.lab
    make_job(lab, reviewers=1)
    with lab.session() as s:
        for email, role in (("ana@example.org", "worker"), ("admin@example.org", "admin")):
            workforce.set_password(workforce.ensure_user(s, email, role), PASSWORD)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    _browser_sign_in(page, portal.url, "ana@example.org")
    page.get_by_role("link", name="Start working").click()
    page.wait_for_url(f"{portal.url}/task/**")
    first_task = page.url
    assert page.locator("h1").filter(has_text='labelled as "Beaver"').count() == 1
    boxes = page.locator("crowd-checkbox input[type=checkbox]")
    assert boxes.count() == 25
    images = page.locator("crowd-card img")
    images.nth(24).scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('crowd-card img')].every(i => i.complete && i.naturalWidth > 0)")
    boxes.nth(3).click()
    boxes.nth(17).click()
    assert not boxes.nth(3).is_checked() and not boxes.nth(17).is_checked() and boxes.nth(4).is_checked()
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(lambda url: url != first_task and "/task/" in url)
    assert not errors, errors

    # The admin consolidates in the browser and reads the results.
    admin = page.context.browser.new_context().new_page()
    _browser_sign_in(admin, portal.url, "admin@example.org")
    admin.goto(f"{portal.url}/admin/jobs/qa")
    admin.get_by_role("button", name="Consolidate answers").click()
    admin.get_by_text("consolidated: 25 items have answers").wait_for()
    beaver = admin.locator(".report table").first.locator("tr", has_text="Beaver")
    cells = beaver.locator("td").all_inner_texts()
    assert cells[:5] == ["Beaver", "25", "23", "2", "0"]
    with admin.expect_download() as download:
        admin.get_by_role("link", name="results CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
    disconfirmed = [r for r in rows if r["WorkerDisconfirmCount"] == "1"]
    tasks = lab.tasks("qa")
    beaver_task = next(t for t in tasks if t["items"][0]["label"] == "Beaver" and len(t["items"]) == 25)
    expected = {beaver_task["items"][i]["s3_image_url"] for i in (3, 17)}
    assert {r["image"] for r in disconfirmed} == expected
    admin.context.close()
