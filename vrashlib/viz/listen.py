"""Notebook 00's controls: play a melody now, explore models and styles, walk between two.

:func:`listen` shows a melody as ordinary cell outputs (a piano roll and a player, which
the executed notebook and the report keep). :func:`melody_explorer` and
:func:`walk_explorer` are ipywidgets panels; each makes its first melody when it is
built, so a headless run (papermill) exercises them too. The card they draw into is
the rating room's (:func:`vrashlib.viz.rating.melody_card`).
"""

from __future__ import annotations

import logging

from vrashlib.data.tracks import TrackSet
from vrashlib.sampling.audio import audio_preview

logger = logging.getLogger(__name__)

TEMPERATURES = (0.3, 2.0)  # the explorer's slider: near-greedy ... wild


def caption(tracks: TrackSet, i: int = 0) -> str:
    """``vrash/bach/0000: 64 events, 21.3 s`` for one track."""
    from vrashlib.data.encoding import durations_in_units

    seconds = float(durations_in_units(tracks[i]).sum() * tracks.unit_seconds[i])
    return f"{tracks.ids[i]}: {len(tracks[i])} events, {seconds:.1f} s"


def listen(tracks: TrackSet, i: int = 0, *, seconds: float = 30.0) -> None:
    """Display track ``i``'s caption, piano roll (a PNG, whatever matplotlib's backend)
    and a player of its first ``seconds``, as cell outputs."""
    from IPython.display import HTML, Image, display

    from vrashlib.viz.rating import piano_roll_png

    unit = float(tracks.unit_seconds[i])
    display(HTML(f"<b>{caption(tracks, i)}</b>"))
    display(Image(data=piano_roll_png(tracks[i], unit), format="png"))
    display(audio_preview(tracks[i], unit, seconds=seconds))


def melody_explorer(
    models: dict,
    styles,
    *,
    model: str | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    max_len: int = 256,
):
    """Model (first: ``model``), style, temperature and seed controls over a melody card.

    ``panel.generate()`` (the button) samples with the current settings and shows the
    melody; ``panel.melody`` is the last one (a one-track TrackSet).
    """
    import ipywidgets as widgets

    from vrashlib.sampling.listen import melody
    from vrashlib.viz.rating import melody_card, show_melody

    wide = {"description_width": "initial"}
    kind = widgets.Dropdown(
        options=list(models),
        value=model if model in models else next(iter(models)),
        description="model",
    )
    style = widgets.Dropdown(options=list(styles), description="style")
    temp = widgets.FloatSlider(
        value=temperature, min=TEMPERATURES[0], max=TEMPERATURES[1], step=0.05,
        description="temperature", readout_format=".2f", style=wide,
    )  # fmt: skip
    seed_box = widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed")
    button = widgets.Button(description="generate", button_style="primary", icon="music")
    title, card = widgets.HTML(), melody_card()
    panel = widgets.VBox(
        [widgets.HBox([kind, style], layout=widgets.Layout(flex_flow="row wrap")),
         widgets.HBox([temp, seed_box, button], layout=widgets.Layout(flex_flow="row wrap")),
         title, card],
        layout=widgets.Layout(max_width="900px"),
    )  # fmt: skip

    def generate(_=None) -> None:
        model = models[kind.value]
        if style.value not in model.styles:
            title.value = f"<b>{kind.value} does not know the style {style.value!r}</b>"
            return
        panel.melody = melody(
            model, style.value, seed=seed_box.value, temperature=temp.value, max_len=max_len
        )
        title.value = (
            f"<b>{caption(panel.melody)}</b> (T = {temp.value:.2f}, seed {seed_box.value})"
        )
        show_melody(card, panel.melody[0], float(panel.melody.unit_seconds[0]))

    button.on_click(generate)
    panel.generate, panel.controls, panel.card = generate, (kind, style, temp, seed_box), card
    generate()
    return panel


def walk_explorer(
    model,
    styles,
    real: TrackSet | None = None,
    *,
    steps: int = 7,
    seeds=(1, 2, 3, 4),
    seed: int = 0,
    temperature: float = 1.0,
    max_len: int = 256,
):
    """Interpolate in ``model``'s latent space between two melodies, real or generated.

    Pick the two ends (a seed's melody, or a real melody of ``real``) and a style,
    press "walk": ``steps`` melodies on the line between the two codes, all sampled
    with the same noise; the slider moves along them. ``panel.walk()`` is the button,
    ``panel.melodies`` the last walk (a TrackSet), ``panel.slider`` the position.
    """
    import ipywidgets as widgets

    from vrashlib.sampling.listen import walk
    from vrashlib.viz.rating import melody_card, show_melody

    ends = [(f"generated, seed {s}", int(s)) for s in seeds]
    if real is not None:
        ends += [(f"real: {tid}", str(tid)) for tid in real.ids[:20]]
    start = widgets.Dropdown(options=ends, value=ends[0][1], description="from")
    end = widgets.Dropdown(
        options=ends, value=ends[-1][1] if real is not None else ends[1][1], description="to"
    )
    style = widgets.Dropdown(options=[s for s in styles if s in model.styles], description="style")
    button = widgets.Button(description="walk", button_style="primary", icon="arrows-h")
    slider = widgets.IntSlider(
        value=0, min=0, max=steps - 1, description="step", continuous_update=False
    )
    title, card = widgets.HTML(), melody_card()
    panel = widgets.VBox(
        [widgets.HBox([start, end], layout=widgets.Layout(flex_flow="row wrap")),
         widgets.HBox([style, button], layout=widgets.Layout(flex_flow="row wrap")),
         slider, title, card],
        layout=widgets.Layout(max_width="900px"),
    )  # fmt: skip

    def show(_=None) -> None:
        k = slider.value
        w = k / (steps - 1)
        title.value = f"<b>step {k} of {steps - 1}</b> ({1 - w:.0%} start, {w:.0%} end): {caption(panel.melodies, k)}"
        show_melody(card, panel.melodies[k], float(panel.melodies.unit_seconds[k]))

    def do_walk(_=None) -> None:
        panel.melodies = walk(
            model, start.value, end.value, style.value, steps=steps, real=real,
            temperature=temperature, seed=seed, max_len=max_len,
        )  # fmt: skip
        slider.value = 0
        show()

    button.on_click(do_walk)
    slider.observe(show, names="value")
    panel.walk, panel.slider, panel.card, panel.ends = do_walk, slider, card, (start, end)
    do_walk()
    return panel
