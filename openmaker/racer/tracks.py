"""DeepRacer tracks: the route files, their geometry, and fast vectorised queries.

A route file (``data/routes/<id>.npy``, from the AWS DeepRacer simapp, Apache-2.0) is an (N, 6) float64
array: centre x, y, inner border x, y, outer border x, y in metres, in the default driving direction.
Loop tracks repeat the first row as the last row. Consecutive duplicate points are removed at load (the
simapp's ``_sanitize_waypoints`` does the same), so every segment has a positive length.

Queries, all vectorised over numpy arrays:

- ``Track.project(x, y, hint=None)``: the nearest point of the centre line (arc length, distance, segment,
  side, local width). Without ``hint`` it is exact (every segment is tried, in chunks). With ``hint`` (each
  point's previous segment index, as a simulator has it) only a window of segments around the hint is tried
  (1 behind, 3 ahead; one step moves at most 0.27 m); a point whose best match lies at the window's edge (its
  projection could be outside the window), or farther from the centre than the widest part of the track, is
  redone exactly.
- ``Track.on_track(x, y)``: inside the road polygon (outer border, hole = inner border; for an open track the
  polygon outer + reversed inner), the polygon DeepRacer tests wheel centres against. A raster of the
  polygon at 1 cm a cell (coarser only for tracks over 30 M cells) is built once per track with Pillow; its
  cells within 2 cells of a border are marked "unsure" and points falling in them are tested exactly with
  shapely (``contains_xy``). The result therefore equals shapely's for every point; only the speed depends
  on the raster.
"""

from __future__ import annotations

import csv
import difflib
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from openmaker.racer.errors import RacerError

ROUTES_PACKAGE = "openmaker.racer.data"
RASTER_RES = 0.01  # metres per cell of the on-track raster
RASTER_MAX_CELLS = 30_000_000
_UNSURE = 2


@dataclass(frozen=True)
class TrackInfo:
    """One route file as ``list_tracks`` reports it."""

    name: str  # the track id (file stem), what ``load_track`` takes
    official_name: str  # the console's name (data/tracks.csv), or the id when it has none
    length: float  # centre-line length, metres
    width: float  # median border-to-border width, metres
    points: int  # waypoints after removing duplicates (loops count the repeated first point)
    loop: bool


class Projection(NamedTuple):
    """Nearest centre-line points of query points (arrays of the query's shape)."""

    s: np.ndarray  # arc length of the projection, 0..length (metres)
    dist: np.ndarray  # distance from the point to the centre line
    seg: np.ndarray  # segment index i (between centre points i and i + 1), int64
    left: np.ndarray  # bool: left of the centre line in the driving direction
    width: np.ndarray  # border-to-border width interpolated at the projection
    t: np.ndarray  # position along the segment, 0..1
    px: np.ndarray  # projected point x
    py: np.ndarray  # projected point y


def _routes_dir():
    return resources.files(ROUTES_PACKAGE).joinpath("routes")


@lru_cache(maxsize=1)
def _official_names() -> dict[str, str]:
    names: dict[str, str] = {}
    text = resources.files(ROUTES_PACKAGE).joinpath("tracks.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        tid, name = (row.get("track_id") or "").strip(), (row.get("name") or "").strip()
        if tid and name:
            names[tid] = name
    # Direction variants of a listed track ("2022_april_open_ccw") carry its name and their direction.
    for tid in _track_ids():
        for suffix, direction in (("_ccw", "counter-clockwise"), ("_cw", "clockwise")):
            base = tid[: -len(suffix)]
            if tid.endswith(suffix) and tid not in names and base in names:
                names[tid] = f"{names[base]} ({direction})"
    return names


@lru_cache(maxsize=1)
def _track_ids() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-4] for p in _routes_dir().iterdir() if p.name.endswith(".npy")))


def sanitize_waypoints(w: np.ndarray) -> np.ndarray:
    """Drop rows whose centre point equals the previous row's (zero-length segments)."""
    if len(w) < 2:
        return w
    keep = np.ones(len(w), dtype=bool)
    keep[1:] = np.any(w[1:, :2] != w[:-1, :2], axis=1)
    return w[keep]


def _read_route(source, label: str) -> np.ndarray:
    try:
        with source.open("rb") as fh:
            w = np.load(fh, allow_pickle=False)
    except FileNotFoundError:
        raise RacerError(f"{label}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt file is bad input, not a crash
        raise RacerError(f"{label}: not a readable .npy route file ({exc})") from None
    if w.ndim != 2 or w.shape[1] != 6 or w.shape[0] < 2:
        raise RacerError(f"{label}: expected an (N, 6) array of centre, inner and outer x, y; got shape {w.shape}")
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise RacerError(f"{label}: contains NaN or infinite coordinates")
    w = sanitize_waypoints(w)
    if len(w) < 3:
        raise RacerError(f"{label}: fewer than 3 distinct centre points")
    return w


class Track:
    """A DeepRacer track in one driving direction. Arrays are read-only; share a Track freely."""

    def __init__(self, waypoints: np.ndarray, name: str, official_name: str | None = None, *, reverse: bool = False):
        w = np.array(waypoints, dtype=np.float64, copy=True)
        self.name = name
        self.official_name = official_name or name
        self.reverse = reverse  # True when this is the route run backwards (Track.reversed())
        w.flags.writeable = False
        self.waypoints = w
        self.center = w[:, 0:2]
        self.inner = w[:, 2:4]
        self.outer = w[:, 4:6]
        self.is_loop = bool(np.all(w[0] == w[-1]))
        d = np.diff(self.center, axis=0)
        seg_len = np.hypot(d[:, 0], d[:, 1])
        self.cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        self.length = float(self.cum[-1])
        self.width = np.hypot(*(self.outer - self.inner).T)
        # segment arrays (S = N - 1)
        self.seg_x0 = self.center[:-1, 0].copy()
        self.seg_y0 = self.center[:-1, 1].copy()
        self.seg_dx = d[:, 0].copy()
        self.seg_dy = d[:, 1].copy()
        self.seg_len = seg_len
        self.seg_inv_len2 = 1.0 / (seg_len * seg_len)
        self.seg_heading = np.arctan2(d[:, 1], d[:, 0])
        self.n_seg = len(seg_len)
        # hint window: 1 segment behind, 3 ahead (a step is at most 0.27 m; points whose best match is at the
        # window's edge are redone exactly, which measured at < 0.2 % of car-steps with random driving)
        self._ahead = 3
        self._behind = 1
        self._max_width = float(self.width.max())
        for a in (self.cum, self.width, self.seg_x0, self.seg_y0, self.seg_dx, self.seg_dy,
                  self.seg_len, self.seg_inv_len2, self.seg_heading):
            a.flags.writeable = False
        self._window_table = None
        self._polygon = None
        self._raster = None  # (grid uint8 (H, W), x0, y0, inv_res)

    def __repr__(self) -> str:
        return (f"Track({self.name!r}, official_name={self.official_name!r}, length={self.length:.3f}, "
                f"points={len(self.waypoints)}, loop={self.is_loop}, reverse={self.reverse})")

    # ------------------------------------------------------------------ derived tracks
    def reversed(self) -> Track:
        """The same road driven the other way: centre points in reverse order (a loop keeps its start point).
        Cached: the same object each time."""
        t = getattr(self, "_reversed", None)
        if t is None:
            t = Track(self.waypoints[::-1], self.name, self.official_name, reverse=not self.reverse)
            t._polygon, t._raster = self._polygon, self._raster  # same road polygon
            t._parent = self
            t._reversed = self
            self._reversed = t
        return t

    # ------------------------------------------------------------------ projection
    def _finish(self, x, y, seg, t) -> Projection:
        px = self.seg_x0[seg] + t * self.seg_dx[seg]
        py = self.seg_y0[seg] + t * self.seg_dy[seg]
        ex, ey = x - px, y - py
        dist = np.hypot(ex, ey)
        left = (self.seg_dx[seg] * ey - self.seg_dy[seg] * ex) > 0.0
        s = self.cum[seg] + t * self.seg_len[seg]
        width = self.width[seg] + t * (self.width[seg + 1] - self.width[seg])
        return Projection(s, dist, seg, left, width, t, px, py)

    def _exact_seg(self, x: np.ndarray, y: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        seg = np.empty(x.shape, dtype=np.int64)
        t = np.empty(x.shape, dtype=np.float64)
        for i in range(0, len(x), chunk):
            xs, ys = x[i:i + chunk, None], y[i:i + chunk, None]
            rx, ry = xs - self.seg_x0, ys - self.seg_y0
            tt = np.clip((rx * self.seg_dx + ry * self.seg_dy) * self.seg_inv_len2, 0.0, 1.0)
            ex, ey = rx - tt * self.seg_dx, ry - tt * self.seg_dy
            d2 = ex * ex + ey * ey
            k = np.argmin(d2, axis=1)
            seg[i:i + chunk] = k
            t[i:i + chunk] = tt[np.arange(len(k)), k]
        return seg, t

    def project(self, x, y, hint=None) -> Projection:
        """Nearest centre-line point of each (x, y). ``hint``: each point's previous segment (local search)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        shape = x.shape if x.shape == y.shape else np.broadcast_shapes(x.shape, y.shape)
        if x.ndim != 1 or x.shape != shape:
            x = np.broadcast_to(x, shape).ravel()
        if y.ndim != 1 or y.shape != shape:
            y = np.broadcast_to(y, shape).ravel()
        if hint is None:
            seg, t = self._exact_seg(x, y)
        else:
            hint = np.asarray(hint, dtype=np.int64)
            if hint.shape != x.shape:
                hint = np.broadcast_to(hint, shape).ravel()
            seg, t = self._local_seg(x, y, hint)
        p = self._finish(x, y, seg, t)
        if shape != x.shape:
            p = Projection(*(a.reshape(shape) for a in p))
        return p

    def _local_table(self) -> np.ndarray:
        """(5, S + behind + ahead): x0, y0, dx, dy, 1/len^2 of segment ``j - behind`` (wrapped for loops, clamped
        for open tracks) in column j, so a window is ``hint + arange(W)`` without a modulo."""
        if self._window_table is None:
            j = np.arange(self.n_seg + self._behind + self._ahead) - self._behind
            j = j % self.n_seg if self.is_loop else np.clip(j, 0, self.n_seg - 1)
            self._window_table = np.stack([self.seg_x0[j], self.seg_y0[j], self.seg_dx[j], self.seg_dy[j],
                                           self.seg_inv_len2[j]])
        return self._window_table

    def _local_seg(self, x, y, hint) -> tuple[np.ndarray, np.ndarray]:
        width = self._behind + self._ahead + 1
        tab = self._local_table()
        j = hint[:, None] + np.arange(width, dtype=np.int64)
        rx = x[:, None] - tab[0].take(j)
        ry = y[:, None] - tab[1].take(j)
        dx, dy = tab[2].take(j), tab[3].take(j)
        tt = (rx * dx + ry * dy) * tab[4].take(j)
        np.clip(tt, 0.0, 1.0, out=tt)
        rx -= tt * dx
        ry -= tt * dy
        rx *= rx
        ry *= ry
        rx += ry  # squared distances
        k = np.argmin(rx, axis=1)
        rows = np.arange(len(k))
        d2 = rx[rows, k]
        seg = hint + (k - self._behind)
        if self.is_loop:
            seg %= self.n_seg
        else:
            np.clip(seg, 0, self.n_seg - 1, out=seg)
        # t again in float64 for the chosen segment
        t = ((x - self.seg_x0[seg]) * self.seg_dx[seg] + (y - self.seg_y0[seg]) * self.seg_dy[seg]) \
            * self.seg_inv_len2[seg]
        np.clip(t, 0.0, 1.0, out=t)
        last = width - 1
        redo = ((k == 0) & (t <= 0.0)) | ((k == last) & (t >= 1.0)) | (d2 > self._max_width ** 2)
        if not self.is_loop:
            redo &= ~(((k == 0) & (seg == 0)) | ((k == last) & (seg == self.n_seg - 1)))
        if redo.any():
            r = np.flatnonzero(redo)
            seg[r], t[r] = self._exact_seg(x[r], y[r])
        return seg, t

    # ------------------------------------------------------------------ points along the centre line
    def point_at(self, s):
        """Centre-line (x, y, heading_rad) at arc length ``s`` (wrapped for loops, clamped for open tracks)."""
        s = np.asarray(s, dtype=np.float64)
        s = np.mod(s, self.length) if self.is_loop else np.clip(s, 0.0, self.length)
        seg = np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, self.n_seg - 1)
        t = (s - self.cum[seg]) / self.seg_len[seg]
        x = self.seg_x0[seg] + t * self.seg_dx[seg]
        y = self.seg_y0[seg] + t * self.seg_dy[seg]
        return x, y, self.seg_heading[seg]

    def closest_waypoints(self, s) -> tuple[np.ndarray, np.ndarray]:
        """[previous, next] waypoint indices at arc length ``s``, as the simapp's ``find_prev_next`` (wraps)."""
        nxt = np.searchsorted(self.cum, np.asarray(s, dtype=np.float64), side="right")
        prev = nxt - 1
        n = len(self.cum)
        prev = np.where(prev < 0, n - 1, prev)
        nxt = np.where(nxt >= n, 0, nxt)
        return prev, nxt

    # ------------------------------------------------------------------ on track
    @property
    def polygon(self):
        """The road polygon as shapely builds it in the simapp (outer border with the inner border as a hole)."""
        if self._polygon is None:
            from shapely.geometry import Polygon
            import shapely

            if self.is_loop:
                poly = Polygon(self.outer, [self.inner])
            else:
                poly = Polygon(np.vstack([self.outer, self.inner[::-1]]))
            shapely.prepare(poly)
            self._polygon = poly
        return self._polygon

    def _get_raster(self):
        if self._raster is None:
            from PIL import Image, ImageDraw

            pts = np.vstack([self.inner, self.outer])
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            res = RASTER_RES
            area = float(np.prod(hi - lo + 0.2))
            if area / res ** 2 > RASTER_MAX_CELLS:
                res = math.sqrt(area / RASTER_MAX_CELLS)
            margin = max(0.1, 6 * res)  # edge cells stay clear of the unsure band around the borders
            lo, hi = lo - margin, hi + margin
            w, h = (np.ceil((hi - lo) / res).astype(int) + 1).tolist()
            img = Image.new("L", (w, h), 0)
            draw = ImageDraw.Draw(img)

            def px(a):  # PIL puts integer coordinates at cell centres; cell (i, j) covers [i, i+1) * res + lo
                q = (a - lo) / res - 0.5
                return [tuple(p) for p in q.tolist()]

            if self.is_loop:
                draw.polygon(px(self.outer), fill=1)
                draw.polygon(px(self.inner), fill=0)
                rings = [self.outer, self.inner]
            else:
                ring = np.vstack([self.outer, self.inner[::-1], self.outer[:1]])
                draw.polygon(px(ring[:-1]), fill=1)
                rings = [ring]
            for r in rings:  # every cell within ~2 cells of a border: unsure, decided exactly
                draw.line(px(r), fill=_UNSURE, width=5, joint="curve")
            grid = np.asarray(img, dtype=np.uint8).copy()
            grid.flags.writeable = False
            self._raster = (grid, float(lo[0]), float(lo[1]), 1.0 / res)
            parent = getattr(self, "_parent", None)
            if parent is not None and parent._raster is None:
                parent._raster = self._raster
        return self._raster

    def on_track(self, x, y) -> np.ndarray:
        """Bool array: is each point inside the road polygon? Equals shapely's ``contains_xy`` for every point."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        shape = x.shape if x.shape == y.shape else np.broadcast_shapes(x.shape, y.shape)
        xf = np.broadcast_to(x, shape).ravel() if x.shape != shape else x.ravel()
        yf = np.broadcast_to(y, shape).ravel() if y.shape != shape else y.ravel()
        grid, x0, y0, inv = self._get_raster()
        h, w = grid.shape
        # points beyond the raster land on its edge cells, which are off the road (the raster has a margin)
        u = (xf - x0) * inv
        v = (yf - y0) * inv
        np.clip(u, 0.0, w - 1.0, out=u)
        np.clip(v, 0.0, h - 1.0, out=v)
        flat = v.astype(np.int32)
        flat *= w
        flat += u.astype(np.int32)
        cls = grid.ravel().take(flat)
        out = cls == 1
        unsure = np.flatnonzero(cls == _UNSURE)
        if unsure.size:
            import shapely

            out[unsure] = shapely.contains_xy(self.polygon, xf[unsure], yf[unsure])
        return out.reshape(shape)

    # ------------------------------------------------------------------ picture
    def plot(self, path, *, title=None, lines=None) -> Path:
        """PNG of the track: road, borders, centre line, start line and driving direction.

        ``lines``: optional extra polylines, a dict ``label -> (M, 2) array`` or a list of ``(label, array)``.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Polygon as MplPolygon

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
        try:
            ax.add_patch(MplPolygon(np.vstack([self.outer, self.inner[::-1]]) if not self.is_loop else self.outer,
                                    closed=True, facecolor="#b8b8b8", edgecolor="none", zorder=0))
            if self.is_loop:
                ax.add_patch(MplPolygon(self.inner, closed=True, facecolor="white", edgecolor="none", zorder=1))
            ax.plot(*self.outer.T, color="black", lw=1.2, zorder=2)
            ax.plot(*self.inner.T, color="black", lw=1.2, zorder=2)
            ax.plot(*self.center.T, color="#f0a000", lw=1.0, ls="--", zorder=3, label="centre line")
            ax.plot([self.inner[0, 0], self.outer[0, 0]], [self.inner[0, 1], self.outer[0, 1]],
                    color="red", lw=2.5, zorder=4, label="start")
            x0, y0, hd = self.point_at(0.0)
            arrow = min(0.6, 0.08 * self.length)
            ax.annotate("", xy=(float(x0) + arrow * math.cos(float(hd)), float(y0) + arrow * math.sin(float(hd))),
                        xytext=(float(x0), float(y0)), zorder=5,
                        arrowprops=dict(arrowstyle="->", color="red", lw=2))
            items = lines.items() if isinstance(lines, dict) else (lines or [])
            for label, xy in items:
                xy = np.asarray(xy, dtype=float)
                ax.plot(xy[:, 0], xy[:, 1], lw=1.5, zorder=6, label=str(label))
            ax.set_aspect("equal")
            ax.set_xlabel("x (m)")
            ax.set_ylabel("y (m)")
            ax.set_title(title or f"{self.official_name} ({self.name}): {self.length:.2f} m"
                         + (", reversed" if self.reverse else ""))
            ax.legend(loc="best", fontsize=8)
            fig.tight_layout()
            fig.savefig(path)
        finally:
            plt.close(fig)
        return path


# ---------------------------------------------------------------------- loading
@lru_cache(maxsize=64)
def _load_builtin(track_id: str) -> Track:
    w = _read_route(_routes_dir().joinpath(f"{track_id}.npy"), f"{track_id}.npy")
    return Track(w, track_id, _official_names().get(track_id, track_id))


def load_track(name_or_path) -> Track:
    """A built-in track by id (file stem, e.g. ``reinvent_base``) or an ``.npy`` route file by path.

    Built-in tracks are cached: the same Track object comes back for the same id.
    """
    key = str(name_or_path).strip()
    if key in _track_ids():
        return _load_builtin(key)
    p = Path(key).expanduser()
    if key.endswith(".npy") or p.is_file() or "/" in key or "\\" in key:
        w = _read_route(p, str(p))
        stem = p.stem
        return Track(w, stem, _official_names().get(stem, stem))
    # a case-insensitive id or an official name
    lower = {t.lower(): t for t in _track_ids()}
    if key.lower() in lower:
        return _load_builtin(lower[key.lower()])
    by_official = {v.lower(): k for k, v in _official_names().items() if k in _track_ids()}
    if key.lower() in by_official:
        return _load_builtin(by_official[key.lower()])
    close = difflib.get_close_matches(key, _track_ids(), n=5, cutoff=0.5)
    close += [by_official[c] for c in difflib.get_close_matches(key.lower(), list(by_official), n=3, cutoff=0.6)
              if by_official[c] not in close]
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise RacerError(f"unknown track {key!r}{hint} (`openmaker race tracks` lists all {len(_track_ids())})")


@lru_cache(maxsize=1)
def _list_tracks() -> tuple[TrackInfo, ...]:
    out = []
    for tid in _track_ids():
        w = _read_route(_routes_dir().joinpath(f"{tid}.npy"), f"{tid}.npy")
        c = w[:, :2]
        length = float(np.hypot(*np.diff(c, axis=0).T).sum())
        width = float(np.median(np.hypot(*(w[:, 4:6] - w[:, 2:4]).T)))
        out.append(TrackInfo(tid, _official_names().get(tid, tid), length, width, len(w), bool(np.all(w[0] == w[-1]))))
    return tuple(out)


def list_tracks() -> list[TrackInfo]:
    """Every route file in ``data/routes``, sorted by id."""
    return list(_list_tracks())
