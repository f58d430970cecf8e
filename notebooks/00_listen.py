# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Listen first: melodies from LM, VAE and VRASH, now
#
# The paper (Yamshchikov & Tikhonov, 2020) trains three recurrent models of monophonic
# melodies: a language model (**LM**), a variational autoencoder (**VAE**), and
# **VRASH**, a VAE whose decoder also hears the notes it has already written. Each
# melody is made for a *style* (here Bach chorales or fiddle tunes), and VAE and VRASH
# draw it from a point of a 32-dimensional latent space.
#
# This notebook needs no training: it loads the trained models that ship with the
# repository (`weights/`), or the run folder's models if you trained your own
# (notebook 02). Run all cells; it takes well under a minute on a CPU. The notebooks
# after this one rebuild the paper's figures and tables.

# %% tags=["parameters"]
PROFILE = "paper"
SEED = 0
OVERRIDES = {}
MODEL = "vrash"  # the model of the first melody and of the latent walk (vae or vrash)

# %%
from vrashlib.notebook import setup

cfg, run, out = setup(PROFILE, OVERRIDES, SEED)

# %%
from vrashlib.sampling.listen import load_listening_models, melody, real_melodies
from vrashlib.viz.listen import listen, melody_explorer, walk_explorer

g = cfg.generate
models = load_listening_models(PROFILE, cfg.train.seed)
list(models)

# %% [markdown]
# ## One melody, right away
#
# A Bach-style melody from VRASH at temperature 1 (the paper's setting). Above, its
# piano roll (time across, pitch up); below, a player. The sound is a General MIDI
# piano from a SoundFont that ships with the `pretty_midi` package.

# %%
first = melody(models[MODEL], g.styles[0], seed=SEED, max_len=g.max_len)
listen(first)

# %% [markdown]
# ## Any model, style, temperature and seed
#
# Lower temperatures play it safe (and repeat themselves), higher ones take risks. The
# same seed always gives the same melody. The paper's claim to listen for: VRASH and
# the VAE repeat single notes less than the LM does (notebook 03 measures it).

# %%
melody_explorer(
    models, g.styles, model=MODEL, seed=SEED, temperature=g.temperature, max_len=g.max_len
)

# %% [markdown]
# ## Walking between two melodies
#
# VAE and VRASH give every melody a point in latent space. Pick two ends, generated
# (from a seed) or real (a melody's posterior mean), and move the slider: the melodies
# in between are sampled from the points on the straight line joining them, all with
# the same random numbers, so that only the latent code changes. How smoothly the
# melody turns from one end into the other shows how much the code, rather than the
# decoder's own history, decides what is played. `vrash interpolate` does the same on
# the command line and writes MIDI and WAV files.

# %%
walk_explorer(
    models[MODEL],
    g.styles,
    real_melodies(run, PROFILE, cfg.train.seed),
    seed=SEED,
    temperature=g.temperature,
    max_len=g.max_len,
)
