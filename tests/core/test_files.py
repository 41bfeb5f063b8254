import pytest

from core.files import atomic_file, write_atomic


def test_write_atomic_replaces_the_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_atomic(target, "旧")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()], ids=type)
def test_an_interrupted_write_keeps_the_old_file(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(type(error)), atomic_file(target) as f:
        f.write(b"half of the new")
        raise error
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
