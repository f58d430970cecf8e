"""The executed paper as a static site: pages, figures, audio as short MP3s, no remote scripts.

The site in a real browser is tested in tests/test_browser.py.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest

from vrashlib import paths
from vrashlib.reproduce import NOTEBOOKS

SR = 8000


def _wav(seconds: float, hz: float = 440.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(SR * seconds)) / SR)).astype(np.float32)


def executed_notebook(path, *, audio_seconds: float = 3.0) -> None:
    """A small executed notebook with what the real ones hold: markdown, a figure, an
    audio player (IPython's), a progress-bar widget view."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import nbformat
    from IPython.display import Audio

    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1, 0.5])
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    nb = nbformat.v4.new_notebook()
    widget = {"model_id": "x", "version_major": 2, "version_minor": 0}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Listen first\n\nThe paper claims **music**."),
        nbformat.v4.new_code_cell(
            "listen(first)",
            outputs=[
                nbformat.v4.new_output(
                    "display_data", {"image/png": base64.b64encode(png.getvalue()).decode()}
                ),
                nbformat.v4.new_output(
                    "display_data",
                    {"text/html": Audio(_wav(audio_seconds), rate=SR)._repr_html_()},
                ),
                nbformat.v4.new_output(
                    "display_data",
                    {
                        "application/vnd.jupyter.widget-view+json": widget,
                        "text/plain": "HBox(children=(FloatProgress(value=0.0),))",
                    },
                ),
            ],
        ),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    monkeypatch.delenv("VRASH_RUN", raising=False)
    return tmp_path


def test_audio_becomes_a_short_mp3_and_widget_views_go(build):
    import nbformat
    import soundfile

    from vrashlib.report import AUDIO_SECONDS, WIDGET_VIEW, clean_outputs

    path = build / "nb.ipynb"
    executed_notebook(path, audio_seconds=AUDIO_SECONDS + 10)
    nb = nbformat.read(path, as_version=4)
    (build / "audio").mkdir()
    names = clean_outputs(nb, "00_listen", build / "audio")
    assert names == ["00_listen_1.mp3"]
    outputs = nb.cells[1].outputs
    assert len(outputs) == 2 and not any(WIDGET_VIEW in o.get("data", {}) for o in outputs)
    html = outputs[1]["data"]["text/html"]
    assert 'src="audio/00_listen_1.mp3"' in html and "audio/mpeg" in html and "base64" not in html
    info = soundfile.info(build / "audio" / names[0])
    assert info.format == "MP3" and info.channels == 1
    assert AUDIO_SECONDS - 0.2 < info.duration <= AUDIO_SECONDS + 0.2  # cut
    audio, rate = soundfile.read(build / "audio" / names[0])
    spectrum = np.abs(np.fft.rfft(audio[rate : 3 * rate]))
    assert abs(np.fft.rfftfreq(2 * rate, 1 / rate)[spectrum.argmax()] - 440) < 5  # same tone
    # ~10x smaller than the WAV it replaces
    wav_bytes = int(AUDIO_SECONDS * SR * 2)
    assert (build / "audio" / names[0]).stat().st_size < wav_bytes * 22050 / SR / 5


def test_pages_load_nothing_from_the_internet(build):
    import nbformat

    from vrashlib.report import notebook_page

    path = build / "nb.ipynb"
    executed_notebook(path)
    page = notebook_page(nbformat.read(path, as_version=4))
    assert not re.search(r"<script[^>]*src=\"https?://", page)
    assert "mathjax" not in page.lower() and 'href="index.html"' in page
    assert 'rel="icon"' in page and "data:image/png;base64" in page


def test_site_has_an_index_a_page_per_notebook_and_the_figures(build):
    from vrashlib.report import FIGURE_WIDTH, build_report, report_dir

    with pytest.raises(FileNotFoundError, match="vrash reproduce --profile smoke"):
        build_report("smoke")
    for stem in ("00_listen", "02_training"):
        executed_notebook(paths.executed_notebooks_dir("smoke") / f"{stem}.ipynb")
    import matplotlib.image

    wide = np.zeros((50, 2 * FIGURE_WIDTH, 3))  # wider than the index shows
    matplotlib.image.imsave(paths.figures_dir("smoke") / "fig4_cross_entropy.png", wide)
    index = build_report("smoke")
    site = index.parent
    assert site == report_dir("smoke") == paths.BUILD / "report" / "smoke"
    assert sorted(p.name for p in site.glob("*.html")) == [
        "00_listen.html", "02_training.html", "index.html",
    ]  # fmt: skip
    text = index.read_text()
    assert text.index("00_listen.html") < text.index("02_training.html")  # reading order
    listen = next(nb for nb in NOTEBOOKS if nb.stem == "00_listen")
    assert listen.artifact in text and "The paper claims <strong>music</strong>" in text
    assert '<img src="figures/fig4_cross_entropy.png"' in text
    copy = matplotlib.image.imread(site / "figures" / "fig4_cross_entropy.png")
    assert copy.shape[1] == FIGURE_WIDTH and abs(copy.shape[0] - 25) <= 1  # scaled down
    css = (site / "notebook.css").read_text()
    assert len(css) > 1000 and "<style" not in (site / "02_training.html").read_text()
    assert text.count("<audio") == 2 and len(list((site / "audio").glob("*.mp3"))) == 2


@pytest.mark.slow
def test_report_of_the_smoke_reproduction(smoke_reproduction, tmp_path, monkeypatch):
    from vrashlib.report import build_report

    assert smoke_reproduction.returncode == 0, smoke_reproduction.output
    monkeypatch.setattr(paths, "BUILD", smoke_reproduction.build)
    site = build_report("smoke", tmp_path / "site").parent
    pages = sorted(p.stem for p in site.glob("*.html") if p.stem != "index")
    assert pages == sorted(nb.stem for nb in NOTEBOOKS)
    assert (site / "audio" / "00_listen_1.mp3").exists()  # notebook 00's first melody
    for page in site.glob("*.html"):
        assert "Traceback" not in page.read_text(), page.name
    assert all(p.stat().st_size < 200_000 for p in (site / "audio").glob("*.mp3"))
