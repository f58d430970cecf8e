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
# # Fig. 4: cross-entropy of LM, VAE and VRASH (paper, Sections 3-4)
#
# **The paper's claim.** Three architectures on recurrent highway networks generate
# melodies note by note: a language model (LM, Fig. 1), a variational autoencoder
# (VAE, Fig. 2) and the VAE "supported by history" (VRASH, Fig. 3). Fig. 4 shows
# their cross-entropy "near the saturation point", with the untrained random
# network as the reference baseline: "LM and VRASH demonstrate comparable cross
# entropy"; VRASH is "only marginally better" than the LM; the VAE is worse.
#
# **Here.** `vrashlib.models.network` builds the three as one network with two switches
# (latent z, history). Each is trained with the same budget (`cfg.train`) on the
# train split of the prepared corpus; validation cross-entropy is measured in bits
# per event (pitch class + octave + duration heads). Training resumes if
# interrupted (to the same weights) and is skipped when an up-to-date checkpoint
# exists, or when the trained models shipped in `weights/` were made with this
# config and dataset (`make figures RETRAIN=1` trains them anyway).
#
# A VAE whose decoder also hears the notes already played can ignore its code z
# ("posterior collapse"), and then VRASH is an LM with a little noise. So this
# notebook also measures what z carries (KL per melody, active units, mutual
# information, reconstruction from the melody's own code against a code from the
# prior, interpolations), and shows an ablation of the remedies, each trained for 400
# steps of batch 128 at width 256 (the paper profile's width when the default was
# chosen; 128 since). VRASH's default (free bits 0.5 nat/dim and no other remedy) was
# picked from it.

# %% tags=["parameters"]
PROFILE = "paper"
SEED = 0
OVERRIDES = {}

# %%
from vrashlib.notebook import setup

cfg, run, out = setup(PROFILE, OVERRIDES, SEED)

# %%
from IPython.display import display

from vrashlib.ablation import best_variant, run_ablation
from vrashlib.data.prepare import load_prepared
from vrashlib.files import save_table, savefig
from vrashlib.models.module import load_model
from vrashlib.models.parallel import Job, train_models
from vrashlib.models.training import build_module, cross_entropy_table
from vrashlib.sampling.reconstruct import diagnostics_table, with_diagnostics
from vrashlib.viz.training import (
    plot_cross_entropy,
    plot_interpolations,
    plot_latent_diagnostics,
)

tracks = load_prepared(run.dataset).tracks
val = tracks.select(split="val")
print(f"{len(tracks)} tracks; validation: {len(val)} tracks, {int(val.lengths.sum())} events")
print(f"model: {cfg.model}\ntraining: {cfg.train}")

# %% [markdown]
# ## Train the three models until they converge
# Each model trains until its validation bound has not improved by
# `cfg.train.min_improvement` bits/event for `cfg.train.patience` validations (one
# every `cfg.train.val_every_steps` steps, so the run is deterministic under its
# seed), with `cfg.train.max_steps` and `cfg.train.max_minutes` as safety caps;
# the weights with the best validation bound are kept. The three train at once
# (`cfg.train.parallel`), each in its own process with one thread: on two cores that
# takes about half the time of one after another and, at the paper's widths, gives the
# same weights. A "plateau" schedule (`cfg.train.lr_schedule`) halves the learning rate
# after `cfg.train.lr_patience` validations without an improvement, so that each model
# ends by early stopping at a small step size.

# %%
jobs = {kind: Job(kind, cfg, run.model_dir(kind)) for kind in ("lm", "vae", "vrash")}
results = train_models(jobs, tracks, parallel=cfg.train.parallel)
for kind, res in results.items():
    print(
        f"{kind:6s} {res.source}: {res.params:,} parameters, {res.seconds / 60:.1f} min, "
        f"{(res.history['split'] == 'val').sum()} validations, stopped by {res.stop_reason}"
    )

# %% [markdown]
# ## Fig. 4 and its table
# The `random` row is an untrained LM of the same configuration (the paper's
# reference baseline). For VAE and VRASH the cross-entropy is the reconstruction
# term with z drawn from the posterior, so it is not directly comparable with the
# LM's: the column `bound_total` (cross-entropy + KL per event, an upper bound on
# the bits per event of the model) is. The last four columns come from the latent
# diagnostics below: active units and I_q(x; z) of the code, and the free-running
# reconstruction accuracy from the melody's own code (`recon_acc_posterior`) and
# from a code drawn from the prior (`recon_acc_prior`; for the LM and the random
# network: decoded with no code at all).

# %%
models = {kind: load_model(res.checkpoint) for kind, res in results.items()}
models["random"] = build_module("lm", tracks, cfg).eval()
diag, interpolations = diagnostics_table(models, val, cfg.diagnostics, style=cfg.generate.styles[0])
table = cross_entropy_table(models, val, cfg.generate.batch_size, threads=cfg.diagnostics.threads)
table = with_diagnostics(table, diag)
save_table(table, "table_fig4_cross_entropy", out)
table

# %%
fig = plot_cross_entropy({k: res.history for k, res in results.items()}, table)
savefig(fig, "fig4_cross_entropy", out)

# %%
ce = table.set_index("model")
lm, vae, vrash, rnd = (ce.loc[k, "bound_total"] for k in ("lm", "vae", "vrash", "random"))
print(f"bits/event (bound): LM {lm:.3f}, VAE {vae:.3f}, VRASH {vrash:.3f}, random {rnd:.3f}")
print(f"VRASH - LM = {vrash - lm:+.3f} bits/event; VAE - LM = {vae - lm:+.3f} bits/event")
print(
    f"KL per track (bits): VAE {ce.loc['vae', 'kl_per_track']:.2f}, VRASH {ce.loc['vrash', 'kl_per_track']:.2f}"
)

# %% [markdown]
# **How ours compares.** The printed differences above are the honest comparison.
# Expect all three trained models far below the random network (the paper's
# baseline). LM and VRASH should land close together, because both see the notes
# already played; the VAE, whose decoder hears only z and the style, should be
# clearly worse, as in the paper. The paper trained on a private 15k-track MIDI
# corpus with unknown sizes and budget; our corpus and 2-core-CPU budget are
# smaller, so absolute numbers differ and only the ordering is comparable.

# %% [markdown]
# ## Does z carry the melody? Latent diagnostics
# On the validation melodies, for each model with a code:
#
# - **KL per melody** (bits) beside the **free-bits floor** (`model.free_bits` nats
#   x `z_dim`): a KL sitting at the floor is what the loss lets through for free,
#   and says nothing more.
# - **Active units**: latent dimensions whose posterior mean varies across melodies
#   (variance above `diagnostics.active_threshold` = 0.01; Burda et al. 2016).
# - **I_q(x; z)** (bits): the mutual information between melody and code under the
#   encoder (Hoffman & Johnson 2016); this estimate cannot exceed log2 of the number
#   of melodies (`mi_max_bits`).
# - **Reconstruction accuracy** (as MusicVAE reports it): the share of events
#   decoded exactly, teacher-forced and free-running (greedy decoding), from the
#   melody's own code (posterior mean) and from a code drawn from the prior. The
#   gap between the two is what z carries; without a gap the decoder ignores z.
# - **Interpolation**: greedy decodings along the spherical path between the codes
#   of two real melodies; `interp_step_change` is the share of events that change
#   per step, `interp_rho` how steadily the melody moves away from its start.
# - **Importance-weighted bound** (`iw_bound`, Burda et al. 2016): bits per event
#   with `diagnostics.iw_samples` codes per melody, on the same melodies as the
#   reconstruction, beside the ELBO from the same codes (`elbo_iw_sample`). Both
#   bound the bits per event from above; the importance-weighted one comes closer to
#   the model's true -log p(x). Free bits make the encoder spend more KL than the
#   decoder needs, so the ELBO overstates how far VRASH is from the LM; the LM's
#   row (its cross-entropy on the same melodies) is the reference.

# %%
save_table(diag, "table_latent_diagnostics", out)
iw = diag.set_index("model")
for kind in ("vae", "vrash"):
    print(
        f"{kind}: ELBO {iw.loc[kind, 'elbo_iw_sample']:.3f}, importance-weighted bound "
        f"{iw.loc[kind, 'iw_bound']:.3f} bits/event; above the LM's "
        f"{iw.loc['lm', 'iw_bound']:.3f} by {iw.loc[kind, 'iw_bound'] - iw.loc['lm', 'iw_bound']:+.3f}"
    )
diag

# %%
fig = plot_latent_diagnostics(diag)
savefig(fig, "fig_latent_diagnostics", out)

# %% [markdown]
# The piano rolls below are the decodings along each path (top: the first
# melody's code, bottom: the second's); the table lists their features.

# %%
fig = plot_interpolations(interpolations)
savefig(fig, "fig_latent_interpolation", out)

# %%
for kind, interp in interpolations.items():
    print(f"{kind}: {interp.ends[0]} -> {interp.ends[1]}")
    display(interp.features.round(3))

# %% [markdown]
# ## Which remedy? An ablation beside VRASH's default
# Before issue 10, VRASH's KL sat at its free-bits allowance (0.1 nat x 32 dimensions =
# 4.6 bits per melody): posterior collapse. `vrashlib.ablation` trains VRASH variants
# with the same budget (`cfg.ablation`: steps, validation interval, KL warm-up, width; a
# constant rate and no early stopping) and measures each as above, plus the validation
# bound, and the share of `cfg.ablation.n_generated` generated melodies that the
# automatic panel (notebook 04's stand-in for human raters) finds acceptable. The
# remedies: free bits at two levels (Kingma et al. 2016), history dropout (Bowman et al.
# 2016), cyclical KL annealing (Fu et al. 2019), a bag-of-notes loss (Zhao et al. 2017),
# a window of the last 4 events as decoder input ("uses previous outputs as additional
# inputs"), two combinations, and a hierarchical decoder (MusicVAE's conductor, Roberts
# et al. 2018: z unrolled into one code per phrase of 16 events, the decoder restarting
# every phrase from its code), alone and with the default's free bits; the LM and the
# VAE are references.
#
# The target for the default: KL at least `ablation.target_kl_bits` bits per melody,
# at least half of the latent dimensions active, a validation bound within
# `ablation.target_bound_gap` bits/event of the LM's, and free-running
# reconstruction from the posterior at least `ablation.target_recon_gain` better
# than from the prior (`meets_target`: all four). Finished variants are stored in
# the run folder, so this cell trains only what is missing. Training every variant
# takes about 55 minutes on 2 cores, so a run folder that has measured none uses the
# shipped measurements (`weights/<profile>/seed<N>/ablation.csv`) where their
# fingerprint (the variant's config, the dataset, the training code) is this one's,
# with `make figures RETRAIN=1` too; `make ablation` (`vrash ablation --fresh`) trains
# and measures them all here.

# %%
ablation = run_ablation(tracks, cfg, run)
save_table(ablation, "table_vrash_ablation", out)
ablation

# %%
print(f"best VRASH variant by the target: {best_variant(ablation)}")
print(f"VRASH as configured now: {cfg.model}")

# %% [markdown]
# At this budget no variant meets all four targets. `best_variant` then takes the one
# that meets the most (ties broken by the reconstruction gain, then the bound): in the
# committed run free bits 0.5 with the 4-event window (`fb0.5+window4`, the only one
# with three of four). The default is free bits
# 0.5 alone: the two were also trained for 1,500 steps at width 256 (then the paper
# profile), where the default ends lower (3.595 against 3.607 bits/event;
# `benchmarks/results/window4_1500steps.md`), and the panel accepts more of its melodies
# at 400 steps. A short budget does not always rank the remedies as full training does.
