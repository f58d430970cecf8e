# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 — Music representation and data (Section 2 of the paper)
#
# The paper trains on "four gigabytes of midi files" (proprietary), split into
# tracks and normalised track by track, ending with **15+ thousand normalised
# tracks**. We rebuild the same pipeline on open data: the music21 corpus (Bach
# chorales, Palestrina, Monteverdi, Trecento: each voice a track; Essen folk
# songs, O'Neill's 1850, Ryan's Mammoth, Aird's Airs: each tune a track). Any
# folder of MIDI / ABC / MusicXML / kern files can be added (or used instead) through
# the settings `data.midi_dirs` / `data.music_dirs` (`"PATH=STYLE"`) and
# `data.use_corpus`, e.g. in `OVERRIDES` below; the README shows the whole pipeline
# on your own collection.

# %% tags=["parameters"]
PROFILE = "paper"
SEED = 0
OVERRIDES = {}

# %%
from vrashlib.notebook import setup

cfg, run, out = setup(PROFILE, OVERRIDES, SEED)

# %%
import matplotlib.pyplot as plt
from IPython.display import display

from vrashlib.data import prepare as vdata
from vrashlib.data.encoding import describe
from vrashlib.files import save_table, savefig
from vrashlib.viz.data import example_index, fig_data_overview

cfg.data

# %% [markdown]
# ## Normalisation, step by step
#
# Per track (`vrashlib.data.normalise`, documented there):
#
# 1. **One melodic line.** A part or MIDI track may be polyphonic; the *skyline*
#    rule keeps, at each onset, the highest note (hidden if a higher note still
#    sounds). A note lasts until the next onset; a gap of at least
#    `min_rest_quarters` becomes a rest event. MIDI drum tracks are dropped.
# 2. **Durations.** The paper: "for each track, a median pause was calculated …
#    the absolute majority of the pauses are equal to the median pause multiplied
#    with a rational coefficient (1/2 and 3/2 being especially popular)". Every
#    event length is divided by the track's median event length and snapped onto
#    one global vocabulary of ratios n/d (d ∈ {1,2,3,4,6,8,12,16}); the track's
#    tempo is kept as `unit_seconds` (seconds per ratio 1) so it can be played back.
#    Rests longer than `max_rest_ratio` medians (a voice waiting bars in a
#    polyphonic piece) are shortened to it, so silences do not count as extra
#    duration values.
# 3. **Octave.** "The median pitch of every track was transposed to the 4th
#    octave": the whole track moves by whole octaves.
# 4. **Filters.** Tracks with more than eleven distinct duration ratios (the
#    paper's rule), tracks with too low pitch entropy (the paper's "house bass
#    line" — our threshold is a parameter, default 1.5 bits: fewer than about
#    three equally used pitches), tracks shorter than `min_events`, tracks whose
#    timing does not fit the vocabulary (`off_grid`) and tracks that leave the
#    nine-octave range are dropped, as are MIDI drum tracks and sound-effect
#    programs, and (optional, off by default) accompaniment figures. The first
#    filter a track fails is its reason.
# 5. **Duplicates and the split.** A track whose normalised events equal a
#    track read before it is dropped as a `duplicate` (a part doubled on two
#    instruments, a tune printed in two collections). The split is by piece (a
#    file, or one tune of an ABC file; pieces that share a track up to
#    transposition count as one), stratified by style: the voices of a chorale
#    and the copies of a tune stay on one side.
#
# Parsing runs in `cfg.data.workers` processes, each input under a time limit
# (`data.parse_timeout_seconds`); the result is cached in `run.dataset` and
# reused while parameters, inputs and library versions are unchanged.

# %%
prepared = vdata.prepare_from_config(cfg.data, run.dataset)
print(vdata.summary(prepared))

# %% [markdown]
# ## Every input accounted for
#
# One row per input file, and per entry that looks like input but is not read
# (status `skipped`: another format of a piece, a symlink loop): parsed tunes,
# failures with their reason, tracks read, kept and dropped by each filter. The identity
# `tracks_read = tracks_kept + Σ dropped_*` is checked for every row before
# anything is written.

# %%
vdata.check_accounting(prepared.report)
display(prepared.report["status"].value_counts().to_frame("files"))
display(prepared.report.query("status != 'ok' or failed > 0").head(10))

# %% [markdown]
# ## The dataset per style
#
# The paper ends with "15+ thousand normalized tracks" from 4 GB of MIDI; the
# table shows how many we keep from the open corpus (the `paper` profile reads
# all of it; `smoke` reads a seeded sample of 12 tunes per collection).

# %%
table = vdata.dataset_table(prepared)
save_table(table, "table_dataset", out)
display(table)
print(f"kept {len(prepared.tracks):,} tracks (paper: 15,000+)")

# %% [markdown]
# ## Distributions, entropy threshold, lengths and an example melody
#
# Top row: the ingest funnel (which filter removed how many tracks, per style),
# pitch classes and octaves after the shift (octave 4 dominates by construction).
# Middle row: the duration ratios — 1, 1/2, 2 and 3/2 should lead, as the
# paper observes — the per-track pitch entropy of *every* track read with the
# threshold marked, and track lengths per style. Bottom: one melody as a piano
# roll, in seconds, using its own `unit_seconds`.

# %%
fig = fig_data_overview(prepared, threshold=cfg.data.min_pitch_entropy)
savefig(fig, "fig_data_overview", out)
plt.close(fig)
fig

# %%
i = example_index(prepared.tracks)
print(prepared.tracks.ids[i], f"{prepared.tracks.unit_seconds[i]:.3f} s per unit")
print(describe(prepared.tracks[i], limit=24))

# %% [markdown]
# ## Split
#
# Train / validation / test by track, stratified by style, seeded
# (`cfg.data.val_fraction`, `cfg.data.test_fraction`). Later notebooks load the
# dataset with `vrashlib.data.prepare.load_prepared(run.dataset)`.

# %%
prepared.manifest["split_counts"]
