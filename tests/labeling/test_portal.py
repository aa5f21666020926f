"""The worker portal over real HTTP (uvicorn on loopback): sign-in, sessions, CSRF, access rules, leases, images."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from openmaker.labeling import workforce
from tests.labeling.conftest import PASSWORD, bulkqa_answer, make_job

ADMIN = "admin@example.org"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(url: str, email: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=True, timeout=30)
    page = client.get("/signin")
    response = client.post("/signin", data={"email": email, "password": password, "csrf": _csrf(page.text)})
    assert response.status_code == 200, response.text
    return client


def _password(lab, email, role="worker"):
    with lab.session() as s:
        user = workforce.ensure_user(s, email, role)
        workforce.set_password(user, PASSWORD)


@pytest.fixture
def staffed(portal):
    lab = portal.lab
    tasks = make_job(lab, reviewers=2)
    lab.create_team("others", members=["eve@example.org"])
    for email in ("ana@example.org", "bo@example.org", "eve@example.org"):
        _password(lab, email)
    _password(lab, ADMIN, "admin")
    return tasks


def test_sign_in_rejects_a_wrong_password_without_saying_which_part(portal, staffed):
    client = httpx.Client(base_url=portal.url, timeout=30)
    page = client.get("/signin")
    for email, password in (("ana@example.org", "wrong password!"), ("nobody@example.org", PASSWORD)):
        response = client.post("/signin", data={"email": email, "password": password, "csrf": _csrf(page.text)})
        assert response.status_code == 403 and "wrong email or password" in response.text
        page = response
    # A sign-in form posted without the cookie's token (another site's form) is refused.
    fresh = httpx.Client(base_url=portal.url, timeout=30)
    response = fresh.post("/signin", data={"email": "ana@example.org", "password": PASSWORD, "csrf": "forged"})
    assert response.status_code == 403 and "did not come from this portal" in response.text


def test_pages_need_a_session_and_cookies_are_strict(portal, staffed):
    client = httpx.Client(base_url=portal.url, timeout=30)
    assert client.get("/").headers["location"] == "/signin"
    assert client.get("/jobs/qa/work").headers["location"] == "/signin"
    signed = sign_in(portal.url, "ana@example.org")
    cookie = next(c for c in signed.cookies.jar if c.name == "om_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite").lower() == "strict"
    home = signed.get("/")
    assert "Content-Security-Policy" in home.headers and "script-src 'self'" in home.headers["Content-Security-Policy"]


def test_workers_see_only_jobs_of_their_teams(portal, staffed):
    ana = sign_in(portal.url, "ana@example.org")
    assert "Start working" in ana.get("/").text
    eve = sign_in(portal.url, "eve@example.org")
    assert "qa" not in re.sub(r"<header>.*?</header>", "", eve.get("/").text)
    response = eve.get("/jobs/qa/work")
    assert response.status_code == 403 and "not in a team" in response.text
    assert eve.get("/admin").status_code == 403


def test_task_page_submit_replay_and_next(portal, staffed):
    ana = sign_in(portal.url, "ana@example.org")
    page = ana.get("/jobs/qa/work")
    assert page.status_code == 200 and page.url.path.startswith("/task/")
    token = page.url.path.rsplit("/", 1)[1]
    html = page.text
    assert '<script src="/static/crowd-html-elements.js">' in html and "assets.crowd.aws" not in html
    csrf = re.search(r'data-csrf="([^"]+)"', html).group(1)
    names = re.findall(r'<crowd-checkbox checked="true" name="([^"]+)"', html)
    assert len(names) == 25 and names[0] == "Beaver-0"
    task = next(t for t in staffed if t["items"][0]["label"] == "Beaver" and len(t["items"]) == 25)
    answer = bulkqa_answer(task, untick={3, 17})
    no_csrf = ana.post(f"/task/{token}/submit", json={"answer": answer})
    assert no_csrf.status_code == 403
    headers = {"X-CSRF-Token": csrf}
    first = ana.post(f"/task/{token}/submit", json={"answer": answer, "submission": token}, headers=headers)
    assert first.status_code == 200 and first.json() == {"recorded": True, "duplicate": False, "next": "/jobs/qa/work"}
    # The network dropped the answer's response: the browser sends it again, it counts once.
    again = ana.post(f"/task/{token}/submit", json={"answer": answer, "submission": token}, headers=headers)
    assert again.json()["duplicate"] is True
    changed = ana.post(f"/task/{token}/submit", json={"answer": bulkqa_answer(task)}, headers=headers)
    assert changed.status_code == 409 and "already submitted" in changed.json()["error"]
    bad = ana.post(f"/task/{token}/submit", content=b"{not json", headers={**headers, "Content-Type": "application/json"})
    assert bad.status_code == 400
    # Someone else's lease token is not theirs to submit.
    bo = sign_in(portal.url, "bo@example.org")
    bo_csrf = re.search(r'data-csrf="([^"]+)"', bo.get("/jobs/qa/work").text).group(1)
    stolen = bo.post(f"/task/{token}/submit", json={"answer": answer}, headers={"X-CSRF-Token": bo_csrf})
    assert stolen.status_code == 403
    # Next task: a different one.
    assert ana.get("/jobs/qa/work").url.path != f"/task/{token}"
    portal.lab.consolidate("qa")
    rows = [r.split(",") for r in portal.lab.export("qa").splitlines()[1:]]
    assert sum(r[4] == "1" for r in rows) == 2


def test_skipping_a_task_returns_it_to_the_pool(portal, staffed):
    ana = sign_in(portal.url, "ana@example.org")
    page = ana.get("/jobs/qa/work")
    token = page.url.path.rsplit("/", 1)[1]
    back = ana.post(f"/task/{token}/release", data={"csrf": _csrf(page.text)})
    assert "went back to the pool" in back.text
    assert ana.get("/jobs/qa/work").url.path != f"/task/{token}"


def test_images_need_a_valid_unexpired_signature(portal, staffed):
    ana = sign_in(portal.url, "ana@example.org")
    html = ana.get("/jobs/qa/work").text
    src = re.search(r'<crowd-card image="([^"]+)"', html).group(1).replace("&amp;", "&")
    anonymous = httpx.Client(base_url=portal.url, timeout=30)
    image = anonymous.get(src)  # signed URLs work without a session, like presigned S3 URLs
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"
    tampered = src.replace("image_0", "image_1", 1)
    assert anonymous.get(tampered).status_code == 403
    signer = anonymous and __import__("openmaker.labeling.signing", fromlist=["Signer"])
    key = signer.load_key(portal.lab.home)
    old = signer.Signer(key).url("/etc/hostname", now=time.time() - 7200)
    assert anonymous.get(old).status_code == 403 and "expired" in anonymous.get(old).text
    forged = signer.Signer(b"x" * 32).url("/etc/hostname")
    assert anonymous.get(forged).status_code == 403


def test_invitation_link_sets_a_password_once(portal, staffed):
    link = portal.lab.invite("reviewers", "new@example.org")
    client = httpx.Client(base_url=portal.url, follow_redirects=True, timeout=30)
    page = client.get(f"/invite/{link.token}")
    assert "new@example.org" in page.text
    mismatch = client.post(f"/invite/{link.token}", data={"password": PASSWORD, "again": PASSWORD + "!", "csrf": _csrf(page.text)})
    assert mismatch.status_code == 400 and "differ" in mismatch.text
    short = client.post(f"/invite/{link.token}", data={"password": "short", "again": "short", "csrf": _csrf(mismatch.text)})
    assert "at least 10" in short.text
    done = client.post(f"/invite/{link.token}", data={"password": PASSWORD, "again": PASSWORD, "csrf": _csrf(short.text)})
    assert done.status_code == 200 and "Start working" in done.text
    assert client.get(f"/invite/{link.token}").status_code == 409
    assert httpx.get(f"{portal.url}/invite/not-a-token").status_code == 404


def test_admin_creates_a_team_invites_and_follows_a_job(portal, staffed):
    admin = sign_in(portal.url, ADMIN)
    page = admin.get("/admin")
    created = admin.post("/admin/teams", data={"name": "night shift", "csrf": _csrf(page.text)})
    assert "team night shift created" in created.text
    invited = admin.post("/admin/teams/night shift/invite", data={"email": "owl@example.org", "csrf": _csrf(created.text)})
    link = re.search(r'<code id="invite-link">([^<]+)</code>', invited.text).group(1)
    assert link.startswith(portal.url + "/invite/")
    bad = admin.post("/admin/teams", data={"name": "night shift", "csrf": _csrf(invited.text)})
    assert bad.status_code == 409 and "already exists" in bad.text
    forged = admin.post("/admin/teams", data={"name": "x", "csrf": "forged"})
    assert forged.status_code == 403
    job = admin.get("/admin/jobs/qa")
    assert "Per class" in job.text or "Class" in job.text
    csv = admin.get("/admin/jobs/qa/download/results.csv")
    assert csv.text.startswith("image,label,confidence,WorkerConfirmCount") and csv.headers["content-disposition"].startswith("attachment")
    chart = admin.get("/admin/jobs/qa/download/chart.png")
    assert chart.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert admin.get("/admin/jobs/qa/download/secrets.txt").status_code == 400


def test_vendor_admins_see_only_jobs_shared_with_their_team(portal, staffed):
    lab = portal.lab
    lab.create_team("acme", vendor=True, admins=["boss@acme.example"], members=["w1@acme.example"])
    _password(lab, "boss@acme.example")
    make_job(lab, "acme-job", team="acme")
    boss = sign_in(portal.url, "boss@acme.example")
    page = boss.get("/admin")
    assert page.status_code == 200 and "acme-job" in page.text and ">qa<" not in page.text
    assert "New team" not in page.text and "New job" not in page.text
    assert boss.get("/admin/jobs/qa").status_code == 403
    invited = boss.post("/admin/teams/acme/invite", data={"email": "w2@acme.example", "csrf": _csrf(page.text)})
    assert "invited w2@acme.example" in invited.text
    refused = boss.post("/admin/teams/reviewers/invite", data={"email": "x@acme.example", "csrf": _csrf(page.text)})
    assert refused.status_code == 403 and "may not manage team" in refused.text
