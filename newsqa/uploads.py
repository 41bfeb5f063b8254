"""Checks on files uploaded through the web app, and copying them into the data directory under safe names."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from core.files import atomic_file

UPLOAD_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")  # what `newsqa ingest` reads


class UploadError(ValueError):
    """An upload breaks a limit; the message is shown to the staff member as is."""


def _original_name(path: str | Path) -> str:
    """The client's file name as Gradio kept it, for messages only (never used to build a path)."""
    return Path(str(path)).name


def check_uploads(paths: Sequence[str | Path], *, max_files: int, max_mb: int) -> None:
    """Refuse the whole upload, with a message saying which file and why, when it breaks a limit."""
    if not paths:
        raise UploadError("请先选择要上传的文件。")
    if len(paths) > max_files:
        raise UploadError(f"一次最多上传 {max_files} 个文件，这次选了 {len(paths)} 个。")
    for p in paths:
        name = _original_name(p)
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise UploadError(f"不支持的文件类型“{name}”：只接受 {'、'.join(UPLOAD_SUFFIXES)} 文件。")
        try:
            size = Path(p).stat().st_size
        except OSError as exc:
            raise UploadError(f"读不到上传的文件“{name}”，请重新上传。") from exc
        if size > max_mb * 1024 * 1024:
            raise UploadError(f"文件“{name}”有 {size / 1024 / 1024:.1f} MB，超过了 {max_mb} MB 的上限。")


def check_inside(src: str | Path, allowed_roots: Sequence[Path]) -> Path:
    """`src` resolved, if it lies inside one of `allowed_roots` (Gradio's upload folder), so that a crafted API
    call cannot make the app read any other file on the server."""
    source = Path(src).resolve()
    if not any(source.is_relative_to(Path(root).resolve()) for root in allowed_roots):
        raise UploadError(f"文件“{_original_name(src)}”不在上传目录中，已拒绝。")
    return source


def store_upload(src: str | Path, uploads_dir: Path, *, allowed_roots: Sequence[Path]) -> Path:
    """Copy an uploaded file into `uploads_dir` under a generated name; only the (checked) suffix is kept."""
    source = check_inside(src, allowed_roots)
    suffix = source.suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadError(f"不支持的文件类型“{_original_name(src)}”。")
    uploads_dir.mkdir(parents=True, exist_ok=True)
    target = uploads_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}{suffix}"
    with source.open("rb") as f, atomic_file(target) as out:
        shutil.copyfileobj(f, out)
    return target
