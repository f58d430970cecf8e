import matplotlib.pyplot as plt
import pandas as pd
import pytest

from vrashlib.files import atomic_directory, atomic_path, atomic_write_text, save_table, savefig


def test_atomic_path_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "x.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_atomic_directory_replaces_whole(tmp_path):
    target = tmp_path / "d"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "b").write_text("2")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_directory(target) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c"]
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_savefig_writes_png_and_pdf_stably(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    assert savefig(fig, "f", tmp_path) is None  # no stray output under a notebook cell
    png, pdf = tmp_path / "f.png", tmp_path / "f.pdf"
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    first = pdf.read_bytes()
    savefig(fig, "f", tmp_path)
    assert pdf.read_bytes() == first
    plt.close(fig)


def test_save_table_formats(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    assert save_table(df, "t", tmp_path, formats=("csv", "md", "tex")) is None
    paths = [tmp_path / f"t.{ext}" for ext in ("csv", "md", "tex")]
    assert pd.read_csv(paths[0]).equals(df)
    assert "|" in paths[1].read_text() and "tabular" in paths[2].read_text()
    with pytest.raises(ValueError, match="unknown table format"):
        save_table(df, "t", tmp_path, formats=("xls",))


def test_atomic_outputs_are_readable_by_others(tmp_path):
    atomic_write_text(tmp_path / "f.txt", "x")
    with atomic_directory(tmp_path / "d") as tmp:
        (tmp / "a").write_text("1")
    assert (tmp_path / "f.txt").stat().st_mode & 0o044
    assert (tmp_path / "d").stat().st_mode & 0o055
