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
    - ``prepare``     the cached, split dataset (``prepare`` / ``load_prepared``)
    - ``datamodule``  length-bucketed training batches
- ``models``     Section 3, notebook 02: LM / VAE / VRASH (``models.KINDS``)
    - ``rhn``         the recurrent highway network and its hand-written backward pass
    - ``network``     one network with two switches (latent code, history), the losses
    - ``module``      the LightningModule and its checkpoints
    - ``training``    training, resume, evaluation, Fig. 4's table
- ``sampling``   notebook 03: melodies out of a trained model
    - ``sampler``     exported decoder weights and the step loop (numpy reference, torch)
    - ``kernels``     the same loop compiled with numba (small batches, the stream)
    - ``workers``     several batches at once, one per core
    - ``generate``    sampling API, interpolation, statistics of generated sets
    - ``audio``       MIDI files, audio, previews
- ``filter``     Section 4, Table 1, notebook 04: the post-generation filter
    - ``features``    the paper's information-theoretic features
    - ``autorater``   the automatic stand-in for the paper's human raters
    - ``ratings``     the ratings CSV: format, validation, safe appends
    - ``heuristics``  strict threshold rules
    - ``classifiers`` the classifiers, ``Filter``, Table 1
- ``analysis``   Fig. 6, notebook 05: mutual information vs distance (``mi``)
- ``stream``     Fig. 5, notebook 06: the pseudo-live filtered stream
    - ``live``        generate, filter, de-duplicate, report
    - ``dedup``       repeats and training-set copies
    - ``playlist``    melodies back to back in one MIDI or WAV file
- ``viz``        the notebooks' figures, and the rating widget (``viz.rating``)

At the top: ``config`` (every setting, profiles), ``paths`` (the repository's
folders and one run folder's layout), ``files`` (atomic writes, figures and
tables out), ``cli`` (the only command layer), ``reproduce`` (papermill over the
notebooks, the output registry), ``notebook`` (the call that opens a notebook,
and shows the library's log messages in it), ``threads`` (torch's thread count
for a block, restored after).

The library reports progress through ``logging.getLogger(__name__)``, never print().
"""

__version__ = "0.1.0"
