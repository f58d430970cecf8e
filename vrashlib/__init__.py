"""vrashlib: the helper library behind the VRASH companion notebooks.

Modules, in the order data flows through them:

- ``encoding``  the note-event encoding (one place)
- ``tracks``    ``TrackSet``, the container for real and generated tracks
- ``data``      corpus / MIDI ingestion, normalisation, ingest report, cache
- ``models``    LM / VAE / VRASH on recurrent highway networks (Lightning)
- ``generate``  sampling, MIDI files, audio previews, piano rolls
- ``features``  information-theoretic features of a track
- ``ratings``   human ratings CSV and the automatic stand-in panel
- ``filtering`` classifiers, strict heuristics, Table 1
- ``mi``        mutual information vs distance (Fig. 6)
- ``stream``    the pseudo-live filtered stream (Fig. 5)
- ``config``, ``paths``, ``io``, ``reproduce``, ``cli``: plumbing
"""

__version__ = "0.1.0"
