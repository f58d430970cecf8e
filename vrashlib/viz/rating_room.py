"""The rating room: a web page where people rate melodies 1-5, as the paper's raters did.

``vrash rate`` (``make rate``) serves :func:`room_for_run` with Voilà: each visitor
gets a page of their own (a kernel) that asks for a name, plays a melody, draws its
piano roll, and takes 1-5 or skip. Nobody needs Python; a phone will do.

What is rated is what notebook 04 rates (:func:`rating_pool`): every generated
melody of the run (``run.generated(kind)``, written by notebook 03) and the same
sample of real tracks, mixed and blind. Each click is appended at once to one
ratings CSV (by default ``run.my_ratings``) under a file lock
(:func:`vrashlib.filter.ratings.append_rating`), so several raters at once lose and
duplicate no row. Table 1 is rebuilt from those ratings with one setting:
``vrash reproduce --name human --set filter.ratings_csv=PATH``.

Each rater hears the melodies with the fewest ratings so far first (ties in an
order of her own), so that a handful of people spread over the whole pool.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from vrashlib import paths
from vrashlib.data.tracks import TrackSet
from vrashlib.filter.ratings import AUTO_RATER, append_rating, load_ratings

logger = logging.getLogger(__name__)

REAL = "real"  # the source name of the real tracks, as in notebook 04
DEFAULT_PORT = 8866  # Voilà's usual port


def rating_pool(run: paths.RunLayout, n_real: int, seed: int = 0) -> dict[str, TrackSet]:
    """The melodies notebook 04 rates: ``{"real": ..., "lm": ..., "vae": ..., "vrash": ...}``.

    Generated sets come from ``run.generated(kind)`` (notebook 03); the real tracks are
    :func:`vrashlib.filter.autorater.holdout_sample` of the run's dataset with the same
    ``n_real`` (``filter.n_real_rated``) and ``seed`` (``filter.seed``). Raises
    ``FileNotFoundError`` saying how to make the generated melodies when there are none.
    """
    from vrashlib.models import KINDS

    sets = {k: TrackSet.load(run.generated(k)) for k in KINDS if run.generated(k).exists()}
    if not sets:
        raise FileNotFoundError(
            f"no generated melodies to rate in {run.generated_dir}: generate them with "
            "notebook 03 (`make figures`, or `vrash reproduce --only 01 02 03`)"
        )
    if (run.dataset / "tracks.npz").exists():
        from vrashlib.data.prepare import load_prepared
        from vrashlib.filter.autorater import holdout_sample

        real = holdout_sample(load_prepared(run.dataset).tracks, n_real, seed)
        sets = {REAL: real, **sets}
    return sets


def room_order(
    sets: dict[str, TrackSet], csv_path: str | os.PathLike, rater: str, seed: int = 0
) -> list[tuple[str, int]]:
    """``(source, index)`` of every melody ``rater`` has not rated yet, the least-rated
    (by anyone) first; ties in a seeded order of her own."""
    entries = [(source, i) for source, ts in sets.items() for i in range(len(ts))]
    ids = np.array([str(sets[s].ids[i]) for s, i in entries])
    counts = pd.Series(0, index=pd.Index(ids).unique())
    done: set[str] = set()
    if Path(csv_path).exists():
        df = load_ratings(csv_path)
        done = set(df.loc[df["rater"] == rater, "track_id"])
        counts = counts.add(df["track_id"].value_counts(), fill_value=0)
    own = int.from_bytes(hashlib.sha256(rater.encode()).digest()[:4], "little")
    tie = np.random.default_rng([seed, own]).permutation(len(entries))
    order = np.lexsort((tie, counts.reindex(ids).to_numpy()))
    return [entries[k] for k in order if ids[k] not in done]


def _describe(source: str, ts: TrackSet, i: int) -> str:
    style = ts.style_names()[i]
    return f"a real {style} tune" if source == REAL else f"{source.upper()}, {style} style"


def rating_room(sets: dict[str, TrackSet], csv_path: str | os.PathLike, *, seed: int = 0):
    """The room's page (an ipywidgets ``VBox``) for the melodies of ``sets``.

    ``room.name`` and ``room.enter`` sign in; then ``room.buttons`` (1..5) and
    ``room.skip`` rate the melody on ``room.card``; a click from code does what a
    click does (the tests use it).
    """
    import ipywidgets as widgets

    from vrashlib.viz.rating import SCALE_TEXT, melody_card, rating_buttons, show_melody

    total = sum(len(ts) for ts in sets.values())
    mixed = ", with real tunes mixed in" if REAL in sets else ""
    intro = widgets.HTML(
        "<h2 style='margin:0.2em 0'>Rate melodies</h2>"
        "<p>These melodies were written by the models of <i>Music generation with "
        "variational recurrent autoencoder supported by history</i> (Yamshchikov &amp; "
        f"Tikhonov, 2020){mixed}: {total} in all. Listen, look, and give each a mark "
        f"({SCALE_TEXT}). You do not need to rate them all.</p>"
    )
    name = widgets.Text(
        placeholder="your name or initials", layout=widgets.Layout(flex="1 1 auto", width="auto")
    )
    enter = widgets.Button(description="start", button_style="primary")
    signin = widgets.HBox([name, enter], layout=widgets.Layout(width="100%"))
    title, status = widgets.HTML(), widgets.HTML()
    card = melody_card()
    row, buttons, skip = rating_buttons()
    for w in (title, card, row):
        w.layout.display = "none"
    state: dict = {"queue": [], "pos": 0, "rater": "", "rated": 0}

    def show() -> None:
        if state["pos"] >= len(state["queue"]):
            title.value = f"<b>That was every melody. Thank you, {html.escape(state['rater'])}!</b>"
            card.layout.display = row.layout.display = "none"
            return
        source, i = state["queue"][state["pos"]]
        title.value = (
            f"<b>Melody {state['pos'] + 1}</b> ({len(state['queue']) - state['pos']} left)"
        )
        show_melody(card, sets[source][i], float(sets[source].unit_seconds[i]))

    def on_enter(_) -> None:
        rater = " ".join(name.value.split())
        if not rater or rater == AUTO_RATER:
            status.value = "Please type a name first (any name: it keeps your marks apart)."
            return
        state.update(rater=rater, queue=room_order(sets, csv_path, rater, seed), pos=0)
        signin.layout.display = "none"
        title.layout.display = card.layout.display = None
        row.layout.display = "flex"
        status.value = f"Rating as <b>{html.escape(rater)}</b>."
        show()

    def on_rate(button) -> None:
        if state["pos"] >= len(state["queue"]):
            return
        source, i = state["queue"][state["pos"]]
        ts = sets[source]
        if button is skip:
            status.value = f"Skipped. (That was {_describe(source, ts, i)}.)"
        else:
            append_rating(csv_path, str(ts.ids[i]), state["rater"], int(button.description))
            state["rated"] += 1
            status.value = f"Saved {button.description}. (That was {_describe(source, ts, i)}.)"
        state["pos"] += 1
        show()

    enter.on_click(on_enter)
    for b in [*buttons, skip]:
        b.on_click(on_rate)
    room = widgets.VBox(
        [intro, signin, title, card, row, status],
        layout=widgets.Layout(width="100%", max_width="760px", margin="0 auto", padding="4px"),
    )
    room.name, room.enter, room.buttons, room.skip, room.card = name, enter, buttons, skip, card
    room.state = state
    return room


def room_for_run(
    profile: str = "paper",
    run_dir: str | None = None,
    csv: str | None = None,
    seed: int = 0,
):
    """The room of a run folder (default: the profile's), as the served page calls it."""
    from vrashlib.config import load_config

    cfg = load_config(profile).filter
    run = paths.RunLayout(Path(run_dir)) if run_dir else paths.run_layout(profile)
    sets = rating_pool(run, cfg.n_real_rated, cfg.seed)
    return rating_room(sets, csv or run.my_ratings, seed=seed)


def write_room_notebook(path: str | os.PathLike, **arguments) -> Path:
    """The one-cell notebook Voilà serves: ``room_for_run(**arguments)``."""
    import nbformat

    args = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"from vrashlib.viz.rating_room import room_for_run\n\nroom_for_run({args})"
        )
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["title"] = "Rate melodies"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def free_port(preferred: int = DEFAULT_PORT) -> int:
    """``preferred`` when nothing on this machine listens there, else a port the OS says is free."""
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def voila_command(notebook: str | os.PathLike, *, port: int, ip: str = "127.0.0.1") -> list[str]:
    """The command line that serves ``notebook`` as a page on ``ip:port``."""
    return [
        sys.executable, "-m", "voila", str(notebook), f"--port={port}", f"--Voila.ip={ip}",
        "--no-browser", "--theme=light",
    ]  # fmt: skip


def serve(notebook: str | os.PathLike, *, port: int, ip: str = "127.0.0.1") -> subprocess.Popen:
    """Start Voilà on ``notebook`` (the caller stops it); its log goes to this stderr."""
    logger.info("serving the rating room at http://%s:%d/", ip, port)
    return subprocess.Popen(voila_command(notebook, port=port, ip=ip), cwd=paths.ROOT)
