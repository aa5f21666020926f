"""Frame sources for the edge loop: a folder of images, a video file or a camera, as RGB uint8 arrays.

Each source is an iterator of ``(index, name, frame)``; opening checks the source at once, so a
missing folder or a camera that does not open fails before the loop starts. Video files and
cameras need OpenCV (``opencv-python-headless``); folders need only Pillow. Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["IMAGE_SUFFIXES", "Frame", "camera_frames", "directory_frames", "image_files", "open_source", "video_frames"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
Frame = tuple[int, str, np.ndarray]


def image_files(directory: Path, *, recursive: bool = False) -> list[Path]:
    """The images (by suffix, any case) in ``directory``, sorted by path."""
    found = directory.rglob("*") if recursive else directory.iterdir()
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_rgb(path: Path) -> np.ndarray:
    """An image file as an RGB uint8 array (H, W, 3); ValueError naming the file when it is not an image."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from None


def directory_frames(directory: Path) -> Iterator[Frame]:
    """The images of ``directory`` in sorted order, named by file name."""
    files = image_files(Path(directory))
    if not files:
        raise ValueError(f"{directory}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return ((i, path.name, read_rgb(path)) for i, path in enumerate(files))


def _cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError("reading video files and cameras needs OpenCV: install opencv-python-headless") from None
    return cv2


def _capture_frames(capture, name: str) -> Iterator[Frame]:
    cv2 = _cv2()
    try:
        index = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield index, name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


def _open_capture(target: str | int):
    """An opened ``cv2.VideoCapture`` of a file or camera index, or None (OpenCV's own warnings silenced)."""
    cv2 = _cv2()
    quiet = cv2.utils.logging
    level = quiet.getLogLevel()
    quiet.setLogLevel(quiet.LOG_LEVEL_ERROR)  # OpenCV warns on stderr for every backend that fails to open
    try:
        capture = cv2.VideoCapture(target)
    finally:
        quiet.setLogLevel(level)
    if capture.isOpened():
        return capture
    capture.release()
    return None


def video_frames(path: Path) -> Iterator[Frame]:
    """The frames of a video file, each named by the file name."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such video file")
    capture = _open_capture(str(path))
    if capture is None:
        raise ValueError(f"{path}: OpenCV cannot read this file as a video")
    return _capture_frames(capture, path.name)


def camera_frames(index: int) -> Iterator[Frame]:
    """Frames from camera ``index`` (``/dev/video<index>`` on Linux) until it stops delivering."""
    capture = _open_capture(int(index))
    if capture is None:
        raise ValueError(f"camera {index} does not open (is a camera attached at that index?)")
    return _capture_frames(capture, f"camera:{index}")


def open_source(source: str | Path) -> Iterator[Frame]:
    """A folder of images, one image, a video file, or a camera index given as digits ("0")."""
    text = str(source)
    if text.isdigit() and not Path(text).exists():
        return camera_frames(int(text))
    path = Path(source)
    if path.is_dir():
        return directory_frames(path)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return iter([(0, path.name, read_rgb(path))])
    if path.is_file():
        return video_frames(path)
    raise ValueError(f"{source}: unknown source: not a folder of images, a video file or a camera index")
