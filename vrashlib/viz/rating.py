"""Rating by ear: the melody card (piano roll + player) and notebook 04's rating panel.

Every click goes straight into a ratings CSV through
:func:`vrashlib.filter.ratings.append_rating` (locked, atomic), so a reader can rate
tracks herself over several sessions and rebuild Table 1 on her own ratings (the
setting ``filter.ratings_csv``). Rating is blind: the panel shows "track k of n"
and says which model made a melody only after the click.

The card and the row of buttons are shared with the rating room in the browser
(:mod:`vrashlib.viz.rating_room`): plain ``ipywidgets`` (an ``Image`` and an
``Audio``), which JupyterLab and Voilà draw alike, on a phone-sized screen too.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from vrashlib.data.tracks import TrackSet
from vrashlib.filter.ratings import MAX_RATING, MIN_RATING, append_rating, load_ratings
from vrashlib.sampling.audio import SAMPLE_RATE

RATINGS = tuple(range(MIN_RATING, MAX_RATING + 1))
SCALE_TEXT = f"{MIN_RATING} = awful ... {MAX_RATING} = lovely; 4-5 count as acceptable"


def rating_order(
    tracks: TrackSet, csv_path: str | os.PathLike, rater: str, seed: int = 0
) -> list[int]:
    """Indices of the tracks ``rater`` has not rated yet, in a seeded random order."""
    order = np.random.default_rng(seed).permutation(len(tracks))
    path = Path(csv_path)
    done = set()
    if path.exists():
        df = load_ratings(path)
        done = set(df.loc[df["rater"] == rater, "track_id"])
    return [int(i) for i in order if str(tracks.ids[i]) not in done]


def piano_roll_png(events: np.ndarray, unit_seconds: float, *, dpi: int = 100) -> bytes:
    """A melody's piano roll as PNG bytes (wide and low: it fits a phone's width)."""
    from matplotlib.figure import Figure

    from vrashlib.viz import piano_roll

    fig = Figure(figsize=(8, 2.4), dpi=dpi)  # no pyplot: nothing left open, no display
    piano_roll(events, unit_seconds, ax=fig.add_subplot())
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def melody_wav(events: np.ndarray, unit_seconds: float) -> bytes:
    """A melody as WAV bytes, synthesised by :func:`vrashlib.sampling.audio.synthesize`."""
    from vrashlib.sampling import audio

    return audio.wav_bytes(audio.synthesize(events, unit_seconds, SAMPLE_RATE), SAMPLE_RATE)


def audio_tag(wav: bytes) -> str:
    """An HTML ``<audio>`` player with the WAV inside it (a data URL: no file, no server)."""
    import base64

    data = base64.b64encode(wav).decode("ascii")
    return (
        f'<audio controls preload="auto" style="width:100%" src="data:audio/wav;base64,{data}">'
        "</audio>"
    )


def melody_card(*, audio: bool = True):
    """An empty card: ``card.roll`` (an ``Image``) over ``card.player`` (an HTML ``<audio>``).

    The player is an ``HTML`` widget rather than ``ipywidgets.Audio``, whose blob URL
    Voilà's page fails to load when the melody changes.
    """
    import ipywidgets as widgets

    roll = widgets.Image(format="png", layout=widgets.Layout(width="100%", height="auto"))
    player = widgets.HTML(layout=widgets.Layout(width="100%", display=None if audio else "none"))
    card = widgets.VBox([roll, player], layout=widgets.Layout(width="100%"))
    card.roll, card.player, card.audio = roll, player, audio
    return card


def show_melody(card, events: np.ndarray, unit_seconds: float) -> None:
    """Draw and (when the card has audio) synthesise one melody into ``card``."""
    card.roll.value = piano_roll_png(events, unit_seconds)
    if card.audio:
        card.player.value = audio_tag(melody_wav(events, unit_seconds)) if len(events) else ""


def rating_buttons():
    """The buttons 1..5 and skip, in a row that wraps on a narrow screen."""
    import ipywidgets as widgets

    def layout(width: str):
        return widgets.Layout(flex="1 1 0%", min_width=width, height="48px", margin="2px")

    buttons = [
        widgets.Button(description=str(r), tooltip=f"rate {r}", layout=layout("44px"))
        for r in RATINGS
    ]
    skip = widgets.Button(description="skip", tooltip="no rating", layout=layout("64px"))
    row = widgets.HBox([*buttons, skip], layout=widgets.Layout(flex_flow="row wrap", width="100%"))
    return row, buttons, skip


def rating_panel(
    tracks: TrackSet,
    csv_path: str | os.PathLike,
    *,
    rater: str = "me",
    seed: int = 0,
    audio: bool = True,
):
    """An ipywidgets panel that rates ``tracks`` one by one into ``csv_path``.

    Returns the panel (display it as a notebook cell's last expression). The
    buttons are ``panel.start``, ``panel.buttons`` (1..5) and ``panel.skip``;
    clicking one of them from code does what a click does (used by the tests).
    """
    import ipywidgets as widgets

    if rater == "auto-panel":
        raise ValueError("'auto-panel' is the automatic panel's rater name; choose your own")
    queue = rating_order(tracks, csv_path, rater, seed)
    state = {"pos": 0}
    title, status = widgets.HTML(), widgets.HTML()
    card = melody_card(audio=audio)
    row, buttons, skip = rating_buttons()

    def show() -> None:
        if state["pos"] >= len(queue):
            title.value = (
                f"<b>All {len(tracks)} tracks rated by {rater}.</b> Rebuild Table 1 on them: "
                f"the setting filter.ratings_csv={csv_path}"
            )
            for b in [*buttons, skip]:
                b.disabled = True
            card.layout.display = "none"
            return
        i = queue[state["pos"]]
        title.value = f"<b>track {state['pos'] + 1} of {len(queue)}</b> ({SCALE_TEXT})"
        show_melody(card, tracks[i], float(tracks.unit_seconds[i]))

    def on_rate(button) -> None:
        i = queue[state["pos"]]
        if button is not skip:
            append_rating(csv_path, str(tracks.ids[i]), rater, int(button.description))
            status.value = f"saved {button.description} for {tracks.ids[i]} in {csv_path}"
        else:
            status.value = f"skipped {tracks.ids[i]}"
        state["pos"] += 1
        show()

    def on_start(_) -> None:
        start.layout.display = "none"
        card.layout.display = None
        row.layout.display = "flex"
        show()

    for b in [*buttons, skip]:
        b.on_click(on_rate)
    # Nothing is drawn or synthesised until "start": a headless run (papermill) only
    # builds the panel, it never embeds audio into the executed notebook.
    start = widgets.Button(description=f"start rating ({len(queue)} to go)", button_style="primary")
    start.layout.width = "240px"
    start.on_click(on_start)
    card.layout.display = row.layout.display = "none"
    title.value = f"<b>Rate {len(queue)} tracks into {csv_path}</b>"
    panel = widgets.VBox(
        [title, start, card, row, status], layout=widgets.Layout(max_width="760px")
    )
    panel.buttons, panel.skip, panel.start, panel.card = buttons, skip, start, card
    return panel
