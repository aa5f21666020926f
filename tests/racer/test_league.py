"""The racer league: races, racers and keys, submissions, the evaluation queue, leaderboards, season points.

Most tests race with a fake evaluator (lap times written into the submitted model's model_config.json) so
that the queue and the ranking are tested without training; ``test_real_model_*`` race a model written by
``openmaker.racer.model.save_model`` with the real evaluator. The JSON API is tested over a real uvicorn
server on loopback, on SQLite and PostgreSQL for the database parts.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from openmaker.racer.errors import RacerError
from openmaker.racer.league import standings
from openmaker.racer.league.errors import Conflict, Forbidden, LeagueError, NotFound, TooLarge, Unauthorized

TRACK = "reinvent_base"


# --- helpers ------------------------------------------------------------------------------------


def window(hours: float = 1.0) -> tuple[datetime, datetime]:
    now = datetime.now(timezone.utc)
    return now - timedelta(hours=hours), now + timedelta(hours=hours)


def fake_model(root: Path, name: str = "model", laps=(10.0,), *, off_track: int = 0, **behaviour) -> Path:
    """A model directory the fake evaluator understands (plus a file the league must ignore)."""
    d = root / name
    d.mkdir(parents=True)
    (d / "model_metadata.json").write_text(json.dumps({"action_space": [{"steering_angle": 0, "speed": 1}]}))
    (d / "model_config.json").write_text(json.dumps({"fake_laps": list(laps), "off_track": off_track, **behaviour}))
    (d / "policy.safetensors").write_bytes(b"fake weights")
    (d / "reward_function.py").write_text("def reward_function(params):\n    return 1.0\n")
    (d / "notes.txt").write_text("not part of a model")
    return d


def fake_evaluator(model_dir, track, *, laps, penalty, timing):
    """Lap times from the model's model_config.json; ``raise`` makes it fail like a corrupt model or a crash."""
    config = json.loads((Path(model_dir) / "model_config.json").read_text())
    assert track == TRACK
    if config.get("raise") == "racer":
        raise RacerError(f"{Path(model_dir) / 'policy.safetensors'}: not a valid safetensors file")
    if config.get("raise") == "crash":
        raise RuntimeError("the simulator fell over")
    if config.get("garbage"):
        return {"no": "laps"}
    if config.get("delay"):
        time.sleep(config["delay"])
    times = config["fake_laps"][:laps]
    records = [{"time": t + penalty * config["off_track"], "off_track": config["off_track"], "completed": True} for t in times]
    if len(times) < laps:
        records.append({"time": 4.0, "off_track": 1, "completed": False})
    return {"laps": records, "completed_laps": len(times), "timing": timing}


def tar_gz(files: dict[str, bytes], *, links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def model_files(laps=(10.0,)) -> dict[str, bytes]:
    return {
        "model_metadata.json": b"{}",
        "model_config.json": json.dumps({"fake_laps": list(laps), "off_track": 0}).encode(),
        "policy.safetensors": b"fake weights",
    }


def open_race(league, name="sprint", **spec):
    opens, closes = window()
    spec = {"track": TRACK, "opens": opens, "closes": closes, **spec}
    return league.create_race(name, **spec)


class Racers:
    """Racers of a test: ``racers.ana`` is a Viewer, ``racers.keys["ana"]`` the API key."""

    def __init__(self, league, *aliases: str, admin: str | None = None):
        self.keys = {}
        for alias in aliases:
            self.keys[alias] = league.add_racer(alias)
        if admin:
            self.keys[admin] = league.add_racer(admin, admin=True)
        self.viewers = {alias: league.authenticate(key) for alias, key in self.keys.items()}

    def __getattr__(self, alias):
        try:
            return self.viewers[alias]
        except KeyError:
            raise AttributeError(alias) from None


def race_all(league) -> list[dict]:
    from openmaker.racer.league.queue import LeagueWorker

    done = []
    LeagueWorker(league, fake_evaluator).run(once=True, on_done=done.append)
    return done


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def league(openmaker_home):
    from openmaker.racer.league import League

    return League()


@pytest.fixture
def any_league(database_url, openmaker_home):
    """A League on SQLite and on a fresh PostgreSQL database."""
    from openmaker.racer.league import League

    return League(database_url)


class LiveLeague:
    def __init__(self, url: str, league, worker):
        self.url = url
        self.league = league
        self.worker = worker


def serve(league, evaluator=fake_evaluator) -> Iterator[LiveLeague]:
    """The league app with a queue worker thread, served by uvicorn on a loopback port in a thread."""
    import uvicorn

    from openmaker.racer.league import LeagueWorker, create_league_app

    worker = LeagueWorker(league, evaluator, poll=0.1)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_league_app(league, worker=worker), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    worker.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield LiveLeague(f"http://127.0.0.1:{port}", league, worker)
    finally:
        worker.stop()
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def live(league) -> Iterator[LiveLeague]:
    yield from serve(league)


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- races ----------------------------------------------------------------------------------------


def test_create_race_and_its_validation(league):
    race = league.create_race(
        "may-sprint", track=TRACK, opens="2026-05-01", closes="2026-06-01T12:00Z", timing="avg_lap_time", laps=3, penalty=3, min_laps=2
    )
    assert race["track"] == TRACK and race["timing"] == "AVG_LAP_TIME" and race["season"] == "2026"
    assert race["opens"] == "2026-05-01T00:00:00+00:00" and race["closes"] == "2026-06-01T12:00:00+00:00"
    assert race["laps"] == 3 and race["penalty"] == 3.0 and race["min_laps"] == 2 and race["max_submissions"] == 10
    assert league.race("may-sprint") == {**race, "status": league.race("may-sprint")["status"]}

    opens, closes = window()
    with pytest.raises(RacerError, match="reinvent_bse"):
        league.create_race("a", track="reinvent_bse", opens=opens, closes=closes)
    with pytest.raises(LeagueError, match="not a path"):
        league.create_race("a", track="/etc/passwd", opens=opens, closes=closes)
    with pytest.raises(LeagueError, match="must close after it opens"):
        league.create_race("a", track=TRACK, opens=closes, closes=opens)
    with pytest.raises(LeagueError, match="timing method 'FASTEST'.*TOTAL_TIME, AVG_LAP_TIME, BEST_LAP_TIME"):
        league.create_race("a", track=TRACK, opens=opens, closes=closes, timing="fastest")
    with pytest.raises(LeagueError, match="not an ISO 8601"):
        league.create_race("a", track=TRACK, opens="next tuesday", closes=closes)
    with pytest.raises(LeagueError, match="minimum laps must be 1 to the race's 3 laps"):
        league.create_race("a", track=TRACK, opens=opens, closes=closes, min_laps=4)
    with pytest.raises(LeagueError, match="penalty"):
        league.create_race("a", track=TRACK, opens=opens, closes=closes, penalty=-1)
    with pytest.raises(LeagueError, match="race name"):
        league.create_race("../x", track=TRACK, opens=opens, closes=closes)
    with pytest.raises(Conflict, match="already exists"):
        league.create_race("may-sprint", track=TRACK, opens=opens, closes=closes)
    with pytest.raises(NotFound, match="no race 'nope'"):
        league.race("nope")
    assert [r["name"] for r in league.races()] == ["may-sprint"]


def test_submissions_only_while_the_race_is_open(league, tmp_path):
    racers = Racers(league, "ana")
    model = fake_model(tmp_path)
    now = datetime.now(timezone.utc)
    league.create_race("later", track=TRACK, opens=now + timedelta(days=1), closes=now + timedelta(days=2))
    league.create_race("over", track=TRACK, opens=now - timedelta(days=2), closes=now - timedelta(days=1))
    open_race(league, "now")
    with pytest.raises(LeagueError, match="submissions are not open yet"):
        league.submit("later", model, racer=racers.ana)
    with pytest.raises(LeagueError, match="closed at .* no more submissions"):
        league.submit("over", model, racer=racers.ana)
    sub = league.submit("now", model, racer=racers.ana)
    assert sub["status"] == "queued" and sub["racer"] == "ana" and sub["ignored"] == ["notes.txt"]
    stored = league.submission_dir(sub["id"])
    assert sorted(p.name for p in stored.iterdir()) == ["model_config.json", "model_metadata.json", "policy.safetensors", "reward_function.py"]
    assert stored.parent == league.home / "racer" / "league" / "submissions"

    assert league.close_race("now")["status"] == "closed"
    assert league.close_race("later")["status"] == "closed" and league.race("later")["status"] == "closed"
    assert league.close_race("over")["closes"] == league.race("over")["closes"]  # already closed: unchanged
    with pytest.raises(LeagueError, match="no more submissions"):
        league.submit("now", model, racer=racers.ana)
    # Closing does not drop what was queued.
    assert [d["status"] for d in race_all(league)] == ["done"]
    assert [r["Alias"] for r in league.leaderboard("now")["rows"]] == ["ana"]


def test_max_submissions_per_racer_failed_ones_do_not_count(league, tmp_path):
    racers = Racers(league, "ana", "bo")
    open_race(league, max_submissions=2)
    broken = fake_model(tmp_path, "broken", **{"raise": "racer"})
    league.submit("sprint", broken, racer=racers.ana)
    race_all(league)  # fails: does not count
    league.submit("sprint", fake_model(tmp_path, "a1"), racer=racers.ana)
    league.submit("sprint", fake_model(tmp_path, "a2"), racer=racers.ana)
    with pytest.raises(LeagueError, match="'ana' has made 2 submissions to race 'sprint', the most it allows"):
        league.submit("sprint", fake_model(tmp_path, "a3"), racer=racers.ana)
    league.submit("sprint", fake_model(tmp_path, "b1"), racer=racers.bo)  # per racer
    assert not any(p.name.startswith(".incoming") for p in league.submissions_dir.iterdir())


# --- ranking ----------------------------------------------------------------------------------------

LAPS = {"ana": (10.0, 10.0, 10.0), "bo": (8.0, 13.0, 12.0), "cy": (9.5, 9.5)}
ORDER = {
    "TOTAL_TIME": ["ana", "bo", "cy"],  # 3 laps in 30 s, 3 laps in 33 s, then 2 laps (more laps rank first)
    "AVG_LAP_TIME": ["cy", "ana", "bo"],  # 9.5, 10, 11
    "BEST_LAP_TIME": ["bo", "cy", "ana"],  # 8, 9.5, 10
}


@pytest.mark.parametrize("timing", sorted(ORDER))
def test_ranking_by_each_timing_method(league, tmp_path, timing):
    racers = Racers(league, *LAPS)
    open_race(league, timing=timing, laps=3, min_laps=1)
    for alias, laps in LAPS.items():
        league.submit("sprint", fake_model(tmp_path, alias, laps), racer=racers.viewers[alias])
    race_all(league)
    rows = league.leaderboard("sprint")["rows"]
    assert [r["Alias"] for r in rows] == ORDER[timing]
    assert [r["Rank"] for r in rows] == [1, 2, 3]
    bo = next(r for r in rows if r["Alias"] == "bo")
    assert (bo["LapCount"], bo["TotalLapTime"], bo["AvgLapTime"], bo["BestLapTime"]) == (3, 33.0, 11.0, 8.0)
    assert bo["RankingScore"] == {"TOTAL_TIME": 33.0, "AVG_LAP_TIME": 11.0, "BEST_LAP_TIME": 8.0}[timing]
    assert set(rows[0]) >= {"Rank", "Alias", "LapCount", "AvgLapTime", "BestLapTime", "TotalLapTime", "OffTrackCount",
                            "SubmissionCount", "SubmissionTime", "RankingScore"}


def test_minimum_laps_and_penalties(league, tmp_path):
    racers = Racers(league, "ana", "cy")
    open_race(league, timing="AVG_LAP_TIME", laps=3, min_laps=3, penalty=2)
    league.submit("sprint", fake_model(tmp_path, "ana", (10.0, 10.0, 10.0), off_track=1), racer=racers.ana)
    league.submit("sprint", fake_model(tmp_path, "cy", (9.0, 9.0)), racer=racers.cy)
    race_all(league)
    rows = league.leaderboard("sprint")["rows"]
    assert [(r["Alias"], r["AvgLapTime"], r["OffTrackCount"]) for r in rows] == [("ana", 12.0, 3)]  # 10 s + 2 s penalty
    (cy,) = league.submissions("sprint", racer=racers.cy)
    assert cy["status"] == "done" and cy["completed_laps"] == 2
    assert cy["reason"] == "completed 2 of the 3 laps needed to rank; not on the leaderboard"


def test_ties_go_to_the_earlier_submission_and_a_racers_best_counts(league, tmp_path):
    racers = Racers(league, "ana", "bo")
    open_race(league, timing="BEST_LAP_TIME", laps=1)
    league.submit("sprint", fake_model(tmp_path, "bo1", (9.0,)), racer=racers.bo)
    league.submit("sprint", fake_model(tmp_path, "ana1", (12.0,)), racer=racers.ana)
    league.submit("sprint", fake_model(tmp_path, "ana2", (9.0,)), racer=racers.ana)
    league.submit("sprint", fake_model(tmp_path, "ana3", (11.0,)), racer=racers.ana)
    race_all(league)
    rows = league.leaderboard("sprint")["rows"]
    assert [(r["Rank"], r["Alias"], r["BestLapTime"], r["SubmissionCount"]) for r in rows] == [(1, "bo", 9.0, 1), (2, "ana", 9.0, 3)]
    mine = league.submissions("sprint", racer=racers.ana)
    assert rows[1]["SubmissionId"] == next(s["id"] for s in mine if s["best_lap_time"] == 9.0)


def test_failed_evaluations_are_marked_with_the_reason_and_never_ranked(league, tmp_path):
    racers = Racers(league, "ana", "bo", "cy", "dee")
    open_race(league)
    league.submit("sprint", fake_model(tmp_path, "a", **{"raise": "racer"}), racer=racers.ana)
    league.submit("sprint", fake_model(tmp_path, "b", **{"raise": "crash"}), racer=racers.bo)
    league.submit("sprint", fake_model(tmp_path, "c", garbage=True), racer=racers.cy)
    league.submit("sprint", fake_model(tmp_path, "d", (11.0,)), racer=racers.dee)
    outcomes = {o["id"]: o for o in race_all(league)}
    assert [o["status"] for o in outcomes.values()] == ["failed", "failed", "failed", "done"]
    ana = league.submissions("sprint", racer=racers.ana)[0]
    assert ana["status"] == "failed" and "policy.safetensors: not a valid safetensors file" in ana["reason"]
    assert league.submissions("sprint", racer=racers.bo)[0]["reason"] == "the evaluation failed: RuntimeError: the simulator fell over"
    assert league.submissions("sprint", racer=racers.cy)[0]["reason"] == "the evaluation returned no lap list"
    assert [r["Alias"] for r in league.leaderboard("sprint")["rows"]] == ["dee"]


def test_season_points_f1_style_with_countback():
    def rows(*aliases):
        return [{"Rank": i, "Alias": a} for i, a in enumerate(aliases, start=1)]

    boards = [("r1", rows("ana", "bo", "cy")), ("r2", rows("bo", "ana")), ("r3", rows(*[f"x{i}" for i in range(11)], "cy"))]
    table = standings.season_table(boards)
    by = {row["Alias"]: row for row in table}
    assert by["ana"]["Points"] == 25 + 18 and by["bo"]["Points"] == 18 + 25 and by["cy"]["Points"] == 15
    assert by["x0"]["Points"] == 25 and by["x9"]["Points"] == 1 and by["x10"]["Points"] == 0
    assert by["ana"]["Races"] == {"r1": 25, "r2": 18} and by["cy"]["Races"] == {"r1": 15, "r3": 0}
    # ana and bo: 43 points, one win and one second each: a true tie (same rank, alias order).
    assert [(r["Rank"], r["Alias"]) for r in table[:3]] == [(1, "ana"), (1, "bo"), (3, "x0")]
    # Countback: equal points, more wins first.
    table = standings.season_table([("a", rows("p", "q")), ("b", rows("q", "z", "y", "x", "w", "v", "u", "t", "s", "p"))])
    assert [r["Alias"] for r in table[:2]] == ["q", "p"] and table[0]["Points"] == 43 and table[1]["Points"] == 26


def test_season_table_from_the_races_of_a_season(league, tmp_path):
    racers = Racers(league, "ana", "bo", "cy")
    open_race(league, "r1", season="2026 cup")
    open_race(league, "r2", season="2026 cup")
    open_race(league, "other", season="sprint series")
    for race, times in (("r1", {"ana": 9, "bo": 10, "cy": 11}), ("r2", {"ana": 12, "bo": 10}), ("other", {"cy": 5})):
        for alias, t in times.items():
            league.submit(race, fake_model(tmp_path / race, alias, (float(t),)), racer=racers.viewers[alias])
    race_all(league)
    season = league.season("2026 cup")
    assert [r["name"] for r in season["races"]] == ["r1", "r2"]
    assert [(r["Rank"], r["Alias"], r["Points"], r["Wins"]) for r in season["rows"]] == [(1, "ana", 43, 1), (1, "bo", 43, 1), (3, "cy", 15, 0)]
    assert league.season("sprint series")["rows"][0]["Alias"] == "cy"
    with pytest.raises(NotFound):
        league.season("nope")
    assert set(league.seasons()) == {"2026 cup", "sprint series"}


# --- access -------------------------------------------------------------------------------------


def test_keys_sign_in_and_access_rules(league, tmp_path):
    racers = Racers(league, "ana", "bo", admin="marshal")
    key = racers.keys["ana"]
    assert key.startswith("omr_") and len(key) > 40
    from openmaker.racer.league.api import hash_token
    from openmaker.racer.league.tables import Racer

    with league.session() as s:
        stored = {r.alias: r.key_hash for r in s.query(Racer)}
    assert stored["ana"] == hash_token(key) and key not in stored.values()

    with pytest.raises(Unauthorized, match="no API key"):
        league.authenticate("")
    with pytest.raises(Unauthorized, match="not valid"):
        league.authenticate(key + "x")
    with pytest.raises(Unauthorized, match="alias or API key is wrong"):
        league.authenticate(key, "bo")
    with pytest.raises(Conflict):
        league.add_racer("ana")
    with pytest.raises(LeagueError, match="alias"):
        league.add_racer("<script>")

    opens, closes = window()
    with pytest.raises(Forbidden, match="only league admins create races; 'ana' is not one"):
        league.create_race("x", track=TRACK, opens=opens, closes=closes, by=racers.ana)
    assert league.create_race("x", track=TRACK, opens=opens, closes=closes, by=racers.marshal)["name"] == "x"
    with pytest.raises(Forbidden):
        league.close_race("x", by=racers.bo)

    sub = league.submit("x", fake_model(tmp_path, "broken", **{"raise": "racer"}), racer=racers.ana)
    race_all(league)
    assert "safetensors" in league.submission(sub["id"], viewer=racers.ana)["reason"]
    with pytest.raises(Forbidden, match="another racer's"):
        league.submission(sub["id"], viewer=racers.bo)
    assert league.submissions("x", racer=racers.bo) == []
    with pytest.raises(Forbidden):
        league.submissions("x", racer=racers.bo, everyone=True)
    assert len(league.submissions("x", racer=racers.marshal, everyone=True)) == 1
    assert league.submission(sub["id"], viewer=racers.marshal)["racer"] == "ana"

    token, csrf = league.start_session(racers.ana)
    assert league.session_viewer(token) == (racers.ana, csrf)
    league.revoke_racer("ana")
    assert league.session_viewer(token) is None
    with pytest.raises(Unauthorized, match="'ana''s key was revoked"):
        league.authenticate(key)
    with pytest.raises(Unauthorized, match="revoked"):
        league.submit("x", fake_model(tmp_path, "late"), racer=racers.ana)
    fresh = league.new_key("ana")
    assert league.authenticate(fresh).alias == "ana"
    with pytest.raises(Unauthorized):
        league.authenticate(key)


# --- archives ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "archive, message",
    [
        (tar_gz({**model_files(), "../evil.py": b"x"}), r"member '../evil.py' points outside the model folder"),
        (tar_gz({**model_files(), "/etc/cron.d/evil": b"x"}), r"member '/etc/cron.d/evil' has an absolute path"),
        (tar_gz(model_files(), links={"policy.safetensors.lnk": "/etc/passwd"}), r"is a link"),
        (zip_bytes({**model_files(), "m/../../evil": b"x"}), r"points outside the model folder"),
        (zip_bytes({**model_files(), "C:\\evil": b"x"}), r"absolute path"),
        (tar_gz({"model_metadata.json": b"{}"}), r"no model_config.json, policy.safetensors at the top"),
        (b"this is not an archive", r"is not a .tar.gz, .tar or .zip archive"),
        (b"\x1f\x8b\x08garbage", r"not a readable tar archive"),
    ],
    ids=["dotdot", "absolute", "symlink", "zip-dotdot", "zip-drive", "incomplete", "not-archive", "bad-gzip"],
)
def test_unsafe_or_bad_archives_are_rejected_and_nothing_is_written(league, tmp_path, archive, message):
    racers = Racers(league, "ana")
    open_race(league)
    with pytest.raises(LeagueError, match=message):
        league.submit("sprint", archive, racer=racers.ana, archive_name="model.tar.gz")
    assert not (tmp_path / "evil.py").exists()
    assert list(league.submissions_dir.iterdir()) == []
    assert league.submissions("sprint", racer=racers.ana) == []


def test_archives_one_top_folder_ignored_files_and_size_limits(openmaker_home, tmp_path):
    from openmaker.racer.league import League

    league = League(max_archive_bytes=4096, max_unpacked_bytes=8192)
    racers = Racers(league, "ana")
    open_race(league)
    files = {f"my-model/{k}": v for k, v in model_files((7.5,)).items()}
    files["my-model/checkpoints/old.safetensors"] = b"old"
    files["my-model/.DS_Store"] = b"junk"
    sub = league.submit("sprint", tar_gz(files), racer=racers.ana)
    assert sub["files"] == ["model_config.json", "model_metadata.json", "policy.safetensors"]
    assert sub["ignored"] == [".DS_Store", "checkpoints/old.safetensors"]
    (tmp_path / "m.zip").write_bytes(zip_bytes(model_files((8.0,))))
    zipped = league.submit("sprint", tmp_path / "m.zip", racer=racers.ana)
    assert (league.submission_dir(zipped["id"]) / "policy.safetensors").read_bytes() == b"fake weights"
    race_all(league)
    assert league.leaderboard("sprint")["rows"][0]["BestLapTime"] == 7.5

    with pytest.raises(TooLarge, match="limit is 4096"):
        league.submit("sprint", b"\x1f\x8b" + b"0" * 5000, racer=racers.ana)
    bomb = tar_gz({**model_files(), "policy.safetensors": b"\0" * 100_000})  # compresses to well under 4 KiB
    assert len(bomb) < 4096
    with pytest.raises(TooLarge, match="more than 8192 bytes unpacked"):
        league.submit("sprint", bomb, racer=racers.ana)
    twice = io.BytesIO()
    with tarfile.open(fileobj=twice, mode="w:gz") as tar:
        for name, data in [*model_files().items(), ("policy.safetensors", b"again")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(LeagueError, match="policy.safetensors appears twice"):
        league.submit("sprint", twice.getvalue(), racer=racers.ana)


def test_a_symlinked_model_file_in_a_directory_is_refused(league, tmp_path):
    racers = Racers(league, "ana")
    open_race(league)
    model = fake_model(tmp_path)
    (model / "policy.safetensors").unlink()
    (model / "policy.safetensors").symlink_to("/etc/hostname")
    with pytest.raises(LeagueError, match="symbolic link"):
        league.submit("sprint", model, racer=racers.ana)


# --- the queue ----------------------------------------------------------------------------------


def test_queue_races_in_submission_order_across_races_and_each_submission_once(league, tmp_path):
    from openmaker.racer.league.queue import LeagueWorker

    racers = Racers(league, "ana", "bo")
    open_race(league, "r1")
    open_race(league, "r2")
    ids = []
    for i, (race, alias) in enumerate([("r2", "ana"), ("r1", "bo"), ("r2", "bo"), ("r1", "ana")] * 3):
        ids.append(league.submit(race, fake_model(tmp_path, f"m{i}", (10.0 + i,)), racer=racers.viewers[alias])["id"])
    seen: list[int] = []
    lock = threading.Lock()

    def evaluator(model_dir, track, **kw):
        with lock:
            seen.append(int(Path(model_dir).name))
        return fake_evaluator(model_dir, track, **kw)

    workers = [LeagueWorker(league, evaluator) for _ in range(3)]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(seen) == ids  # each exactly once
    assert league.queue_length() == 0
    single = LeagueWorker(league, evaluator)
    league.submit("r1", fake_model(tmp_path, "late1"), racer=racers.ana)
    league.submit("r2", fake_model(tmp_path, "late2"), racer=racers.bo)
    seen.clear()
    single.run(once=True)
    assert seen == sorted(seen) and len(seen) == 2


def test_a_submission_left_running_by_a_dead_worker_is_queued_again(league, tmp_path):
    racers = Racers(league, "ana")
    open_race(league)
    sub = league.submit("sprint", fake_model(tmp_path), racer=racers.ana)
    assert league.claim_next()["id"] == sub["id"]
    assert league.claim_next() is None
    assert league.requeue_stale(timedelta(hours=1)) == 0
    assert league.requeue_stale(timedelta(seconds=-1)) == 1
    assert [o["status"] for o in race_all(league)] == ["done"]


def test_the_whole_league_on_sqlite_and_postgresql(any_league, tmp_path):
    league = any_league
    racers = Racers(league, "ana", "bo", admin="marshal")
    open_race(league, "r1", timing="TOTAL_TIME", laps=2, season="s1")
    league.submit("r1", tar_gz(model_files((9.0, 9.5))), racer=racers.ana)
    league.submit("r1", fake_model(tmp_path, "bo", (9.0, 9.0)), racer=racers.bo)
    league.submit("r1", fake_model(tmp_path, "bad", **{"raise": "racer"}), racer=racers.bo)
    race_all(league)
    rows = league.leaderboard("r1")["rows"]
    assert [(r["Alias"], r["TotalLapTime"], r["SubmissionCount"]) for r in rows] == [("bo", 18.0, 2), ("ana", 18.5, 1)]
    assert datetime.fromisoformat(rows[0]["SubmissionTime"]).tzinfo is not None
    assert [s["status"] for s in league.submissions("r1", racer=racers.bo)] == ["failed", "done"]
    assert league.season()["rows"][0] == {"Rank": 1, "Alias": "bo", "Points": 25, "Wins": 1, "Races": {"r1": 25}}
    token, csrf = league.start_session(racers.ana)
    assert league.session_viewer(token)[1] == csrf
    league.end_session(token)
    assert league.session_viewer(token) is None


# --- the real evaluator --------------------------------------------------------------------------


@pytest.fixture
def real_model(tmp_path) -> Path:
    """An untrained state-observation policy written by openmaker.racer.model.save_model."""
    torch = pytest.importorskip("torch")
    from openmaker.racer.actions import default_metadata, load_action_space
    from openmaker.racer.env import OBS_DIM
    from openmaker.racer.model import save_model
    from openmaker.racer.ppo import PolicyNet, network_config

    (tmp_path / "model_metadata.json").write_text(json.dumps(default_metadata()))
    space = load_action_space(tmp_path / "model_metadata.json")
    torch.manual_seed(0)
    net = PolicyNet(network_config("state", (OBS_DIM,), "discrete", space.n))
    return save_model(tmp_path / "untrained", net, space, None, reward_source="def reward_function(params):\n    return 1.0\n")


def test_real_model_is_raced_by_the_default_evaluator(league, real_model):
    from openmaker.racer.evaluate import evaluate
    from openmaker.racer.league.queue import LeagueWorker

    racers = Racers(league, "ana", "bo")
    open_race(league, timing="TOTAL_TIME", laps=1, penalty=5)
    sub = league.submit("sprint", real_model, racer=racers.ana)
    corrupt = league.submit("sprint", real_model, racer=racers.bo)
    (league.submission_dir(corrupt["id"]) / "policy.safetensors").write_bytes(b"\x00garbage")
    outcomes = []
    LeagueWorker(league).run(once=True, on_done=outcomes.append)
    assert [o["status"] for o in outcomes] == ["done", "failed"]
    assert "policy.safetensors: not a valid safetensors file" in outcomes[1]["reason"]

    expected = evaluate(real_model, TRACK, laps=1, penalty=5.0, timing="total")
    stored = league.submission(sub["id"], viewer=racers.ana)
    assert stored["completed_laps"] == expected["completed_laps"] and stored["result"]["laps"] == expected["laps"]
    rows = league.leaderboard("sprint")["rows"]
    if expected["completed_laps"]:
        assert [(r["Alias"], r["TotalLapTime"], r["OffTrackCount"]) for r in rows] == [
            ("ana", round(expected["total"], 3), expected["off_track"])
        ]
    else:
        assert rows == [] and "laps needed to rank" in stored["reason"]


# --- the JSON API over HTTP -------------------------------------------------------------------------


def test_json_api_submit_queue_leaderboard_and_access_rules(live, tmp_path):
    league = live.league
    racers = Racers(league, "ana", "bo", admin="marshal")
    url = live.url
    auth = {name: {"Authorization": f"Bearer {key}"} for name, key in racers.keys.items()}
    opens, closes = window()
    spec = {"name": "api-race", "track": TRACK, "opens": opens.isoformat(), "closes": closes.isoformat(), "timing": "BEST_LAP_TIME", "laps": 2}

    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.post("/api/races", json=spec).status_code == 401
        refused = client.post("/api/races", json=spec, headers=auth["ana"])
        assert refused.status_code == 403 and "only league admins" in refused.json()["error"]
        bad = client.post("/api/races", json={**spec, "track": "nowhere"}, headers=auth["marshal"])
        assert bad.status_code == 400 and "nowhere" in bad.json()["error"]
        created = client.post("/api/races", json=spec, headers=auth["marshal"])
        assert created.status_code == 201 and created.json()["status"] == "open"
        assert client.post("/api/races", json=spec, headers=auth["marshal"]).status_code == 409
        assert [r["name"] for r in client.get("/api/races").json()["races"]] == ["api-race"]

        archive = tar_gz(model_files((9.25, 8.75)))
        no_key = client.post("/api/races/api-race/submissions", content=archive)
        assert no_key.status_code == 401 and no_key.headers["www-authenticate"].startswith("Bearer")
        wrong = client.post("/api/races/api-race/submissions", content=archive, headers={"Authorization": "Bearer omr_wrong"})
        assert wrong.status_code == 401 and wrong.json() == {"error": "the API key is not valid"}
        assert client.post("/api/races/nope/submissions", content=archive, headers=auth["ana"]).status_code == 404
        evil = client.post("/api/races/api-race/submissions", content=tar_gz({**model_files(), "../x": b"x"}), headers=auth["ana"])
        assert evil.status_code == 400 and "outside the model folder" in evil.json()["error"]

        sub = client.post("/api/races/api-race/submissions", content=archive, headers=auth["ana"])
        assert sub.status_code == 201, sub.text
        sub_id = sub.json()["id"]
        multipart = client.post(
            "/api/races/api-race/submissions", files={"model": ("m.zip", zip_bytes(model_files((9.5,))), "application/zip")}, headers=auth["bo"]
        )
        assert multipart.status_code == 201, multipart.text

        done = wait_for(
            lambda: (r := client.get(f"/api/submissions/{sub_id}", headers=auth["ana"]).json())["status"] == "done" and r,
            what="the worker to race the submission",
        )
        assert done["best_lap_time"] == 8.75 and done["completed_laps"] == 2
        other = client.get(f"/api/submissions/{sub_id}", headers=auth["bo"])
        assert other.status_code == 403 and "reason" not in other.json()
        assert client.get(f"/api/submissions/{sub_id}").status_code == 401
        assert client.get(f"/api/submissions/{sub_id}", headers=auth["marshal"]).status_code == 200
        mine = client.get("/api/races/api-race/submissions", headers=auth["bo"]).json()["submissions"]
        assert [s["racer"] for s in mine] == ["bo"]

        wait_for(lambda: league.queue_length() == 0, what="an empty queue")
        board = client.get("/api/races/api-race/leaderboard").json()
        assert board["race"]["timing"] == "BEST_LAP_TIME"
        assert [(r["Rank"], r["Alias"], r["BestLapTime"], r["LapCount"]) for r in board["rows"]] == [(1, "ana", 8.75, 2), (2, "bo", 9.5, 1)]
        season = client.get("/api/season").json()
        assert [(r["Alias"], r["Points"]) for r in season["rows"]] == [("ana", 25), ("bo", 18)]
        assert client.get("/api/races/nope/leaderboard").status_code == 404
        assert client.get("/api/nothing-here").status_code == 404

        assert client.post("/api/races/api-race/close", headers=auth["bo"]).status_code == 403
        assert client.post("/api/races/api-race/close", headers=auth["marshal"]).json()["status"] == "closed"
        late = client.post("/api/races/api-race/submissions", content=archive, headers=auth["ana"])
        assert late.status_code == 400 and "no more submissions" in late.json()["error"]

        page = client.get("/races/api-race")
        assert page.status_code == 200 and "ana" in page.text and "00:08.750" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert client.get("/static/league.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/static/../api.py").status_code == 404


def test_upload_size_limit_over_http(openmaker_home):
    from openmaker.racer.league import League

    league = League(max_archive_bytes=2048)
    racers = Racers(league, "ana")
    open_race(league)
    for live in serve(league):
        big = httpx.post(
            f"{live.url}/api/races/sprint/submissions",
            content=b"\x1f\x8b" + b"x" * 200_000,
            headers={"Authorization": f"Bearer {racers.keys['ana']}"},
        )
        assert big.status_code == 413 and big.json()["error"] == "the upload is 200002 bytes; the limit is 2048"

        def chunks():  # no Content-Length: counted while streaming
            for _ in range(100):
                yield b"x" * 1000

        streamed = httpx.post(
            f"{live.url}/api/races/sprint/submissions", content=chunks(), headers={"Authorization": f"Bearer {racers.keys['ana']}"}
        )
        assert streamed.status_code == 413 and "larger than the limit of 2048 bytes" in streamed.json()["error"]
        assert league.submissions("sprint", racer=racers.ana) == []


def test_cookie_sessions_need_csrf_and_pages_escape(live, tmp_path):
    league = live.league
    racers = Racers(league, "ana")
    open_race(league, "sprint")
    with httpx.Client(base_url=live.url, timeout=10, follow_redirects=False) as client:
        signin = client.get("/signin")
        form_token = signin.cookies["omr_form"]
        # A sign-in without the form's double-submit token is refused.
        refused = client.post("/signin", data={"alias": "ana", "key": racers.keys["ana"], "csrf": "forged"})
        assert refused.status_code == 403
        client.cookies.set("omr_form", form_token)
        wrong = client.post("/signin", data={"alias": "ana", "key": "omr_nope", "csrf": form_token})
        assert wrong.status_code == 401 and "alias or API key is wrong" in wrong.text
        client.cookies.set("omr_form", form_token)
        ok = client.post("/signin", data={"alias": "ana", "key": racers.keys["ana"], "csrf": form_token})
        assert ok.status_code == 303
        set_cookie = ok.headers["set-cookie"].lower()
        assert "omr_session=" in set_cookie and "httponly" in set_cookie and "samesite=strict" in set_cookie
        files = {"model": ("m.tar.gz", tar_gz(model_files()), "application/gzip")}
        forged = client.post("/races/sprint/submit", files=files, data={"csrf": "forged"})
        assert forged.status_code == 403 and "did not come from this site" in forged.text
        assert league.submissions("sprint", racer=racers.ana) == []
        page = client.get("/races/sprint")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        posted = client.post("/races/sprint/submit", files=files, data={"csrf": csrf})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/races/sprint?submitted=")
        assert len(league.submissions("sprint", racer=racers.ana)) == 1
        # The cookie does not stand in for a key on the JSON API's POSTs.
        assert client.post("/api/races/sprint/submissions", content=tar_gz(model_files())).status_code == 401


# --- the CLI --------------------------------------------------------------------------------------


def test_cli_racers_races_submit_work_leaderboard(openmaker_home, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from openmaker.racer.league import cli
    from openmaker.racer.league import queue as queue_module

    runner = CliRunner()
    added = runner.invoke(cli.league_app, ["racer", "add", "ana"])
    assert added.exit_code == 0, added.output
    key = added.output.split("key: ", 1)[1].split()[0]
    opens, closes = window()
    bad = runner.invoke(cli.league_app, ["race", "create", "r", "--track", TRACK, "--opens", opens.isoformat(), "--closes", closes.isoformat(), "--timing", "FAST"])
    assert bad.exit_code == 2 and "error: timing method 'FAST'" in bad.output
    made = runner.invoke(
        cli.league_app,
        ["race", "create", "r", "--track", TRACK, "--opens", opens.isoformat(), "--closes", closes.isoformat(), "--timing", "AVG_LAP_TIME", "--laps", "2"],
    )
    assert made.exit_code == 0, made.output
    model = fake_model(tmp_path, laps=(10.0, 12.0))
    wrong = runner.invoke(cli.league_app, ["submit", "r", str(model), "--racer", "ana", "--key", "omr_wrong"])
    assert wrong.exit_code == 2 and "alias or API key is wrong" in wrong.output
    monkeypatch.setenv("OPENMAKER_RACER_KEY", key)
    sub = runner.invoke(cli.league_app, ["submit", "r", str(model), "--racer", "ana"])
    assert sub.exit_code == 0 and "submission 1 to race r: queued" in sub.output
    monkeypatch.setattr(queue_module, "default_evaluator", fake_evaluator)
    worked = runner.invoke(cli.league_app, ["work", "--once"])
    assert worked.exit_code == 0 and "submission 1: done, 2 lap(s)" in worked.output
    board = json.loads(runner.invoke(cli.league_app, ["leaderboard", "r", "--json"]).output)
    assert board["rows"][0]["AvgLapTime"] == 11.0
    listing = runner.invoke(cli.league_app, ["submissions", "r", "--racer", "ana"])
    assert listing.exit_code == 0 and "done" in listing.output
    assert runner.invoke(cli.league_app, ["racer", "revoke", "ana"]).exit_code == 0
    revoked = runner.invoke(cli.league_app, ["submit", "r", str(model), "--racer", "ana"])
    assert revoked.exit_code == 2 and "revoked" in revoked.output
    assert runner.invoke(cli.league_app, ["season", "--json"]).exit_code == 0


def test_cli_submit_to_a_server(live, tmp_path):
    from typer.testing import CliRunner

    from openmaker.racer.league import cli

    racers = Racers(live.league, "ana")
    open_race(live.league)
    model = fake_model(tmp_path, laps=(9.0,))
    out = CliRunner().invoke(
        cli.league_app, ["submit", "sprint", str(model), "--racer", "ana", "--key", racers.keys["ana"], "--server", live.url, "--json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["files"] == ["model_config.json", "model_metadata.json", "policy.safetensors", "reward_function.py"]
    wait_for(lambda: live.league.leaderboard("sprint")["rows"], what="the leaderboard row")
