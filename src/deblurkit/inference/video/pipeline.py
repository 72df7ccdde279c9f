"""The video pipeline: decode, select, deblur, encode -- streaming, in three threads.

Pipeline (three stages, two bounded queues, see ``docs/video.md``)::

    decode thread --(queue, maxsize=queue_size)--> inference (calling thread)
                  --(queue, maxsize=queue_size)--> encode + mux thread

- **decode** demuxes the input, decodes the video stream and forwards the audio packets
  undecoded, in demux order.
- **inference** asks the frame selector (:mod:`deblurkit.inference.selection`) which frames are
  blurred, deblurs those, and passes the others through untouched (the decoded frame object
  itself, so a lossless codec reproduces them bit for bit). A frame is converted to RGB
  (:mod:`~deblurkit.inference.video.frames`) at most once, whether it is scored, deblurred or
  both.
- **encode** re-encodes every frame with its original timestamp (variable frame rate stays
  variable) and remuxes the audio packets as they are. The frames keep their stored
  orientation; the input's display matrix (a phone video's rotation) is copied to the output
  stream (:func:`~deblurkit.inference.video.containers.open_output`).

Memory is bounded: at most ``2 * queue_size`` items in the queues, plus what the selector
holds (15 frames for ``middle15``, 8 for ``laplacian``; a frame scored but not yet decided
keeps its RGB samples), plus the encoder's own look-ahead; the whole video is never held. The
report's per-frame list (a few numbers per frame) is the only thing that grows with the clip.

An exception in any stage stops the other two and is re-raised in the calling thread; the
output is written to a temporary file beside the target and renamed only after the whole
video is encoded, so a failure or Ctrl-C leaves no output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from deblurkit.errors import OutputExistsError, UserError
from deblurkit.inference.selection import Decision, Selector
from deblurkit.inference.video.containers import (CONTAINERS, EncodeOptions, VideoInput,
                                                  VideoOutput, container_format,
                                                  display_rotation, ffmpeg_reason, input_info,
                                                  open_output, open_video)
from deblurkit.inference.video.cost import runtime_totals
from deblurkit.inference.video.frames import frame_samples, replace_rgb, to_output_format
from deblurkit.io import to_float
from deblurkit.utils.atomic import atomic_path, write_text_atomic

__all__ = ["DEFAULT_QUEUE_SIZE", "Deblur", "VideoResult", "backend_deblur", "frame_deblur",
           "restore_video"]

#: Default size of each of the two queues between the stages.
DEFAULT_QUEUE_SIZE = 8
#: Seconds a stage waits on a queue before checking whether another stage has failed.
POLL_SECONDS = 0.1

#: A frame function: ``H x W x 3`` float32 ``[0, 1]`` -> the deblurred frame, same shape.
Deblur = Callable[[np.ndarray], np.ndarray]


@dataclass
class _Frame:
    """A decoded video frame travelling through the pipeline."""

    index: int
    frame: Any          # av.VideoFrame (decoded; replaced by the deblurred one)
    pts: int
    decision: Decision | None = None
    deblur_seconds: float = 0.0
    samples: np.ndarray | None = None   # its RGB samples once converted, until it is decided

    def rgb(self) -> np.ndarray:
        """The frame as float32 RGB in ``[0, 1]``, converted from its own pixel format only
        the first time (a frame both scored and deblurred is converted once)."""
        if self.samples is None:
            self.samples = frame_samples(self.frame)
        return to_float(self.samples)


@dataclass
class _Packet:
    """An audio packet to remux as is."""

    packet: Any         # av.Packet
    out_index: int      # index into the output audio streams


class _End:
    """End-of-stream marker."""


_END = _End()


class _Stopped(Exception):
    """Raised inside a stage when another stage has failed (never escapes)."""


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(item, timeout=POLL_SECONDS)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue


@dataclass
class _Shared:
    """State shared by the three stages."""

    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(exc)
        self.stop.set()


def _decode_stage(inp: VideoInput, path: str, q_out: queue.Queue, shared: _Shared,
                  copy_audio: bool) -> None:
    import av

    audio_index = {a.index: i for i, a in enumerate(inp.audio)} if copy_audio else {}
    streams = [inp.video] + (list(inp.audio) if copy_audio else [])
    index = 0
    last_pts: int | None = None
    try:
        try:
            for packet in inp.container.demux(*streams):
                if packet.stream.index == inp.video.index:
                    for frame in packet.decode():
                        pts = frame.pts
                        if pts is None:
                            pts = 0 if last_pts is None else last_pts + 1
                        elif last_pts is not None and pts <= last_pts:
                            pts = last_pts + 1  # keep timestamps strictly increasing
                        last_pts = pts
                        _put(q_out, _Frame(index=index, frame=frame, pts=pts), shared.stop)
                        index += 1
                elif packet.size and packet.stream.index in audio_index:
                    _put(q_out, _Packet(packet, audio_index[packet.stream.index]), shared.stop)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot decode video: {ffmpeg_reason(exc)}") from None
        if index == 0:
            raise UserError(f"{path}: no decodable video frames")
        _put(q_out, _END, shared.stop)
    except _Stopped:
        pass
    except BaseException as exc:  # noqa: BLE001 - forwarded to the calling thread
        shared.fail(exc)


def _encode_stage(out: VideoOutput, output: Path, q_in: queue.Queue, shared: _Shared,
                  in_time_base: Fraction, on_frame: Callable[[], None] | None) -> None:
    import av
    from av.video.frame import PictureType

    codec_tb = out.video.codec_context.time_base
    try:
        try:
            while True:
                item = _get(q_in, shared.stop)
                if isinstance(item, _End):
                    for packet in out.video.encode(None):
                        out.container.mux(packet)
                    return
                if isinstance(item, _Packet):
                    packet = item.packet
                    packet.stream = out.audio[item.out_index]
                    out.container.mux(packet)
                    continue
                frame = to_output_format(item.frame, out.pix_fmt)
                frame.pict_type = PictureType.NONE  # let the encoder choose frame types
                frame.pts = (item.pts if codec_tb == in_time_base
                             else int(round(item.pts * in_time_base / codec_tb)))
                frame.time_base = codec_tb
                for packet in out.video.encode(frame):
                    out.container.mux(packet)
                if on_frame is not None:
                    on_frame()
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise UserError(f"{output}: cannot encode with {out.video.codec_context.name}: "
                            f"{ffmpeg_reason(exc)}") from None
    except _Stopped:
        pass
    except BaseException as exc:  # noqa: BLE001 - forwarded to the calling thread
        shared.fail(exc)


def backend_deblur(backend: Any, *, tile: int | str | None = None,
                   overlap: int | str = "auto", tta: int = 1) -> Deblur:
    """Wrap a :class:`~deblurkit.inference.backends.Backend` as a frame function.

    Uses :class:`deblurkit.inference.restorer.Restorer` (whole frames, or overlapping tiles
    blended by :func:`deblurkit.inference.tiling.restore_tiled`).

    Args:
        backend: a Backend (``B x 3 x H x W`` float32 ``[0, 1]`` -> same) or an ``nn.Module``.
        tile: None (whole frame), a tile size in pixels, or ``"auto"`` (from free memory).
        overlap: tile overlap in pixels, or ``"auto"`` (the model's receptive field).
        tta: flipped / rotated views averaged per frame (1: off; see :class:`Restorer`).

    Returns:
        ``H x W x 3`` float32 ``[0, 1]`` -> same.
    """
    from deblurkit.inference.restorer import Restorer

    return frame_deblur(Restorer(backend, tile=tile, overlap=overlap, tta=tta))


def frame_deblur(restorer: Any) -> Deblur:
    """A :class:`~deblurkit.inference.restorer.Restorer` as a frame function, with the tiling
    set up before the first frame (so that it is not timed as that frame's ``t_d``).

    Args:
        restorer: the restorer (its model, tiling, precision and test-time augmentation).

    Returns:
        ``H x W x 3`` float32 ``[0, 1]`` -> same (``restorer.restore_array``).

    Example:
        >>> deblur = frame_deblur(Restorer("default", tile="auto"))   # doctest: +SKIP
    """
    if restorer.tile is not None and restorer.overlap == "auto":
        # measure the receptive field now, so that it is not timed as the first frame's t_d
        _ = restorer.backend.receptive_field
    return restorer.restore_array


@dataclass
class VideoResult:
    """What :func:`restore_video` did.

    Attributes:
        output: the written file.
        report: the report dict (also written to ``report_path`` when given).
    """

    output: Path
    report: dict[str, Any]


def restore_video(input: str | os.PathLike, output: str | os.PathLike, *,
                  selector: Selector, deblur: Deblur | None,
                  encode: EncodeOptions = EncodeOptions(),
                  report_path: str | os.PathLike | None = None, overwrite: bool = False,
                  queue_size: int = DEFAULT_QUEUE_SIZE, model: str | None = None,
                  threshold: float | None = None, show_progress: bool = True,
                  extra_report: dict[str, Any] | None = None,
                  allow_truncated: bool = False) -> VideoResult:
    """Deblur the frames of ``input`` that ``selector`` picks; write every frame to ``output``.

    Args:
        input: the video file (any container/codec FFmpeg decodes).
        output: the output file; its suffix picks the container (:data:`CONTAINERS`).
        selector: a fresh :class:`~deblurkit.inference.selection.Selector` (built with
            ``to_rgb=None`` or anything: it is rebound to decoded frames here).
        deblur: ``H x W x 3`` float32 ``[0, 1]`` -> same; may be None only when the selector
            never selects (then selected frames are an error).
        encode: codec, quality, pixel format, audio copy.
        report_path: where to write the JSON report (atomically), or None.
        overwrite: replace an existing ``output`` / report.
        queue_size: capacity of each of the two inter-stage queues.
        model: the model name recorded in the report.
        threshold: the threshold recorded in the report.
        show_progress: show a frame progress bar on stderr.
        extra_report: merged into the report's top level.
        allow_truncated: keep the output of a video that decodes to fewer frames than its
            container states (the report then says ``"truncated": true``); by default such a
            video is an error.

    Returns:
        A :class:`VideoResult`.

    Raises:
        UserError: unreadable/corrupt input, no video stream, no frames, fewer frames than
            the container states (unless ``allow_truncated``), output exists, output is the
            input, unsupported suffix or codec; nothing is left at ``output``.

    Example:
        >>> from deblurkit.inference.selection import make_selector
        >>> restore_video("in.mp4", "out.mp4", selector=make_selector("laplacian"),
        ...               deblur=my_deblur, report_path="report.json")  # doctest: +SKIP
    """
    src, dst = Path(input), Path(output)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise UserError(f"{dst}: output is the input video; choose another output")
    if dst.exists() and not overwrite:
        raise OutputExistsError(dst)
    if report_path is not None and Path(report_path).exists() and not overwrite:
        raise OutputExistsError(report_path)
    container_format(dst)
    if queue_size < 1:
        raise ValueError(f"queue_size must be >= 1, got {queue_size}")

    inp = open_video(src)
    try:
        with atomic_path(dst, overwrite=overwrite) as tmp:
            report = _run_pipeline(inp, src, dst, tmp, selector, deblur, encode, queue_size,
                                   show_progress)
            stated, decoded = int(inp.video.frames or 0), len(report["frames"])
            report["truncated"] = bool(stated and decoded < stated)
            report["frames_stated"] = stated or None
            if report["truncated"] and not allow_truncated:
                raise UserError(f"{src}: decoded {decoded} of the {stated} frames its container "
                                "states (truncated or damaged file); nothing written (pass "
                                "--allow-truncated to keep the frames that decode)")
    finally:
        with contextlib.suppress(Exception):
            inp.container.close()
    report.update({"select": selector.name, "threshold": threshold, "model": model})
    if extra_report:
        report.update(extra_report)
    ordered = {k: report[k] for k in ("input", "output", "select", "threshold", "model")}
    ordered.update({k: v for k, v in report.items() if k not in ordered})
    if report_path is not None:
        write_text_atomic(report_path, json.dumps(ordered, indent=2) + "\n", overwrite=True)
    return VideoResult(dst, ordered)


def _run_pipeline(inp: VideoInput, src: Path, dst: Path, tmp: Path, selector: Selector,
                  deblur: Deblur | None, encode: EncodeOptions, queue_size: int,
                  show_progress: bool) -> dict[str, Any]:
    from deblurkit.utils.progress import progress_enabled

    out = open_output(tmp, dst, inp, encode)
    shared = _Shared()
    q_dec: queue.Queue = queue.Queue(maxsize=queue_size)
    q_enc: queue.Queue = queue.Queue(maxsize=queue_size)
    n_frames_hint = inp.video.frames or None
    bar = None
    enabled = progress_enabled()
    if show_progress and enabled is not False:
        from tqdm import tqdm

        bar = tqdm(total=n_frames_hint, desc=src.name, unit="frame", leave=False,
                   dynamic_ncols=True, disable=None if enabled is None else not enabled)
    in_tb = inp.video.time_base or out.video.codec_context.time_base
    decoder = threading.Thread(target=_decode_stage, name="deblurkit-decode", daemon=True,
                               args=(inp, str(src), q_dec, shared, encode.audio))
    encoder = threading.Thread(target=_encode_stage, name="deblurkit-encode", daemon=True,
                               args=(out, dst, q_enc, shared, in_tb,
                                     bar.update if bar is not None else None))
    records: list[dict[str, Any]] = []
    start = time.perf_counter()
    selector.to_rgb = _Frame.rgb
    closed = False
    try:
        decoder.start()
        encoder.start()
        try:
            _inference_stage(q_dec, q_enc, shared, selector, deblur, records, in_tb)
        except _Stopped:
            pass
        except BaseException as exc:
            shared.fail(exc)
        if not shared.errors:
            encoder.join()
        _raise_first(shared)
        out.container.close()
        closed = True
        wall = time.perf_counter() - start
    except BaseException:
        shared.stop.set()
        raise
    finally:
        shared.stop.set()
        decoder.join(timeout=10)
        encoder.join(timeout=10)
        if bar is not None:
            bar.close()
        if not closed:
            with contextlib.suppress(Exception):
                out.container.close()
    totals = runtime_totals(records, wall)
    frames = [{k: r[k] for k in ("index", "pts", "time", "score", "deblurred", "classified",
                                 "seconds", "reason")} for r in records]
    return {
        "input": input_info(str(src), inp),
        "output": {"path": str(dst), "format": CONTAINERS[dst.suffix.lower()],
                   "codec": encode.codec, "pix_fmt": out.pix_fmt, "crf": out.crf,
                   "preset": encode.preset, "options": dict(encode.options),
                   "rotation": display_rotation(out.display_matrix),
                   "display_matrix": (list(out.display_matrix) if out.display_matrix
                                      else None),
                   "audio_copied": out.audio_streams_copied > 0,
                   "audio_streams_copied": out.audio_streams_copied},
        "frames": frames,
        "totals": totals,
    }


def _raise_first(shared: _Shared) -> None:
    if shared.errors:
        # a UserError or KeyboardInterrupt is more telling than the follow-up failures
        for exc in shared.errors:
            if isinstance(exc, (UserError, KeyboardInterrupt)):
                raise exc
        raise shared.errors[0]


def _inference_stage(q_in: queue.Queue, q_out: queue.Queue, shared: _Shared,
                     selector: Selector, deblur: Deblur | None,
                     records: list[dict[str, Any]], time_base: Fraction) -> None:
    """Select and deblur, keeping the demux order of frames and audio packets."""
    pending: deque[Any] = deque()   # frames waiting for a decision, audio packets behind them

    def release() -> None:
        while pending:
            head = pending[0]
            if isinstance(head, _Frame):
                if head.decision is None:
                    return
                _finish(head)
            _put(q_out, pending.popleft(), shared.stop)

    def _finish(item: _Frame) -> None:
        decision = item.decision
        assert decision is not None
        if decision.deblur:
            if deblur is None:
                raise RuntimeError("a frame was selected for deblurring but no model is loaded")
            t0 = time.perf_counter()
            rgb = item.rgb()
            restored = deblur(rgb)
            item.frame = replace_rgb(item.frame, rgb, restored)
            item.deblur_seconds = time.perf_counter() - t0
        item.samples = None  # the pixels are not kept past the decision
        records.append({
            "index": item.index, "pts": item.pts,
            "time": float(item.pts * time_base) if time_base else None,
            "score": decision.score, "deblurred": decision.deblur,
            "classified": decision.classified,
            "classify_seconds": decision.classify_seconds,
            "deblur_seconds": item.deblur_seconds,
            "seconds": decision.classify_seconds + item.deblur_seconds,
            "reason": decision.reason,
        })

    while True:
        shared_error = shared.stop.is_set()
        if shared_error:
            raise _Stopped
        item = _get(q_in, shared.stop)
        if isinstance(item, _End):
            for frame_item, decision in selector.flush():
                frame_item.decision = decision
            release()
            _put(q_out, _END, shared.stop)
            return
        pending.append(item)
        if isinstance(item, _Frame):
            for frame_item, decision in selector.push(item):
                frame_item.decision = decision
        release()
