"""A rating panel for notebook 04: listen to a track, see its piano roll, click 1-5.

Every click goes straight into a ratings CSV through
:func:`vrashlib.filter.ratings.append_rating` (locked, atomic), so a reader can rate
tracks herself over several sessions and rerun Table 1 on her own ratings
(notebook 04's ``RATINGS_CSV`` parameter). Rating is blind: the panel shows
"track k of n" and reveals which model made it only after the click.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vrashlib.data.tracks import TrackSet
from vrashlib.filter.ratings import MAX_RATING, MIN_RATING, append_rating, load_ratings

SAMPLE_RATE = 22050  # Hz


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
    import matplotlib.pyplot as plt
    from IPython.display import Audio, display

    from vrashlib.sampling.audio import synthesize
    from vrashlib.viz import piano_roll

    if rater == "auto-panel":
        raise ValueError("'auto-panel' is the automatic panel's rater name; choose your own")
    queue = rating_order(tracks, csv_path, rater, seed)
    state = {"pos": 0, "last": ""}
    title, status, out = widgets.HTML(), widgets.HTML(), widgets.Output()
    buttons = [
        widgets.Button(description=str(r), layout=widgets.Layout(width="48px"))
        for r in range(MIN_RATING, MAX_RATING + 1)
    ]
    skip = widgets.Button(description="skip", layout=widgets.Layout(width="64px"))

    def show() -> None:
        out.clear_output(wait=True)
        if state["pos"] >= len(queue):
            title.value = f"<b>All {len(tracks)} tracks rated by {rater}.</b> Rerun notebook 04 with RATINGS_CSV='{csv_path}'."
            for b in [*buttons, skip]:
                b.disabled = True
            return
        i = queue[state["pos"]]
        title.value = f"<b>track {state['pos'] + 1} of {len(queue)}</b> (1 = awful ... 5 = lovely; 4-5 count as acceptable)"
        with out:
            fig, ax = plt.subplots(figsize=(8, 2.2))
            piano_roll(tracks[i], float(tracks.unit_seconds[i]), ax=ax)
            display(fig)
            plt.close(fig)
            if audio and len(tracks[i]):
                sound = synthesize(tracks[i], float(tracks.unit_seconds[i]), SAMPLE_RATE)
                display(Audio(sound, rate=SAMPLE_RATE))

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
        row.layout.display = None
        show()

    for b in [*buttons, skip]:
        b.on_click(on_rate)
    # Nothing is drawn or synthesised until "start": a headless run (papermill) only
    # builds the panel, it never embeds audio into the executed notebook.
    start = widgets.Button(description=f"start rating ({len(queue)} to go)", button_style="primary")
    start.layout.width = "240px"
    start.on_click(on_start)
    row = widgets.HBox([*buttons, skip], layout=widgets.Layout(display="none"))
    title.value = f"<b>Rate {len(queue)} tracks into {csv_path}</b>"
    panel = widgets.VBox([title, start, out, row, status])
    panel.buttons, panel.skip, panel.start = buttons, skip, start
    return panel
