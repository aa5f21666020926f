"""Our crowd HTML elements (``crowd-html-elements.js``) in Debian's chromium, served over real HTTP.

A ``ThreadingHTTPServer`` on 127.0.0.1 (port 0, background thread) serves the
script, task pages built per test, small PNG images made here, and records
every POSTed answer (body and headers), answering with the status and JSON a
test chose. Pages are what a worker portal would serve: the rendered template
inside a ``<body>`` whose ``data-submit-url``/``data-submission``/``data-csrf``
tell the crowd-form where to send the answer (no submit URL: preview mode).
"""

from __future__ import annotations

import html
import json
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser import browser, page  # noqa: F401  (pytest fixtures)

ROOT = Path(__file__).resolve().parents[2]
CROWD_JS = ROOT / "openmaker" / "labeling" / "static" / "crowd-html-elements.js"
PAGES = Path(__file__).resolve().parent / "crowd_pages"
AWS_SRC = "https://assets.crowd.aws/crowd-html-elements.js"
OUR_SRC = "/static/crowd-html-elements.js"
SCRIPT = f'<script src="{OUR_SRC}"></script>'
IMAGE_SIZE = (40, 30)
# Records every CSP violation the page sees (a script from 'self', so the strictest policy allows it).
CSP_PROBE = b"""window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour RGB PNG, made without any imaging library."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


IMAGE = png(*IMAGE_SIZE, (200, 80, 40))


@dataclass
class Reply:
    """What the server answers to ``POST /submit/<name>``."""

    status: int = 200
    body: object = None  # JSON-encoded unless bytes
    delay: float = 0.0
    content_type: str = "application/json"


class TaskServer:
    """Task pages, the script, images and a recording submit endpoint on 127.0.0.1."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, dict[str, str]]] = {}
        self.replies: dict[str, Reply] = {}
        self.posts: list[dict] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="crowd-pages", daemon=True)

    def add_page(
        self,
        name: str,
        body: str,
        *,
        submit_url: str | None = None,
        submission: str | None = None,
        csrf: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve ``body`` inside a page shell at ``/page/<name>``; return its URL."""
        data = {"submit-url": submit_url, "submission": submission, "csrf": csrf}
        attrs = "".join(f' data-{key}="{html.escape(value)}"' for key, value in data.items() if value is not None)
        document = (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>task</title></head>\n'
            f"<body{attrs}>\n{body}\n</body></html>\n"
        )
        self.pages[name] = (document, headers or {})
        return f"{self.base}/page/{name}"

    def posts_to(self, name: str) -> list[dict]:
        with self.lock:
            return [p for p in self.posts if p["path"] == f"/submit/{name}"]

    def url(self, path: str) -> str:
        return self.base + path


def _handler(server: TaskServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == OUR_SRC:
                self._send(200, CROWD_JS.read_bytes(), "text/javascript; charset=utf-8")
            elif path == "/csp-probe.js":
                self._send(200, CSP_PROBE, "text/javascript; charset=utf-8")
            elif path.startswith("/img/") or path == "/favicon.ico":
                self._send(200, IMAGE, "image/png")
            elif path.startswith("/page/") and path[len("/page/") :] in server.pages:
                document, headers = server.pages[path[len("/page/") :]]
                self._send(200, document.encode(), "text/html; charset=utf-8", headers)
            elif path.startswith("/next/"):
                self._send(200, b"<!doctype html><title>next task</title><p>The next task.</p>", "text/html; charset=utf-8")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            with server.lock:
                server.posts.append({"path": path, "headers": self.headers, "raw": raw, "json": body})
            name = path.removeprefix("/submit/")
            reply = server.replies.get(name) or Reply(200, {"next": f"/next/{name}"})
            time.sleep(reply.delay)
            payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self._send(reply.status, payload, reply.content_type)

    return Handler


@pytest.fixture(scope="module")
def server():
    task_server = TaskServer()
    task_server.thread.start()
    yield task_server
    task_server.httpd.shutdown()
    task_server.httpd.server_close()
    task_server.thread.join(10)


@pytest.fixture
def tab(page):
    """The shared ``page``, also recording uncaught errors and console messages."""
    page.errors = []
    page.console_messages = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    return page


def open_task(tab, url: str) -> None:
    from playwright.sync_api import expect

    tab.goto(url)
    expect(tab.locator("crowd-form")).to_have_attribute("data-crowd-ready", "")
    tab.evaluate("window.sameDocument = true")  # gone if the page reloads


def collect(tab) -> dict:
    return tab.evaluate("document.querySelector('crowd-form').collect()")


def preview_output(tab) -> dict:
    from playwright.sync_api import expect

    output = tab.locator("pre#crowd-output")
    expect(output).to_be_visible()
    return json.loads(output.text_content())


def assert_clean(tab) -> None:
    assert tab.errors == []
    assert tab.dialogs == []
    assert tab.outside_requests == []


def wait_for_images(tab, selector: str) -> list[int]:
    """Wait until every image under ``selector`` has loaded; return their natural widths."""
    tab.wait_for_function(
        "sel => { const imgs = [...document.querySelectorAll(sel)];"
        " return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        arg=selector,
    )
    return tab.locator(selector).evaluate_all("imgs => imgs.map(i => i.naturalWidth)")


# -- the published template -----------------------------------------------------------------


def test_published_template_posts_exactly_the_expected_answer(server, tab):
    from playwright.sync_api import expect

    template = (PAGES / "crawdad.html").read_text()
    assert template.startswith(f'<script src="{AWS_SRC}"></script>')
    # The portal rewrites the AWS script to ours and nothing else.
    url = server.add_page(
        "crawdad",
        template.replace(AWS_SRC, OUR_SRC),
        submit_url="/submit/crawdad",
        submission="sub-7f3a",
        csrf="csrf-token-1",
    )
    server.replies["crawdad"] = Reply(200, {"next": "/next/crawdad?after=sub-7f3a"})
    open_task(tab, url)

    boxes = tab.get_by_role("checkbox")
    expect(boxes).to_have_count(25)
    for i in range(25):
        expect(boxes.nth(i)).to_be_checked()  # checked="true" checks by presence
    assert wait_for_images(tab, "crowd-card img") == [IMAGE_SIZE[0]] * 25
    assert tab.locator("crowd-card img").evaluate_all("imgs => imgs.map(i => [i.alt, i.loading])") == [["image", "eager"]] * 25

    # Each box sits in its own card, after "Confirm", inside the card's box.
    card = tab.locator("crowd-card").nth(3)
    expect(card).to_contain_text("Confirm")
    expect(card.get_by_role("checkbox")).to_have_count(1)
    card_box, check_box = card.bounding_box(), card.get_by_role("checkbox").bounding_box()
    assert card_box["x"] <= check_box["x"] and check_box["x"] + check_box["width"] <= card_box["x"] + card_box["width"]
    assert card_box["y"] <= check_box["y"] and check_box["y"] + check_box["height"] <= card_box["y"] + card_box["height"]

    submit = tab.get_by_role("button", name="Submit")
    expect(submit).to_have_count(1)  # the template has none: the crowd-form adds one
    boxes.nth(3).click()
    boxes.nth(17).focus()
    tab.keyboard.press("Space")
    expect(boxes.nth(3)).not_to_be_checked()
    expect(boxes.nth(17)).not_to_be_checked()

    expected = {f"Crawdad-{i}": {"Confirmed": i not in (3, 17)} for i in range(25)}
    assert collect(tab) == expected
    submit.click()
    tab.wait_for_url(server.url("/next/crawdad?after=sub-7f3a"))

    (post,) = server.posts_to("crawdad")
    assert post["json"] == {"answer": expected, "submission": "sub-7f3a"}
    assert list(post["json"]["answer"]) == [f"Crawdad-{i}" for i in range(25)]
    assert post["headers"]["X-CSRF-Token"] == "csrf-token-1"
    assert post["headers"]["Content-Type"] == "application/json"
    assert_clean(tab)


# -- submitting ---------------------------------------------------------------------------


def test_preview_mode_prints_the_answer_and_fires_the_event(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "preview",
        SCRIPT
        + """<crowd-form>
  <p><crowd-checkbox name="agree">I agree</crowd-checkbox></p>
  <crowd-input name="comment" label="Comment" value="looks fine"></crowd-input>
  <input type="hidden" name="task_id" value="task-7">
</crowd-form>""",
    )
    open_task(tab, url)
    tab.evaluate("window.events = []; document.addEventListener('crowd-form-submit', e => window.events.push(e.detail))")

    tab.get_by_role("button", name="Submit").click()
    first = {"agree": {"on": False}, "comment": "looks fine", "task_id": "task-7"}
    assert preview_output(tab) == first

    tab.get_by_label("I agree").check()
    tab.get_by_label("Comment").fill("second look")
    expect(tab.get_by_role("button", name="Submit")).to_be_enabled()  # preview can submit again
    tab.get_by_role("button", name="Submit").click()
    second = {"agree": {"on": True}, "comment": "second look", "task_id": "task-7"}
    expect(tab.locator("#crowd-output")).to_contain_text("second look")
    assert preview_output(tab) == second
    assert tab.evaluate("window.events") == [first, second]
    assert tab.locator("#crowd-output").count() == 1
    assert tab.evaluate("window.sameDocument") is True
    assert server.posts_to("preview") == []
    assert_clean(tab)


def test_a_409_shows_the_servers_error_and_submit_works_again(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "conflict",
        SCRIPT + '<crowd-form><crowd-checkbox name="ok" checked>Fine</crowd-checkbox></crowd-form>',
        submit_url="/submit/conflict",
        submission="sub-409",
        csrf="t",
    )
    server.replies["conflict"] = Reply(409, {"error": "This task was already answered by someone else."})
    open_task(tab, url)
    alert = tab.locator("crowd-form").get_by_role("alert")
    expect(alert).to_have_count(0)  # hidden until there is something to say

    submit = tab.get_by_role("button", name="Submit")
    submit.click()
    expect(alert).to_have_text("This task was already answered by someone else.")
    expect(submit).to_be_enabled()
    assert len(server.posts_to("conflict")) == 1

    server.replies["conflict"] = Reply(200, {"next": "/next/conflict"})
    submit.click()
    tab.wait_for_url(server.url("/next/conflict"))
    posts = server.posts_to("conflict")
    assert [p["json"] for p in posts] == [{"answer": {"ok": {"on": True}}, "submission": "sub-409"}] * 2
    assert_clean(tab)


def test_an_error_without_json_shows_the_status_text(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "unavailable",
        SCRIPT + '<crowd-form><crowd-input name="x" value="1"></crowd-input></crowd-form>',
        submit_url="/submit/unavailable",
    )
    server.replies["unavailable"] = Reply(503, b"<h1>down</h1>", content_type="text/html")
    open_task(tab, url)
    tab.get_by_role("button", name="Submit").click()
    expect(tab.get_by_role("alert")).to_have_text("Service Unavailable")
    expect(tab.get_by_role("button", name="Submit")).to_be_enabled()
    (post,) = server.posts_to("unavailable")
    assert post["json"] == {"answer": {"x": "1"}, "submission": None}
    assert post["headers"]["X-CSRF-Token"] == ""  # no data-csrf: an empty token, not a missing header
    assert_clean(tab)


def test_double_click_sends_one_post(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "double",
        SCRIPT + '<crowd-form><crowd-checkbox name="a">A</crowd-checkbox></crowd-form>',
        submit_url="/submit/double",
        submission="sub-dbl",
    )
    server.replies["double"] = Reply(200, {"next": "/next/double"}, delay=1.0)
    open_task(tab, url)
    submit = tab.get_by_role("button", name="Submit")
    submit.dblclick()
    expect(submit).to_be_disabled()  # while the POST is in flight
    tab.wait_for_url(server.url("/next/double"))
    assert len(server.posts_to("double")) == 1
    assert_clean(tab)


def test_a_network_failure_says_so_and_retries_with_the_same_submission(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "offline",
        SCRIPT + '<crowd-form><crowd-checkbox name="a" checked>A</crowd-checkbox></crowd-form>',
        submit_url="/submit/offline",
        submission="sub-net",
        csrf="tok",
    )
    open_task(tab, url)
    tab.route("**/submit/offline", lambda route: route.abort())
    tab.get_by_role("button", name="Submit").click()
    alert = tab.get_by_role("alert")
    expect(alert).to_contain_text("may not have been recorded")
    expect(tab.get_by_role("button", name="Submit")).to_be_enabled()
    assert server.posts_to("offline") == []

    tab.unroute("**/submit/offline")
    alert.get_by_role("button", name="Try again").click()
    tab.wait_for_url(server.url("/next/offline"))
    (post,) = server.posts_to("offline")
    assert post["json"] == {"answer": {"a": {"on": True}}, "submission": "sub-net"}
    assert post["headers"]["X-CSRF-Token"] == "tok"
    assert_clean(tab)


def test_a_submit_listener_can_cancel_and_plain_buttons_do_not_submit(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "cancel",
        SCRIPT
        + """<crowd-form>
  <button id="zoom">Zoom</button>
  <crowd-checkbox name="a">A</crowd-checkbox>
  <crowd-button form-action="submit" variant="primary">Send answer</crowd-button>
</crowd-form>""",
    )
    open_task(tab, url)
    expect(tab.get_by_role("button", name="Submit")).to_have_count(0)  # the template has its own
    tab.evaluate(
        "window.seen = 0; window.block = true;"
        "document.querySelector('crowd-form').addEventListener('submit', e => {"
        " window.seen++; if (window.block) e.preventDefault(); })"
    )
    tab.get_by_role("button", name="Zoom").click()
    send = tab.get_by_role("button", name="Send answer")
    send.click()
    expect(send).to_be_enabled()
    tab.wait_for_timeout(300)
    assert tab.evaluate("window.seen") == 1  # the Zoom button did not submit
    expect(tab.locator("#crowd-output")).to_have_count(0)

    tab.evaluate("window.block = false")
    send.click()
    assert preview_output(tab) == {"a": {"on": False}}
    assert tab.evaluate("window.sameDocument") is True
    assert_clean(tab)


# -- the elements ---------------------------------------------------------------------------


def test_checkboxes_merge_check_by_presence_and_survive_self_closing_tags(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "checkboxes",
        SCRIPT
        + """<crowd-form>
  <p><crowd-checkbox name="animals" value="cat">Cat</crowd-checkbox>
     <crowd-checkbox name="animals" value="dog" checked>Dog</crowd-checkbox>
     <crowd-checkbox name="animals" value="eel" checked="false">Eel</crowd-checkbox></p>
  <p><crowd-checkbox name="plain">Plain box</crowd-checkbox></p>
  <p><crowd-checkbox name="locked" disabled checked>Locked</crowd-checkbox></p>
  <p id="pair"><crowd-checkbox name="pair" value="x" /> Xray <crowd-checkbox name="pair" value="y" /> Yankee</p>
  <div id="crawdad">Confirm <crowd-checkbox checked="true" name="Crawdad-3" value="Confirmed" /></div>
  <p id="after">Text after the self-closing box</p>
</crowd-form>""",
    )
    open_task(tab, url)
    assert collect(tab) == {
        "animals": {"cat": False, "dog": True, "eel": True},
        "plain": {"on": False},
        "locked": {"on": True},
        "pair": {"x": False, "y": False},
        "Crawdad-3": {"Confirmed": True},
    }
    # `<crowd-checkbox ... />` does not swallow what follows it.
    nested = "document.querySelector('crowd-checkbox[value=x]').contains(document.querySelector('crowd-checkbox[value=y]'))"
    assert tab.evaluate(nested) is False
    assert tab.evaluate("document.querySelector('#after').closest('crowd-checkbox')") is None
    expect(tab.locator("#crawdad").get_by_role("checkbox", name="Confirmed")).to_be_visible()

    tab.get_by_text("Cat", exact=True).click()  # the label toggles its box
    tab.get_by_text("Yankee").click()
    tab.get_by_role("checkbox", name="Plain box").focus()
    tab.keyboard.press("Space")
    tab.get_by_role("checkbox", name="Eel").click()
    tab.locator("#crawdad").get_by_role("checkbox").click()
    expect(tab.get_by_role("checkbox", name="Locked")).to_be_disabled()
    expect(tab.get_by_role("checkbox", name="Xray")).not_to_be_checked()

    tab.get_by_role("button", name="Submit").click()
    assert preview_output(tab) == {
        "animals": {"cat": True, "dog": True, "eel": False},
        "plain": {"on": True},
        "locked": {"on": True},
        "pair": {"x": False, "y": True},
        "Crawdad-3": {"Confirmed": False},
    }
    assert_clean(tab)


def test_classifiers_output_labels_and_required_ones_block_the_submit(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "classifiers",
        SCRIPT
        + """<crowd-form>
  <crowd-classifier name="sentiment" categories="['Positive', 'Negative', 'Neutral']"
      header="What is the sentiment of this review?" required>
    <classification-target>The soup was cold and the waiter rude.</classification-target>
    <full-instructions header="Sentiment instructions"><p>Pick the <b>overall</b> sentiment.</p></full-instructions>
    <short-instructions><p>Choose one sentiment.</p></short-instructions>
  </crowd-classifier>
  <crowd-image-classifier name="animal" src="/img/animal.png" header="Which animal is this?"
      categories='["cat", "dog", "crawdad"]' required>
    <short-instructions>Pick the animal.</short-instructions>
    <full-instructions header="Animals">Crawdads have claws.</full-instructions>
  </crowd-image-classifier>
  <crowd-classifier name="optional" categories='["a", "b"]' header="Optional question"></crowd-classifier>
</crowd-form>""",
        submit_url="/submit/classifiers",
    )
    open_task(tab, url)
    expect(tab.get_by_text("The soup was cold and the waiter rude.")).to_be_visible()
    expect(tab.get_by_text("Choose one sentiment.")).to_be_visible()
    expect(tab.get_by_text("Crawdads have claws.")).to_be_hidden()
    assert tab.get_by_role("radio").count() == 3 + 3 + 2
    assert wait_for_images(tab, "crowd-image-classifier img") == [IMAGE_SIZE[0]]
    expect(tab.locator("crowd-image-classifier img")).to_have_attribute("alt", "Which animal is this?")

    submit = tab.get_by_role("button", name="Submit")
    submit.click()
    alert = tab.get_by_role("alert")
    expect(alert).to_contain_text("What is the sentiment of this review?")
    expect(alert).to_contain_text("Which animal is this?")
    expect(alert).not_to_contain_text("Optional question")
    expect(submit).to_be_enabled()
    assert server.posts_to("classifiers") == []

    tab.get_by_role("button", name="View full instructions").first.click()
    dialog = tab.get_by_role("dialog", name="Sentiment instructions")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Pick the overall sentiment.")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    tab.get_by_role("radio", name="Negative").check()
    tab.get_by_text("crawdad", exact=True).click()
    submit.click()
    tab.wait_for_url(server.url("/next/classifiers"))
    (post,) = server.posts_to("classifiers")
    assert post["json"]["answer"] == {"sentiment": {"label": "Negative"}, "animal": {"label": "crawdad"}}
    assert_clean(tab)


def test_crowd_input_outputs_text_numbers_and_plain_fields(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "inputs",
        SCRIPT
        + """<crowd-form>
  <crowd-input name="fullname" label="Full name" required></crowd-input>
  <crowd-input name="age" label="Age" type="number"></crowd-input>
  <crowd-input name="zip" label="ZIP code" value="02139"></crowd-input>
  <crowd-input name="code" label="Letters only" allowed-pattern="[a-z]"></crowd-input>
  <crowd-input name="blank-number" label="Blank number" type="number"></crowd-input>
  <crowd-input name="email" label="Email" type="email" />
  <input type="hidden" name="task_id" value="task-7">
  <select name="color"><option>red</option><option selected>blue</option></select>
  <textarea name="notes">n</textarea>
</crowd-form>""",
    )
    open_task(tab, url)
    # The self-closing crowd-input did not swallow the plain fields after it.
    assert tab.evaluate("document.querySelector('select').closest('crowd-input')") is None
    expect(tab.get_by_label("ZIP code")).to_have_value("02139")

    submit = tab.get_by_role("button", name="Submit")
    submit.click()
    expect(tab.get_by_role("alert")).to_have_text("Please complete the required fields: Full name.")
    expect(tab.locator("#crowd-output")).to_have_count(0)
    expect(tab.get_by_label("Full name")).to_be_focused()

    tab.get_by_label("Full name").fill("Ada Lovelace")
    tab.get_by_label("Age").fill("36")
    tab.get_by_label("Letters only").press_sequentially("a1b2c")
    expect(tab.get_by_label("Letters only")).to_have_value("abc")
    tab.get_by_label("Email").fill("not-an-email")
    submit.click()
    expect(tab.get_by_role("alert")).to_have_text("Please correct: Email.")

    tab.get_by_label("Email").fill("ada@example.org")
    tab.get_by_label("Email").press("Enter")  # Enter submits, as in any form
    answer = preview_output(tab)
    assert answer == {
        "fullname": "Ada Lovelace",
        "age": 36,
        "zip": "02139",
        "code": "abc",
        "blank-number": None,
        "email": "ada@example.org",
        "task_id": "task-7",
        "color": "blue",
        "notes": "n",
    }
    assert isinstance(answer["age"], int) and isinstance(answer["zip"], str)
    expect(tab.get_by_role("alert")).to_have_count(0)
    assert_clean(tab)


def test_crowd_card_shows_heading_image_and_children(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "cards",
        SCRIPT
        + """<crowd-form>
  <crowd-card heading="A crawdad" image="/img/card.png"><p class="body">A freshwater crustacean.</p></crowd-card>
  <crowd-card><p class="plain">No image here.</p></crowd-card>
</crowd-form>""",
    )
    open_task(tab, url)
    card = tab.locator("crowd-card").first
    image = card.get_by_role("img", name="A crawdad")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("loading", "eager")
    assert wait_for_images(tab, "crowd-card img[src]") == [IMAGE_SIZE[0]]
    heading = card.get_by_role("heading", name="A crawdad")
    body = card.locator("p.body")
    expect(body).to_have_text("A freshwater crustacean.")
    assert heading.bounding_box()["y"] < image.bounding_box()["y"] < body.bounding_box()["y"]
    second = tab.locator("crowd-card").nth(1)
    expect(second.get_by_role("img")).to_have_count(0)
    expect(second.locator("p.plain")).to_be_visible()
    assert_clean(tab)


def test_crowd_instructions_open_the_details(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "instructions",
        SCRIPT
        + """<crowd-form>
  <crowd-instructions link-text="See the rules" link-type="button">
    <short-summary><p>Label every crawdad.</p></short-summary>
    <detailed-instructions><p>Crawdads are small freshwater lobsters.</p></detailed-instructions>
    <positive-example><p>A crawdad on a rock.</p></positive-example>
    <negative-example><p>A lobster on a plate.</p></negative-example>
  </crowd-instructions>
  <crowd-instructions>
    <short-summary>Second summary.</short-summary>
    <detailed-instructions>Second details.</detailed-instructions>
  </crowd-instructions>
</crowd-form>""",
    )
    open_task(tab, url)
    expect(tab.get_by_text("Label every crawdad.")).to_be_visible()
    expect(tab.get_by_text("Crawdads are small freshwater lobsters.")).to_be_hidden()

    tab.get_by_role("button", name="See the rules").click()
    dialog = tab.get_by_role("dialog", name="Instructions")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Crawdads are small freshwater lobsters.")
    expect(dialog.get_by_role("heading", name="Good example")).to_be_visible()
    expect(dialog).to_contain_text("A crawdad on a rock.")
    expect(dialog.get_by_role("heading", name="Bad example")).to_be_visible()
    expect(dialog).to_contain_text("A lobster on a plate.")
    tab.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    tab.get_by_role("link", name="View instructions").click()  # link-type defaults to a link
    expect(tab.get_by_text("Second details.")).to_be_visible()
    assert tab.evaluate("window.sameDocument") is True
    assert_clean(tab)


def test_text_area_radio_group_toggle_slider_and_alert(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "extras",
        SCRIPT
        + """<crowd-form>
  <crowd-alert type="warning" dismissible>Check the image twice.</crowd-alert>
  <crowd-text-area name="notes" label="Notes" value="first" char-counter max-length="40"></crowd-text-area>
  <crowd-radio-group label="Mood" required>
    <crowd-radio-button name="happy">Happy</crowd-radio-button>
    <crowd-radio-button name="sad">Sad</crowd-radio-button>
  </crowd-radio-group>
  <crowd-toggle-button name="blurry">Blurry</crowd-toggle-button>
  <crowd-slider name="confidence" label="Confidence" min="0" max="10" value="3" pin editable></crowd-slider>
</crowd-form>""",
    )
    open_task(tab, url)
    alert = tab.locator("crowd-alert")
    expect(alert.get_by_role("alert")).to_contain_text("Check the image twice.")
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_be_hidden()

    submit = tab.get_by_role("button", name="Submit")
    submit.click()
    expect(tab.locator("crowd-form > form").get_by_role("alert")).to_have_text("Please complete the required fields: Mood.")

    tab.get_by_label("Notes").fill("second line")
    expect(tab.locator("crowd-text-area")).to_contain_text("11/40")
    tab.get_by_role("radio", name="Happy").check()
    tab.get_by_role("radio", name="Sad").check()
    expect(tab.get_by_role("radio", name="Happy")).not_to_be_checked()
    tab.get_by_role("switch", name="Blurry").click()
    tab.get_by_label("Confidence value").fill("7")
    tab.get_by_label("Confidence value").press("Tab")
    expect(tab.get_by_role("slider")).to_have_value("7")
    submit.click()
    assert preview_output(tab) == {
        "notes": "second line",
        "happy": {"on": False},
        "sad": {"on": True},
        "blurry": {"on": True},
        "confidence": 7,
    }
    assert_clean(tab)


def test_crowd_button_navigates_and_can_be_disabled(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "buttons",
        SCRIPT
        + """<crowd-button disabled>Not yet</crowd-button>
<crowd-button href="/next/button" variant="link">Go on</crowd-button>
<crowd-form><crowd-checkbox name="a">A</crowd-checkbox></crowd-form>""",
    )
    open_task(tab, url)
    expect(tab.get_by_role("button", name="Not yet")).to_be_disabled()
    tab.get_by_role("button", name="Go on").click()
    tab.wait_for_url(server.url("/next/button"))
    assert_clean(tab)


def test_a_strict_csp_page_still_works(server, tab):
    from playwright.sync_api import expect

    url = server.add_page(
        "csp",
        '<script src="/csp-probe.js"></script>'
        + SCRIPT
        + """<crowd-form>
  <crowd-instructions><short-summary>Summary.</short-summary>
    <detailed-instructions>The details.</detailed-instructions></crowd-instructions>
  <crowd-card heading="Card" image="/img/csp.png">
    <div>Confirm <crowd-checkbox checked="true" name="Crawdad-0" value="Confirmed" /></div>
  </crowd-card>
  <crowd-classifier name="kind" categories="['big', 'small']" header="Size?" required>
    <classification-target>A crawdad.</classification-target>
  </crowd-classifier>
  <crowd-input name="note" label="Note" auto-validate allowed-pattern="[a-z ]"></crowd-input>
  <crowd-toggle-button name="t">Toggle</crowd-toggle-button>
  <crowd-slider name="s" value="4" pin></crowd-slider>
</crowd-form>""",
        submit_url="/submit/csp",
        submission="sub-csp",
        csrf="tok-csp",
        headers={"Content-Security-Policy": "default-src 'self'; script-src 'self'"},
    )
    open_task(tab, url)
    assert tab.evaluate("window.cspViolations") == []  # the probe ran: scripts from 'self' load
    submit = tab.get_by_role("button", name="Submit")
    # The stylesheet applies although inline <style> is refused here.
    assert submit.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(9, 114, 211)"
    assert wait_for_images(tab, "crowd-card img") == [IMAGE_SIZE[0]]

    tab.get_by_role("link", name="View instructions").click()
    expect(tab.get_by_role("dialog")).to_contain_text("The details.")
    tab.get_by_role("dialog").get_by_role("button", name="Close").click()
    submit.click()
    expect(tab.get_by_role("alert")).to_contain_text("Size?")
    tab.get_by_role("radio", name="small").check()
    tab.get_by_label("Note").press_sequentially("ok 42")
    tab.get_by_role("switch", name="Toggle").click()
    tab.get_by_role("checkbox", name="Confirmed").click()
    assert tab.evaluate("window.cspViolations") == []
    submit.click()
    tab.wait_for_url(server.url("/next/csp"))

    (post,) = server.posts_to("csp")
    assert post["json"] == {
        "answer": {"Crawdad-0": {"Confirmed": False}, "kind": {"label": "small"}, "note": "ok ", "t": {"on": True}, "s": 4},
        "submission": "sub-csp",
    }
    assert post["headers"]["X-CSRF-Token"] == "tok-csp"
    refused = [m for m in tab.console_messages if "Content Security Policy" in m or "Refused" in m or "eval" in m]
    assert refused == []
    assert_clean(tab)
