"""vrashlib: the helper library behind the VRASH companion notebooks.

Subpackages follow the paper's stages and the notebooks; data flows down this
list and imports only point down it (``viz`` draws what the others compute):

- ``data``       Section 2, notebook 01: where tracks come from and how they become
                 a normalised dataset
    - ``encoding``    the note-event encoding (one place)
    - ``sources``     inputs as work units (music21 corpus, MIDI, ABC/MusicXML/kern)
    - ``normalise``   the paper's per-track normalisation and the filters that drop tracks
    - ``tracks``      ``TrackSet``, the container for real and generated tracks
    - ``ingest``      parallel parsing, every input accounted for
    - ``pool``        worker processes with a time limit per input
    - ``split``       pieces, duplicates, the split by piece
    - ``prepare``     the cached, split dataset (``prepare`` / ``load_prepared``)
    - ``datamodule``  length-bucketed training batches
- ``models``     Section 3, notebook 02: LM / VAE / VRASH (``models.KINDS``)
    - ``rhn``         the recurrent highway network and its hand-written backward pass
    - ``network``     one network with two switches (latent code, history), the losses
    - ``module``      the LightningModule, early stopping, its checked checkpoints
    - ``training``    training to convergence, resume (bit-identical), shipped weights used
    - ``parallel``    several models trained at once, one process and one thread each
    - ``evaluation``  bits per event on a track set, Fig. 4's table
    - ``diagnostics`` what the latent code carries: KL, active units, I_q, teacher-forced accuracy
    - ``weights``     shipped trained models (weights/): safetensors + JSON manifest
- ``sampling``   notebooks 00, 03: melodies out of a trained model
    - ``sampler``     exported decoder weights and the step loop (numpy reference, torch)
    - ``kernels``     the same loop compiled with numba (small batches, the stream)
    - ``workers``     several batches at once, one per core
    - ``generate``    sampling API, interpolation, statistics of generated sets
    - ``reconstruct`` greedy decoding from a melody's own code, interpolation paths,
                      the latent diagnostics table (notebook 02)
    - ``realism``     generated vs real: realness AUC, short melodies, runs, leaps
    - ``audio``       MIDI and WAV files, SoundFont sound, previews
    - ``listen``      a model without training (shipped weights), melodies on demand, walks
- ``filter``     Section 4, Table 1, notebook 04: the post-generation filter
    - ``features``    the paper's information-theoretic features
    - ``autorater``   the automatic stand-in for the paper's human raters
    - ``ratings``     the ratings CSV: format, validation, safe appends
    - ``heuristics``  strict threshold rules
    - ``classifiers`` the classifiers, ``Filter``, Table 1
- ``analysis``   Fig. 6, Table 1 with intervals, the claims ledger (notebooks 04, 05, 07)
    - ``mi``          mutual information vs distance, token streams, bootstrap rows
    - ``keys``        each melody's key; key-invariant tokens; out-of-key notes
    - ``fig6``        Fig. 6's sets, excess curves and the five observations
    - ``table1``      Table 1 on repeated splits, both protocols; strict heuristics
    - ``repeats``     repeated notes and runs per melody
    - ``similarity``  generated vs real of the same style (overlapping areas, realness)
    - ``seeds``       trained seeds found, fresh generation seeds
    - ``uncertainty`` bootstrap over melodies, spread over seeds (``Estimate``, ``Draws``)
    - ``seed_claims`` the ledger's own measurements (Fig. 4, melodies, the stream)
    - ``claims``      every claim, the verdict rule, the ledger
- ``stream``     Fig. 5, notebook 06: the pseudo-live filtered stream
    - ``live``        generate, filter, de-duplicate, report
    - ``dedup``       repeats and training-set copies
    - ``playlist``    melodies back to back in one MIDI or WAV file
- ``viz``        the notebooks' figures, the rating widget (``viz.rating``), the rating
                 room served in a browser (``viz.rating_room``), notebook 00's controls
                 (``viz.listen``)

At the top: ``config`` (every setting, profiles), ``paths`` (the repository's
folders and one run folder's layout), ``files`` (atomic writes, figures and
tables out), ``cli`` (the only command layer), ``reproduce`` (papermill over the
notebooks, the output registry), ``ablation`` (VRASH's remedies for posterior
collapse, trained and measured: it uses models, sampling and filter at once),
``report`` (the executed notebooks as a static web site), ``notebook`` (the call that opens a notebook,
and shows the library's log messages in it), ``threads`` (torch's thread count
for a block, restored after), ``reproducibility`` (the CPU kernels pinned, on import,
so that every x86-64 CPU with AVX2 computes the same numbers).

The library reports progress through ``logging.getLogger(__name__)``, never print().
"""

__version__ = "0.1.0"

# Before numpy or torch load their kernels: the same numbers on every x86-64 CPU with AVX2.
from vrashlib.reproducibility import pin_cpu_kernels  # noqa: E402

pin_cpu_kernels()
