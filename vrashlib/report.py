"""The executed paper as a static web site: ``vrash report`` (``make report``).

Reads the notebooks that ``vrash reproduce`` executed (``build/notebooks/<profile>/``)
and writes a folder that any browser opens without a server or Python:

    index.html      the paper's claims, notebook by notebook, with the figures
                    each rebuilt and the first melody each plays
    NN_name.html    one page per notebook: its cells and outputs (nbconvert)
    notebook.css    JupyterLab's look, shared by the notebook pages
    figures/        the registered figures of the profile (PNG, at most
                    :data:`FIGURE_WIDTH` pixels wide)
    audio/          the notebooks' audio players as short MP3 files

Outputs are cleaned for a page without a kernel: widget views (progress bars,
controls), which have nothing to show without one, are dropped, and each audio
player is cut to :data:`AUDIO_SECONDS` and re-encoded as MP3 (a WAV in a notebook
is ~10x larger), so the whole site stays small enough to commit. Nothing on the
pages loads from the internet.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
import shutil
from pathlib import Path

from vrashlib import paths
from vrashlib.files import atomic_directory
from vrashlib.reproduce import NOTEBOOKS, Notebook

logger = logging.getLogger(__name__)

AUDIO_SECONDS = 15.0  # each audio player of the report plays this much at most
AUDIO_RATE = 22050  # Hz, mono
FIGURE_WIDTH = 1000  # pixels: the index's figures, downscaled copies of the profile's
CSS = "notebook.css"
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_AUDIO_SRC = re.compile(r'src="data:audio/(?:wav|x-wav);base64,([A-Za-z0-9+/=\s]+)"')
_REMOTE_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>', re.I)
_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S | re.I)

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 0 auto; padding: 1rem;
       line-height: 1.5; color: #222; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.25rem; margin-top: 2.2rem; }}
.claims {{ background: #f6f6f6; padding: 0.2rem 1rem; border-left: 4px solid #4a7ab5; }}
.figures img {{ max-width: 100%; border: 1px solid #ddd; margin: 0.4rem 0; }}
audio {{ width: 100%; max-width: 32rem; }}
a {{ color: #2a5a9a; }}
</style></head>
<body>
{body}
</body></html>
"""


BACK = (
    '<p style="font-family: system-ui, sans-serif; margin: 0.5rem 1rem">'
    '<a href="index.html">&larr; the executed paper</a></p>'
)


def report_dir(profile: str) -> Path:
    """Where ``vrash report`` writes a profile's (or named run's) site by default."""
    return paths.BUILD / "report" / (paths.run_name() or profile)


def executed(profile: str) -> list[tuple[Notebook, Path]]:
    """The registered notebooks with an executed copy, in reading order."""
    folder = paths.executed_notebooks_dir(profile)
    return [
        (nb, folder / f"{nb.stem}.ipynb")
        for nb in NOTEBOOKS
        if (folder / f"{nb.stem}.ipynb").exists()
    ]


def mp3_from_wav(wav: bytes, seconds: float = AUDIO_SECONDS) -> bytes:
    """The first ``seconds`` of a WAV file as a mono MP3 at :data:`AUDIO_RATE` Hz."""
    import math

    import numpy as np
    import soundfile
    from scipy.signal import resample_poly

    audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)[: int(seconds * rate)]
    if rate != AUDIO_RATE:
        g = math.gcd(rate, AUDIO_RATE)
        audio = resample_poly(audio, AUDIO_RATE // g, rate // g).astype(np.float32)
    fade = min(len(audio), AUDIO_RATE // 20)  # 50 ms out: no click where it was cut
    audio[len(audio) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    out = io.BytesIO()
    soundfile.write(out, audio, AUDIO_RATE, format="MP3")
    return out.getvalue()


def clean_outputs(nb, stem: str, audio_dir: Path) -> list[str]:
    """Drop widget views and move each audio player into ``audio_dir`` as MP3 (in place);
    returns the audio files' names, in order."""
    names: list[str] = []
    nb.metadata.pop("widgets", None)  # the widgets' saved state: nothing to run it here
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                continue  # a progress bar or control: nothing to show without a kernel
            page = data.get("text/html")
            if page is not None:
                text = "".join(page) if isinstance(page, list) else page
                for match in _AUDIO_SRC.finditer(text):
                    name = f"{stem}_{len(names) + 1}.mp3"
                    wav = base64.b64decode(re.sub(r"\s", "", match.group(1)))
                    (audio_dir / name).write_bytes(mp3_from_wav(wav))
                    names.append(name)
                    text = text.replace(match.group(0), f'src="audio/{name}"')
                text = text.replace('type="audio/wav"', 'type="audio/mpeg"')
                data["text/html"] = text
            kept.append(output)
        cell.outputs = kept
    return names


def notebook_page(nb) -> str:
    """One executed notebook as a standalone HTML page with no remote scripts."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    body = _MATHJAX.sub("", body)  # the notebooks have no formulas; MathJax is remote
    body = _REMOTE_SCRIPT.sub("", body)
    body = body.replace("<head>", '<head>\n<link rel="icon" href="data:,">', 1)  # no favicon.ico
    return re.sub(r"(<body[^>]*>)", r"\1\n" + BACK, body, count=1)


def shared_css(page: str, shared: list[str] | None) -> tuple[str, list[str]]:
    """``page`` with each inline style block that is one of ``shared`` replaced by one link
    to :data:`CSS` (``shared`` None: this page's blocks become the shared ones); returns
    the page and the shared blocks. Blocks of this page alone stay inline."""
    blocks = _STYLE.findall(page)
    if shared is None:
        shared = blocks
    common = set(shared)
    page = _STYLE.sub(lambda m: "" if m.group(1) in common else m.group(0), page)
    if any(b in common for b in blocks):
        page = page.replace("<head>", f'<head>\n<link rel="stylesheet" href="{CSS}">', 1)
    return page, shared


def copy_figure(src: Path, dst: Path, width: int = FIGURE_WIDTH) -> None:
    """``src`` PNG as ``dst``, scaled down to ``width`` pixels when it is wider."""
    from PIL import Image

    with Image.open(src) as image:
        if image.width <= width:
            shutil.copyfile(src, dst)
            return
        height = round(image.height * width / image.width)
        image.resize((width, height), Image.Resampling.LANCZOS).save(dst, optimize=True)


def _first_markdown(nb) -> tuple[str, str]:
    """(title, the rest) of a notebook's first markdown cell."""
    text = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    lines = text.strip().splitlines()
    if lines and lines[0].startswith("#"):
        return lines[0].lstrip("# ").strip(), "\n".join(lines[1:]).strip()
    return "", text


def build_report(profile: str, out_dir: str | Path | None = None) -> Path:
    """Write the site for ``profile``'s executed notebooks; returns its ``index.html``.

    Raises ``FileNotFoundError`` naming the folder when no notebook was executed.
    """
    import nbformat
    from nbconvert.filters import markdown2html

    found = executed(profile)
    if not found:
        raise FileNotFoundError(
            f"no executed notebooks in {paths.executed_notebooks_dir(profile)}: run them first "
            f"(`vrash reproduce --profile {profile}` or `make figures PROFILE={profile}`)"
        )
    out_dir = Path(out_dir) if out_dir else report_dir(profile)
    figures = paths.figures_dir(profile)
    sections, css = [], None
    with atomic_directory(out_dir) as tmp:
        (tmp / "audio").mkdir()
        (tmp / "figures").mkdir()
        for entry, path in found:
            nb = nbformat.read(path, as_version=4)
            title, claims = _first_markdown(nb)
            audio = clean_outputs(nb, entry.stem, tmp / "audio")
            page, css = shared_css(notebook_page(nb), css)
            (tmp / f"{entry.stem}.html").write_text(page, encoding="utf-8")
            pngs = [f"{o.name}.png" for o in entry.outputs if "png" in o.formats]
            for png in pngs:
                if (figures / png).exists():
                    copy_figure(figures / png, tmp / "figures" / png)
            shown = [p for p in pngs if (tmp / "figures" / p).exists()]
            sections.append(
                f'<h2><a href="{entry.stem}.html">{html.escape(title or entry.stem)}</a></h2>\n'
                f"<p><i>{html.escape(entry.artifact)}</i> &middot; notebook "
                f'<a href="{entry.stem}.html"><code>{entry.stem}.py</code></a></p>\n'
                f'<div class="claims">{markdown2html(claims)}</div>\n'
                + (
                    f'<p><audio controls preload="none" src="audio/{audio[0]}"></audio></p>\n'
                    if audio
                    else ""
                )
                + '<div class="figures">'
                + "".join(
                    f'<a href="figures/{p}"><img src="figures/{p}" alt="{p}"></a>' for p in shown
                )
                + "</div>"
            )
            logger.info(
                "%s: page, %d figure(s), %d audio file(s)", entry.stem, len(shown), len(audio)
            )
        intro = (
            "<h1>Music generation with variational recurrent autoencoder supported by history</h1>\n"
            "<p>Yamshchikov &amp; Tikhonov (2020), <i>SN Applied Sciences</i> 2, 1937, "
            "doi:10.1007/s42452-020-03715-w, rebuilt by the notebooks of vrash-companion "
            f"(profile <code>{html.escape(paths.run_name() or profile)}</code>). Each section "
            "quotes what the paper claims and shows what the executed notebook found; the "
            "title opens the notebook with every output.</p>"
        )
        index = PAGE.format(
            title="VRASH companion: the executed paper", body=intro + "\n".join(sections)
        )
        (tmp / "index.html").write_text(index, encoding="utf-8")
        (tmp / CSS).write_text("\n".join(css or []), encoding="utf-8")
    return out_dir / "index.html"
