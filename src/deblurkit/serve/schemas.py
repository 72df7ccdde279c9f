"""The JSON the API answers with, as pydantic models (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Error(BaseModel):
    """Every error: one line saying what is wrong, naming the file where there is one."""

    detail: str = Field(examples=["shaky.png: corrupt or truncated image data (OSError: ...)"])


class Progress(BaseModel):
    unit: Literal["tiles", "frames"] = Field(
        description="tiles of an image (model passes), frames of a video")
    done: int
    total: int | None = Field(description="null while unknown")
    fraction: float | None
    elapsed_seconds: float | None = Field(description="since restoring began")
    eta_seconds: float | None = Field(description="estimated time left (running jobs)")


class InputInfo(BaseModel):
    format: str = Field(description="image format (PNG, JPEG, TIFF, BMP, WEBP) or the "
                                    "video's FFmpeg demuxer")
    width: int
    height: int
    frames: int | None = Field(description="video frames according to its container")


class Links(BaseModel):
    self: str
    result: str
    report: str
    preview_input: str
    preview_result: str


class ResultInfo(BaseModel):
    filename: str
    media_type: str
    bytes: int


class JobInfo(BaseModel):
    """A job: one uploaded image or video."""

    id: str
    name: str = Field(description="the uploaded file's name (display only)")
    kind: Literal["image", "video"]
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str = Field(description="queued, reading, restoring, writing, or the status")
    error: str | None = Field(description="one line when failed or cancelled")
    queue_position: int | None = Field(description="jobs ahead of this one (queued jobs)")
    created: float = Field(description="Unix time of the upload")
    progress: Progress
    input: InputInfo
    select: str | None = Field(description="frame selection (videos)")
    threshold: float | None = Field(description="selection threshold (videos; null: the "
                                                "selector's default)")
    links: Links
    result: ResultInfo | None = Field(description="the restored file, once done")


class Limits(BaseModel):
    max_upload_bytes: int
    max_pixels: int
    max_frames: int
    max_queue: int


class ServerInfo(BaseModel):
    version: str
    model: str
    tile: int | None = Field(description="tile side in pixels (null: whole images)")
    tta: int = Field(description="test-time augmentation views")
    limits: Limits
    select: str = Field(description="default frame selection of video jobs")
    select_modes: list[str] = Field(description="selections this server can run")
    image_formats: list[str]
