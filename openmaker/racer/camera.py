"""First-person greyscale camera: 160x120 uint8, horizontal FOV 1.13 rad, like DeepRacer's (resized, grey) image.

How it renders: the ground is flat, so every pixel below the horizon sees one fixed ground point in the car's
frame. Those offsets are computed once (pinhole camera ``CAM_HEIGHT`` above the ground, ``CAM_FORWARD`` ahead of
base_link, pitched down ``CAM_PITCH``). A top-down raster of the track (``RASTER_RES`` metres a cell: off-track
ground, grey road, white border tape, a dashed centre line) is drawn once per track with Pillow. A frame is
then one rotate + translate of the offsets per car and a gather from the raster (nearest cell), in torch, 16
frames at a time so the temporaries stay in cache, on ``THREADS`` torch threads (1 by default, set for the
call and restored after; ``None`` keeps torch's setting): the work is memory-bound, and with 2 threads on a
busy 2-core machine every chunk's barrier waited on a descheduled thread, 20-40x slower (docs/benchmarks.md).
Rows that look above the horizon are ``SKY``; ground farther than ``MAX_DIST`` is ``FAR``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openmaker.racer.tracks import Track

WIDTH, HEIGHT = 160, 120
FOV = 1.13  # horizontal field of view, radians
CAM_HEIGHT = 0.10  # metres above the ground
CAM_FORWARD = 0.10  # metres ahead of base_link
CAM_PITCH = 0.20  # radians, looking down
MAX_DIST = 6.0  # ground farther than this (along the view) is drawn FAR
RASTER_RES = 0.01  # metres per raster cell
RASTER_MARGIN = 1.0  # metres of off-track ground around the track in the raster

THREADS: int | None = 1  # torch threads while rendering (None: leave torch's setting alone)

SKY, FAR, GROUND, ROAD, TAPE, CENTRE = 200, 90, 60, 125, 240, 190
TAPE_WIDTH = 0.05  # border tape (2 in)
CENTRE_WIDTH = 0.025
CENTRE_DASH = 0.10  # dash and gap length of the centre line


@dataclass(frozen=True)
class _Rays:
    first_row: int  # rows >= first_row see the ground within MAX_DIST
    horizon_row: int  # rows < horizon_row see the sky
    gx: np.ndarray  # (P,) forward ground offsets of the pixels first_row.., metres in the car frame
    gy: np.ndarray  # (P,) left ground offsets


def _rays() -> _Rays:
    f = (WIDTH / 2) / math.tan(FOV / 2)
    rows = np.arange(HEIGHT) + 0.5 - HEIGHT / 2
    cols = np.arange(WIDTH) + 0.5 - WIDTH / 2
    zu = -rows / f  # up component of each row's ray (camera frame)
    yl = -cols / f  # left component of each column's ray
    sp, cp = math.sin(CAM_PITCH), math.cos(CAM_PITCH)
    down = sp - zu * cp  # downward component of the ray in the world
    fwd = cp + zu * sp  # forward component
    hits = down > 1e-9
    t = np.where(hits, CAM_HEIGHT / np.where(hits, down, 1.0), np.inf)
    dist = t * np.sqrt(fwd ** 2 + down ** 2)
    ground = hits & (dist <= MAX_DIST)
    first = int(np.argmax(ground)) if ground.any() else HEIGHT
    horizon = int(np.argmax(hits)) if hits.any() else HEIGHT
    tr = t[first:, None]
    gx = CAM_FORWARD + tr * fwd[first:, None] + 0.0 * yl[None, :]
    gy = tr * yl[None, :]
    return _Rays(first, horizon, gx.ravel(), gy.ravel())


RAYS = _rays()


@dataclass
class _Raster:
    grid: np.ndarray  # (H, W) uint8, row = y index, col = x index
    x0: float
    y0: float
    inv: float


def track_raster(track: Track) -> _Raster:
    """The top-down picture of a track the camera samples (built once per track, shared with its reverse)."""
    r = getattr(track, "_camera_raster", None)
    if r is not None:
        return r
    parent = getattr(track, "_parent", None)
    if parent is not None and getattr(parent, "_camera_raster", None) is not None:
        track._camera_raster = parent._camera_raster
        return track._camera_raster
    from PIL import Image, ImageDraw

    pts = np.vstack([track.inner, track.outer])
    lo = pts.min(axis=0) - RASTER_MARGIN
    hi = pts.max(axis=0) + RASTER_MARGIN
    res = RASTER_RES
    cells = float(np.prod(hi - lo)) / res ** 2
    if cells > 16_000_000:  # keep flat indices exact in float32 (< 2^24)
        res *= math.sqrt(cells / 16_000_000)
    w, h = (np.ceil((hi - lo) / res).astype(int) + 1).tolist()
    img = Image.new("L", (w, h), GROUND)
    draw = ImageDraw.Draw(img)

    def px(a):
        return [tuple(p) for p in ((np.asarray(a) - lo) / res - 0.5).tolist()]

    if track.is_loop:
        draw.polygon(px(track.outer), fill=ROAD)
        draw.polygon(px(track.inner), fill=GROUND)
    else:
        draw.polygon(px(np.vstack([track.outer, track.inner[::-1]])), fill=ROAD)
    # dashed centre line
    s = np.arange(0.0, track.length, CENTRE_DASH / 4)
    cx, cy, _ = track.point_at(s)
    on = (np.floor(s / CENTRE_DASH).astype(int) % 2) == 0
    cw = max(1, round(CENTRE_WIDTH / res))
    start = None
    for k in range(len(s) + 1):
        if k < len(s) and on[k]:
            start = k if start is None else start
        elif start is not None:
            seg = np.stack([cx[start:k + 1], cy[start:k + 1]], axis=1) if k < len(s) else np.stack(
                [cx[start:k], cy[start:k]], axis=1)
            if len(seg) >= 2:
                draw.line(px(seg), fill=CENTRE, width=cw)
            start = None
    tw = max(1, round(TAPE_WIDTH / res))
    for ring in (track.outer, track.inner):
        draw.line(px(ring), fill=TAPE, width=tw, joint="curve")
    grid = np.asarray(img, dtype=np.uint8).copy()
    # a one-cell FAR frame: indices clipped to the raster land on it outside the mapped area
    grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = GROUND
    raster = _Raster(grid, float(lo[0]), float(lo[1]), 1.0 / res)
    track._camera_raster = raster
    if parent is not None:
        parent._camera_raster = raster
    return raster


class _TorchRenderer:
    """Per-track tensors. A batch is rendered ``CHUNK`` frames at a time so that the float temporaries stay in
    the CPU cache: per chunk, 2 fused multiply-adds per coordinate, clamps, one index and one gather."""

    CHUNK = 16

    def __init__(self, raster: _Raster):
        import torch

        self.torch = torch
        self.h, self.w = raster.grid.shape
        self.grid = torch.from_numpy(np.ascontiguousarray(raster.grid).ravel())
        self.gx = torch.from_numpy((RAYS.gx * raster.inv).astype(np.float32))[None, :]
        self.gy = torch.from_numpy((RAYS.gy * raster.inv).astype(np.float32))[None, :]
        self.raster = raster

    def render(self, x, y, yaw) -> np.ndarray:
        torch = self.torch
        r = self.raster
        n = len(x)
        ax = torch.from_numpy(((np.asarray(x) - r.x0) * r.inv).astype(np.float32))[:, None]
        ay = torch.from_numpy(((np.asarray(y) - r.y0) * r.inv).astype(np.float32))[:, None]
        c = torch.from_numpy(np.cos(yaw).astype(np.float32))[:, None]
        s = torch.from_numpy(np.sin(yaw).astype(np.float32))[:, None]
        ground = torch.empty((n, self.gx.shape[1]), dtype=torch.uint8)
        w1, h1 = float(self.w - 1), float(self.h - 1)
        prev = torch.get_num_threads()
        if THREADS and THREADS != prev:
            torch.set_num_threads(THREADS)
        try:
            self._gather(ax, ay, c, s, ground, w1, h1)
        finally:
            if THREADS and THREADS != prev:
                torch.set_num_threads(prev)
        out = np.empty((n, HEIGHT * WIDTH), dtype=np.uint8)
        out[:, :RAYS.horizon_row * WIDTH] = SKY
        out[:, RAYS.horizon_row * WIDTH:RAYS.first_row * WIDTH] = FAR
        out[:, RAYS.first_row * WIDTH:] = ground.numpy()
        return out.reshape(n, HEIGHT, WIDTH)

    def _gather(self, ax, ay, c, s, ground, w1, h1) -> None:
        torch = self.torch
        n = ground.shape[0]
        with torch.inference_mode():
            for i in range(0, n, self.CHUNK):
                sl = slice(i, i + self.CHUNK)
                ix = torch.addcmul(torch.addcmul(ax[sl], self.gx, c[sl]), self.gy, s[sl], value=-1.0)
                iy = torch.addcmul(torch.addcmul(ay[sl], self.gx, s[sl]), self.gy, c[sl])
                ix.clamp_(0.0, w1)
                iy.clamp_(0.0, h1).floor_()
                # row * width + column; the conversion truncates the column's fraction (exact below 2^24 cells)
                flat = torch.add(ix, iy, alpha=self.w).to(torch.int64)
                torch.index_select(self.grid, 0, flat.view(-1), out=ground[sl].view(-1))


def _renderer(track: Track) -> _TorchRenderer:
    r = getattr(track, "_camera_renderer", None)
    if r is None:
        r = _TorchRenderer(track_raster(track))
        track._camera_renderer = r
    return r


def render_poses(track: Track, x, y, yaw) -> np.ndarray:
    """(n, 120, 160) uint8 camera images for cars with base_link at (x, y) and yaw (arrays of shape (n,))."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    yaw = np.atleast_1d(np.asarray(yaw, dtype=np.float64))
    return _renderer(track).render(x, y, yaw)


def render(sim) -> np.ndarray:
    """The camera image of every car of a ``RaceSim``: (n, 120, 160) uint8."""
    return render_poses(sim.track, sim.x, sim.y, sim.yaw)
