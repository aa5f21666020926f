"""The evaluation queue: a worker that races queued submissions on the server, oldest first.

``openmaker race league work`` runs one in the foreground; ``openmaker race league serve`` runs one in a
thread beside the web app. Several workers (threads or processes) may share a database: each claim is a
conditional UPDATE, so a submission is raced once.

The evaluator is a callable ``evaluator(model_dir, track, *, laps, penalty, timing) -> dict`` returning
``openmaker race evaluate``'s JSON (``laps``: [{"time", "off_track"}], ``completed_laps``, ...). The default
loads the model (a corrupt one fails with the loader's message) and runs :func:`openmaker.racer.evaluate.evaluate`.
A submission whose evaluation raises is marked ``failed`` with the reason; it never reaches a leaderboard.
Evaluation runs in the worker's process: a model directory holds JSON and safetensors only (no pickle), and
the reward function that came with it is stored, never run.
"""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from openmaker.racer.errors import RacerError
from openmaker.racer.league.api import League

log = logging.getLogger("openmaker.racer.league")

Evaluator = Callable[..., dict]

#: The league's timing methods as ``evaluate(timing=...)`` names them.
EVALUATE_TIMING = {"TOTAL_TIME": "total", "AVG_LAP_TIME": "average", "BEST_LAP_TIME": "best"}


def default_evaluator(model_dir: Path, track: str, *, laps: int, penalty: float, timing: str) -> dict:
    """Race the model in ``model_dir`` on ``track`` with :func:`openmaker.racer.evaluate.evaluate`."""
    from openmaker.racer.evaluate import evaluate
    from openmaker.racer.model import load_model

    model = load_model(model_dir)  # a corrupt or incomplete model fails here, with the loader's message
    return evaluate(model, track, laps=laps, penalty=penalty, timing=EVALUATE_TIMING.get(timing, "total"))


class LeagueWorker:
    """Consumes the queue of ``league``: claim the oldest queued submission, race it, record the outcome."""

    def __init__(self, league: League, evaluator: Evaluator | None = None, *, poll: float = 1.0):
        self.league = league
        self.evaluator = evaluator or default_evaluator
        self.poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> dict | None:
        """Race the next queued submission; returns ``{"id", "status", "reason", ...}`` or None when the queue is empty."""
        job = self.league.claim_next()
        if job is None:
            return None
        race = job["race"]
        try:
            result = self.evaluator(
                job["dir"], race["track"], laps=race["laps"], penalty=race["penalty"], timing=race["timing"]
            )
            return self.league.record_result(job["id"], result)
        except RacerError as exc:  # a corrupt model, a malformed model_metadata.json, bad lap data
            reason = _one_line(exc)
        except Exception as exc:  # the evaluator broke: say so, keep the worker alive
            log.warning("submission %s: evaluation raised\n%s", job["id"], traceback.format_exc())
            reason = f"the evaluation failed: {type(exc).__name__}: {_one_line(exc)}"
        self.league.record_failure(job["id"], reason)
        return {"id": job["id"], "status": "failed", "reason": reason}

    def run(self, *, once: bool = False, on_done: Callable[[dict], Any] | None = None) -> int:
        """Work until :meth:`stop` (or, with ``once``, until the queue is empty); returns how many were raced."""
        self.league.requeue_stale(timedelta(hours=1))
        count = 0
        while not self._stop.is_set():
            try:
                outcome = self.run_once()
            except Exception:  # the database went away: wait and try again
                log.exception("league worker: could not take the next submission")
                outcome = None
                if once:
                    raise
            if outcome is not None:
                count += 1
                if on_done is not None:
                    on_done(outcome)
                continue
            if once:
                break
            self._wake.wait(self.poll)
            self._wake.clear()
        return count

    def wake(self) -> None:
        """Look at the queue now (a submission just came in)."""
        self._wake.set()

    def start(self) -> threading.Thread:
        """Run the worker in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="league-worker", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop after the submission being raced (if any)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    return " ".join(text.split()) or type(exc).__name__
