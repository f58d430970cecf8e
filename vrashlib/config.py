"""Configuration: frozen dataclasses, one per stage, and named profiles.

``smoke`` is tiny (tests and CI, minutes); ``paper`` is the real reproduction
on a 2-core CPU (about an hour for ``make figures``). Overrides are given as
``{"section.field": value}``; an unknown section or field raises, so a typo in
a notebook parameter never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, replace
from typing import Any

# Collections of the music21 corpus and the style label of their tracks.
CORPUS_STYLES: dict[str, str] = {
    "bach": "bach",
    "palestrina": "renaissance",
    "monteverdi": "renaissance",
    "trecento": "medieval",
    "essenFolksong": "folk",  # refined to german_folk / chinese_folk per file
    "oneills1850": "fiddle",
    "ryansMammoth": "fiddle",
    "airdsAirs": "fiddle",
}


@dataclass(frozen=True)
class DataConfig:
    collections: tuple[str, ...] = tuple(CORPUS_STYLES)
    # Tunes sampled (seeded) per collection; None = all. The smoke profile keeps CI fast.
    max_tunes_per_collection: int | None = None
    min_events: int = 16  # shorter tracks carry too little melody to learn from
    max_distinct_durations: int = 11  # the paper's rule
    # Pitch entropy (bits, pitch with octave) below which a track is dropped; 1.5 bits
    # is fewer than ~3 equally used pitches: drones, bass ostinati, one-note rhythms.
    min_pitch_entropy: float = 1.5
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    workers: int = 2  # parsing processes
    seed: int = 0


@dataclass(frozen=True)
class ModelConfig:
    pc_embed: int = 16
    oct_embed: int = 8
    dur_embed: int = 16
    style_embed: int = 8
    hidden: int = 256
    depth: int = 3  # RHN recurrence depth L (micro-steps per time step)
    layers: int = 1
    dropout: float = 0.2
    z_dim: int = 32
    encoder_hidden: int = 256
    encoder_depth: int = 2
    kl_warmup_steps: int = 2000  # linear KL weight ramp 0 -> 1 (Bowman et al. 2016)
    free_bits: float = 0.0  # nats per latent dimension not penalised (0 = off)
    history_dropout: float = 0.0  # VRASH: share of history tokens replaced by "unknown"


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 64
    max_len: int = 256  # training crops longer tracks to a random window of this length
    lr: float = 2e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_epochs: int = 30
    max_steps: int = -1
    max_minutes: float | None = 12.0  # wall-clock budget per model (None = unlimited)
    val_every_steps: int = 200
    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    threads: int = 2
    num_workers: int = 0
    seed: int = 0


@dataclass(frozen=True)
class GenerateConfig:
    styles: tuple[str, ...] = ("bach", "fiddle")
    n_per_style: int = 500
    max_len: int = 256
    temperature: float = 1.0
    batch_size: int = 64
    seed: int = 0


@dataclass(frozen=True)
class FilterConfig:
    windows: tuple[int, ...] = (8, 16, 32, 64, 128)
    test_shares: tuple[float, ...] = (0.5, 0.4, 0.3, 0.2)
    n_real_rated: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class MIConfig:
    max_distance: int = 256
    n_distances: int = 24
    token: str = "pitch"  # pitch (with octave) | pitch_class | duration | event
    n_bootstrap: int = 50
    seed: int = 0


@dataclass(frozen=True)
class StreamConfig:
    model: str = "vrash"
    style: str = "bach"
    music_minutes: float = 10.0
    batch_size: int = 32
    threads: int = 1
    seed: int = 0


@dataclass(frozen=True)
class Config:
    profile: str = "paper"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    mi: MIConfig = field(default_factory=MIConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)


PROFILES: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {
        "data.max_tunes_per_collection": 12,
        "model.hidden": 32,
        "model.depth": 2,
        "model.z_dim": 8,
        "model.encoder_hidden": 32,
        "model.encoder_depth": 1,
        "model.kl_warmup_steps": 10,
        "train.batch_size": 16,
        "train.max_len": 64,
        "train.max_epochs": 1,
        "train.max_steps": 8,
        "train.max_minutes": 1.0,
        "train.val_every_steps": 4,
        "generate.n_per_style": 24,
        "generate.max_len": 64,
        "filter.n_real_rated": 60,
        "mi.max_distance": 32,
        "mi.n_distances": 8,
        "mi.n_bootstrap": 5,
        "stream.music_minutes": 0.5,
        "stream.batch_size": 8,
    },
}


def load_config(
    profile: str = "paper", overrides: dict[str, Any] | None = None, *, seed: int | None = None
) -> Config:
    """The named profile with ``{"section.field": value}`` overrides applied.

    ``seed`` (or the override key ``"seed"``) sets the seed of every stage at once.
    """
    if profile not in PROFILES:
        raise KeyError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    settings = {**PROFILES[profile], **(overrides or {})}
    if seed is not None:
        settings["seed"] = seed
    cfg = Config(profile=profile)
    for key, value in settings.items():
        cfg = _set(cfg, key, value)
    return cfg


def _set(cfg: Config, key: str, value: Any) -> Config:
    section, _, name = key.partition(".")
    if key == "seed":  # one seed for every stage
        subs = {
            f.name: replace(getattr(cfg, f.name), seed=int(value))
            for f in fields(Config)
            if dataclasses.is_dataclass(getattr(cfg, f.name))
            and "seed" in {g.name for g in fields(getattr(cfg, f.name))}
        }
        return replace(cfg, seed=int(value), **subs)
    if section not in {f.name for f in fields(Config)} or not dataclasses.is_dataclass(
        getattr(cfg, section)
    ):
        raise KeyError(f"unknown config section {section!r} in {key!r}")
    sub = getattr(cfg, section)
    known = {f.name for f in fields(sub)}
    if name not in known:
        raise KeyError(f"unknown setting {key!r}; {section} has {sorted(known)}")
    if isinstance(getattr(sub, name), tuple) and isinstance(value, list):
        value = tuple(value)
    return replace(cfg, **{section: replace(sub, **{name: value})})


def to_dict(cfg: Config) -> dict[str, Any]:
    """Plain nested dict (for manifests, checkpoints, and ``save_hyperparameters``)."""
    return dataclasses.asdict(cfg)
