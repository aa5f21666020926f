"""What the array handlers (ONNX, TorchScript, scikit-learn) share.

A request becomes a *feed*: one numpy array per model input, decoded from a
CSV/JSON/NPY body (models with one input) or taken from Open Inference
Protocol tensors. Each array is cast to the input's dtype and checked against
its shape, so a wrong request gets a 400 that names what was expected.

``ArrayHandler.inference`` then batches for real: feeds whose arrays have the
same trailing shape are concatenated along axis 0 (when the model's first
dimension is dynamic), run once, and the outputs split back by row counts.
Subclasses only load the model and implement ``run(feed) -> outputs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from openmaker.serving import codecs
from openmaker.serving.errors import ArchiveError, BadRequest, NotAcceptable
from openmaker.serving.handlers.base import Context, Handler
from openmaker.serving.protocol import InferenceRequest, InferenceResponse

#: Open Inference Protocol datatype names by numpy dtype.
OIP_DATATYPES = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "UINT8",
    np.dtype(np.uint16): "UINT16",
    np.dtype(np.uint32): "UINT32",
    np.dtype(np.uint64): "UINT64",
    np.dtype(np.int8): "INT8",
    np.dtype(np.int16): "INT16",
    np.dtype(np.int32): "INT32",
    np.dtype(np.int64): "INT64",
    np.dtype(np.float16): "FP16",
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
    np.dtype(object): "BYTES",
}
_DTYPES_BY_OIP = {name: dtype for dtype, name in OIP_DATATYPES.items()}

Feed = dict[str, np.ndarray]


def oip_datatype(dtype: np.dtype) -> str:
    """``float32`` -> ``'FP32'``; strings and objects are ``'BYTES'``."""
    dtype = np.dtype(dtype)
    if dtype.kind in "USO":
        return "BYTES"
    return OIP_DATATYPES.get(dtype, "BYTES")


def numpy_dtype(datatype: str) -> np.dtype:
    """``'FP32'`` -> ``float32``; also accepts numpy names such as ``'float32'``."""
    if datatype.upper() in _DTYPES_BY_OIP:
        return _DTYPES_BY_OIP[datatype.upper()]
    try:
        return np.dtype(datatype)
    except TypeError as exc:
        raise ArchiveError(f"unknown datatype {datatype!r}; use an Open Inference Protocol name like FP32") from exc


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: name, dtype and shape (``None`` = dynamic dim).

    ``shape=None`` means the rank itself is unknown (TorchScript cannot tell);
    then nothing is checked and axis 0 is taken to be the batch axis.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int | None, ...] | None = None

    @property
    def batched(self) -> bool:
        """Whether requests can be stacked along axis 0 for this tensor."""
        return self.shape is None or (len(self.shape) > 0 and self.shape[0] is None)

    def shape_text(self) -> str:
        return "unknown" if self.shape is None else str([-1 if d is None else d for d in self.shape])

    def metadata(self) -> dict[str, Any]:
        """Open Inference Protocol ``tensor_metadata``; ``-1`` marks a dynamic dim."""
        shape = [-1] if self.shape is None else [-1 if d is None else d for d in self.shape]
        return {"name": self.name, "datatype": oip_datatype(self.dtype), "shape": shape}

    def conform(self, value: Any) -> np.ndarray:
        """Cast ``value`` to this tensor's dtype and check its shape, or raise ``BadRequest``.

        An array one rank short of an input whose first dim is dynamic (or 1) is
        one instance without the batch axis (a single CSV row, a flat JSON list)
        and gets that axis.
        """
        try:
            if self.dtype.kind == "O":
                array = np.asarray(value, dtype=object)
            else:
                array = np.asarray(value).astype(self.dtype, copy=False)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"input {self.name!r} expects {oip_datatype(self.dtype)} values: {exc}") from exc
        if self.shape is None:
            return array
        expected = self.shape
        leading_is_batch = len(expected) > 0 and expected[0] in (None, 1)
        if leading_is_batch and array.ndim == len(expected) - 1 and _dims_fit(array.shape, expected[1:]):
            array = array[np.newaxis, ...]
        if array.ndim != len(expected) or not _dims_fit(array.shape, expected):
            raise BadRequest(
                f"input {self.name!r} expects shape {self.shape_text()} (rank {len(expected)}), "
                f"got {list(array.shape)} (rank {array.ndim})"
            )
        return array


def _dims_fit(shape: Sequence[int], expected: Sequence[int | None]) -> bool:
    return len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))


def specs_from_manifest(entries: list[dict[str, Any]] | None) -> list[TensorSpec] | None:
    """Read ``[{"name", "datatype", "shape"}]`` (OIP style, ``-1`` = dynamic) from a manifest."""
    if not entries:
        return None
    specs = []
    for entry in entries:
        try:
            shape = entry.get("shape")
            specs.append(
                TensorSpec(
                    name=str(entry["name"]),
                    dtype=numpy_dtype(str(entry.get("datatype", "FP32"))),
                    shape=None if shape is None else tuple(None if int(d) < 0 else int(d) for d in shape),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(f"manifest tensor entry {entry!r} needs a name, a datatype and a shape: {exc}") from exc
    return specs


def find_model_file(context: Context, suffixes: tuple[str, ...]) -> Path:
    """The one artifact with one of ``suffixes`` in the model dir (or the manifest's ``serializedFile``)."""
    named = context.manifest.get("model", {}).get("serializedFile")
    if named:
        path = context.model_dir / named
        if path.is_file() and path.name.endswith(suffixes):
            return path
    found = sorted(p for p in context.model_dir.iterdir() if p.is_file() and p.name.endswith(suffixes))
    if not found:
        raise ArchiveError(f"model archive {context.model_name!r} holds no {' or '.join(suffixes)} file")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ArchiveError(f"model archive {context.model_name!r} holds several model files ({names}); "
                           "name one as model.serializedFile in the manifest")
    return found[0]


def check_accept(accept: str, supported: Sequence[str] = codecs.SUPPORTED) -> None:
    """Raise ``NotAcceptable`` up front, before the model runs, if no type in ``accept`` can be produced."""
    if not any(t in supported for t in codecs.parse_accept(accept)):
        raise NotAcceptable(f"cannot produce any type in Accept {accept!r}; supported: {', '.join(supported)}")


class ArrayHandler(Handler):
    """Base of handlers whose model maps named numpy arrays to named numpy arrays.

    Subclasses set ``self.inputs`` and ``self.outputs`` (lists of ``TensorSpec``)
    in ``initialize`` and implement ``run``. A body response carries one output:
    the manifest's ``model.output`` or else the first one.
    """

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def run(self, feed: Feed) -> dict[str, np.ndarray]:
        """Run the model once on a (possibly concatenated) feed."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    def metadata(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "inputs": [s.metadata() for s in self.inputs],
            "outputs": [s.metadata() for s in self.outputs],
        }

    @property
    def body_output(self) -> str | None:
        """Name of the output that body (non-OIP) responses carry."""
        named = self.context.manifest.get("model", {}).get("output")
        return named or (self.outputs[0].name if self.outputs else None)

    # -- stages -------------------------------------------------------------------------

    def preprocess(self, request: InferenceRequest) -> Feed:
        if request.tensors is not None:
            return self._feed_from_tensors(request.tensors)
        check_accept(request.accept)
        if len(self.inputs) != 1:
            names = ", ".join(s.name for s in self.inputs)
            raise BadRequest(f"the model has {len(self.inputs)} inputs ({names}); "
                             "send them as Open Inference Protocol tensors")
        # A missing Content-Type means JSON, as in the SageMaker containers.
        array = codecs.decode(request.body, request.content_type or codecs.JSON)
        spec = self.inputs[0]
        return {spec.name: spec.conform(array)}

    def _feed_from_tensors(self, tensors: dict[str, Any]) -> Feed:
        if len(self.inputs) == 1 and len(tensors) == 1:
            # Names of TorchScript and scikit-learn inputs are made up; don't make clients guess.
            (value,) = tensors.values()
            return {self.inputs[0].name: self.inputs[0].conform(value)}
        expected = {s.name for s in self.inputs}
        missing, unknown = expected - set(tensors), set(tensors) - expected
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(sorted(missing))}")
            if unknown:
                parts.append(f"unknown {', '.join(sorted(unknown))}")
            raise BadRequest(f"inputs do not match the model ({'; '.join(parts)}); "
                             f"model inputs: {', '.join(s.name for s in self.inputs)}")
        return {s.name: s.conform(tensors[s.name]) for s in self.inputs}

    def inference(self, feeds: list[Feed]) -> list[Any]:
        """Run stackable feeds together; a failure is returned (not raised) per feed."""
        results: list[Any] = [None] * len(feeds)
        groups: dict[Any, list[int]] = {}
        for i, feed in enumerate(feeds):
            groups.setdefault(self._batch_key(feed, i), []).append(i)
        for members in groups.values():
            if len(members) == 1:
                results[members[0]] = self._run_one(feeds[members[0]])
                continue
            try:
                outputs = self._run_stacked([feeds[i] for i in members])
            except Exception:
                # Run them one by one so the request at fault gets the error, not its neighbours.
                outputs = [self._run_one(feeds[i]) for i in members]
            for i, output in zip(members, outputs):
                results[i] = output
        return results

    def postprocess(self, output: Any, request: InferenceRequest) -> InferenceResponse:
        if isinstance(output, BaseException):
            raise output
        if request.tensors is not None:
            return InferenceResponse(tensors=output)
        name = self.body_output
        if name not in output:
            raise ArchiveError(f"manifest model.output {name!r} is not an output of the model ({', '.join(output)})")
        body, content_type = codecs.encode(output[name], request.accept)
        return InferenceResponse(body=body, content_type=content_type)

    # -- batching -----------------------------------------------------------------------

    def _batch_key(self, feed: Feed, position: int) -> Any:
        """Feeds with equal keys can be concatenated; a unique key keeps a feed on its own."""
        rows = {a.shape[0] if a.ndim else None for a in feed.values()}
        if not all(s.batched for s in self.inputs) or len(rows) != 1 or None in rows:
            return ("alone", position)
        return tuple((name, a.shape[1:], a.dtype.str) for name, a in sorted(feed.items()))

    def _run_one(self, feed: Feed) -> dict[str, np.ndarray] | BaseException:
        try:
            return {name: np.asarray(value) for name, value in self.run(feed).items()}
        except Exception as exc:  # answered by postprocess for this request only
            return exc

    def _run_stacked(self, feeds: list[Feed]) -> list[dict[str, np.ndarray]]:
        counts = [next(iter(f.values())).shape[0] for f in feeds]
        stacked = {name: np.concatenate([f[name] for f in feeds], axis=0) for name in feeds[0]}
        outputs = {name: np.asarray(value) for name, value in self.run(stacked).items()}
        total = sum(counts)
        if any(v.ndim == 0 or v.shape[0] != total for v in outputs.values()):
            # An output without a per-row axis cannot be split; the caller runs feeds alone.
            raise ValueError("model output has no batch axis")
        bounds = np.cumsum(counts)[:-1]
        pieces = {name: np.split(value, bounds, axis=0) for name, value in outputs.items()}
        return [{name: pieces[name][k] for name in outputs} for k in range(len(feeds))]
