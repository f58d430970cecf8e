"""The post-generation filter (paper, Section 4): classifiers, strict heuristics, Table 1.

Tracks are rated 1-5 (by people or the automatic stand-in panel,
:mod:`vrashlib.filter.ratings`), ratings 4-5 are "acceptable", and a classifier on the
entropy features of :mod:`vrashlib.filter.features` learns to predict acceptability.

- :func:`table1` rebuilds the paper's Table 1: logistic regression, SVC with a
  linear kernel and SVC with an rbf kernel (scikit-learn pipelines with the
  scaler inside, seeded), for stratified test shares 0.5 / 0.4 / 0.3 / 0.2.
- :func:`fit_strict_heuristics` finds a few thresholds on the features whose
  conjunction accepts only acceptable tracks of its training split
  (precision 1.0 there), for when speed matters more than recall.
- :class:`Filter` is one fitted filter (classifier or heuristics) that the
  generator and the live stream call on new tracks: fitted once, saved into
  the run folder as JSON (its fitted parameters, never pickled code), and fast
  on small batches.

Latent coordinates: the latent spaces of VAE and VRASH are different spaces
and LM and real tracks have none, so filters pooled over models use the
entropy features only (``include_latent=False``); a per-model filter (the
stream's: VRASH, one style) includes the sampling vector when present.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from vrashlib.config import Config
from vrashlib.data.tracks import TrackSet
from vrashlib.files import atomic_write_text
from vrashlib.filter.features import WINDOWS, compute_features
from vrashlib.filter.heuristics import Rule, apply_rules, check_rated, find_rules, precision_recall

__all__ = [
    "METHODS", "PAPER_TABLE1", "SHARES", "Filter", "Rule", "acceptance_by_group", "apply_rules",
    "classifier_score", "find_rules", "fit_stream_filter", "fit_strict_heuristics",
    "fitted_params", "make_classifier", "params_score", "pool_mask", "precision_recall", "table1",
]  # fmt: skip

METHODS: dict[str, str] = {
    "logreg": "Logistic regression",
    "svc_linear": "SVC with linear kernel",
    "svc_rbf": "SVC with rbf kernel",
}
SHARES: tuple[float, ...] = (0.5, 0.4, 0.3, 0.2)

# The paper's Table 1: (method, test share) -> (# bad, # good, "good tracks recall on test").
PAPER_TABLE1: dict[tuple[str, float], tuple[int, int, float]] = {
    ("logreg", 0.5): (207, 44, 0.79),
    ("logreg", 0.4): (189, 35, 0.81),
    ("logreg", 0.3): (162, 24, 0.85),
    ("logreg", 0.2): (128, 18, 0.86),
    ("svc_linear", 0.5): (238, 64, 0.74),
    ("svc_linear", 0.4): (199, 43, 0.78),
    ("svc_linear", 0.3): (138, 22, 0.84),
    ("svc_linear", 0.2): (60, 9, 0.85),
    ("svc_rbf", 0.5): (229, 53, 0.77),
    ("svc_rbf", 0.4): (205, 39, 0.81),
    ("svc_rbf", 0.3): (162, 30, 0.81),
    ("svc_rbf", 0.2): (86, 11, 0.87),
}
FILTER_FORMAT = 2  # the version of Filter.save's JSON layout; bump when it changes
FILTER_KIND = "vrash-filter"  # what Filter.save writes in the file's "kind" field


def make_classifier(
    method: str, seed: int = 0, *, class_weight: str | None = "balanced"
) -> Pipeline:
    """Scaler + classifier pipeline for one of :data:`METHODS`.

    By default classes are weighted inversely to their frequency
    (``class_weight="balanced"``, our protocol): acceptable tracks are the minority
    among generated ones, and an unweighted classifier then tends to call every
    track bad. Balancing moves the operating point towards recall; the paper,
    which cares about precision, did not say it reweighted: ``class_weight=None``
    is its protocol (:mod:`vrashlib.filter.evaluation`). Otherwise scikit-learn's
    default hyper-parameters.
    """
    if method == "logreg":
        clf = LogisticRegression(max_iter=2000, class_weight=class_weight, random_state=seed)
    elif method == "svc_linear":
        clf = SVC(kernel="linear", class_weight=class_weight, random_state=seed)
    elif method == "svc_rbf":
        clf = SVC(kernel="rbf", gamma="scale", class_weight=class_weight, random_state=seed)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)} or 'heuristic'")
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def classifier_score(model: Pipeline, x: np.ndarray) -> np.ndarray:
    """Probability-like score in (0, 1), 0.5 = decision boundary (logistic of the margin for SVC)."""
    clf = model[-1]
    if hasattr(clf, "predict_proba") and not isinstance(clf, SVC):
        return model.predict_proba(x)[:, list(clf.classes_).index(True)]
    margin = model.decision_function(x)
    return 1.0 / (1.0 + np.exp(-margin))


def table1(
    features: pd.DataFrame,
    good: np.ndarray,
    shares: tuple[float, ...] = SHARES,
    seed: int = 0,
    methods: tuple[str, ...] = tuple(METHODS),
) -> pd.DataFrame:
    """Table 1: one row per (method, test share), ours beside the paper's.

    For each share the rated tracks are split (stratified, seeded), the pipeline
    is fitted on the training part and judged on the test part. Columns:
    ``n_test``, ``rated_bad`` / ``rated_good`` (test tracks by rating),
    ``pred_bad`` / ``pred_good`` (test tracks the filter rejects / accepts: our
    reading of the paper's "# of bad/good tracks"; ``pred_good`` is the number
    accepted), ``precision_good`` (share of accepted tracks rated good: our
    reading of the paper's last column), ``recall_good``, ``accuracy``, and
    the paper's ``paper_bad``, ``paper_good``, ``paper_value``.
    """
    x, y = check_rated(features, good)
    rows = []
    for method in methods:
        for share in shares:
            x_tr, x_te, y_tr, y_te = train_test_split(
                x, y, test_size=share, random_state=seed, stratify=y
            )
            model = make_classifier(method, seed).fit(x_tr, y_tr)
            pred = model.predict(x_te).astype(bool)
            precision, recall = precision_recall(pred, y_te)
            paper = PAPER_TABLE1.get((method, float(share)), (np.nan, np.nan, np.nan))
            rows.append(
                {
                    "method": METHODS[method],
                    "test_share": float(share),
                    "n_test": len(y_te),
                    "rated_bad": int((~y_te).sum()),
                    "rated_good": int(y_te.sum()),
                    "pred_bad": int((~pred).sum()),
                    "pred_good": int(pred.sum()),
                    "precision_good": precision,
                    "recall_good": recall,
                    "accuracy": float((pred == y_te).mean()),
                    "paper_bad": paper[0],
                    "paper_good": paper[1],
                    "paper_value": paper[2],
                }
            )
    return pd.DataFrame(rows)


def acceptance_by_group(
    features: pd.DataFrame,
    good: np.ndarray,
    groups: np.ndarray,
    *,
    method: str = "logreg",
    seed: int = 0,
    folds: int = 5,
) -> pd.DataFrame:
    """What the filter lets through per group (e.g. per model), out of fold.

    Every track is judged by a classifier that did not see it (stratified
    ``folds``-fold cross-validation). Per group: tracks, share rated good
    before filtering, share accepted, and share rated good among the accepted
    (the quality a listener hears after filtering).
    """
    x, y = check_rated(features, good)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    pred = cross_val_predict(make_classifier(method, seed), x, y, cv=cv).astype(bool)
    groups = np.asarray(groups)
    rows = []
    for g in pd.unique(groups):
        m = groups == g
        precision, recall = precision_recall(pred[m], y[m])
        rows.append(
            {
                "group": g,
                "n_tracks": int(m.sum()),
                "rated_good_share": float(y[m].mean()),
                "accepted": int(pred[m].sum()),
                "accepted_share": float(pred[m].mean()),
                "good_share_after_filter": precision,
                "recall_good": recall,
            }
        )
    return pd.DataFrame(rows)


def pool_mask(
    preferred: np.ndarray, good: np.ndarray, *, min_per_class: int = 10
) -> tuple[np.ndarray, str]:
    """Which rated tracks to learn from: the ``preferred`` ones (e.g. generated) if
    they hold at least ``min_per_class`` acceptable and unacceptable tracks, else all.

    Returns the mask and a sentence saying which pool was used and why (an
    undertrained model may produce no acceptable track at all; then the rated
    real tracks supply the positive examples).
    """
    preferred, good = np.asarray(preferred, bool), np.asarray(good, bool)
    n_good, n_bad = int(good[preferred].sum()), int((~good[preferred]).sum())
    if min(n_good, n_bad) >= min_per_class:
        return preferred, f"preferred pool: {n_good} acceptable and {n_bad} unacceptable tracks"
    return np.ones_like(preferred), (
        f"the preferred pool has only {n_good} acceptable and {n_bad} unacceptable tracks "
        f"(< {min_per_class}); using all {len(good)} rated tracks "
        f"({int(good.sum())} acceptable) instead"
    )


def fit_strict_heuristics(
    features: pd.DataFrame,
    good: np.ndarray,
    seed: int = 0,
    *,
    test_share: float = 0.3,
    max_rules: int,
    min_support: float = 0.0,
) -> tuple[list[Rule], pd.DataFrame]:
    """Strict rules fitted on a stratified training split, judged on the test split.

    ``max_rules``: at most this many thresholds (``cfg.filter.heuristic_max_rules``);
    ``min_support``: the rules keep at least this share of the training split
    (``cfg.filter.heuristic_min_support``; see :func:`find_rules`).

    Returns the rules and a report with one row per split (``train``, ``test``):
    tracks, rated good, accepted, precision and recall of the "good" class.
    """
    x, y = check_rated(features, good)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_share, random_state=seed, stratify=y)
    support = int(np.ceil(min_support * len(tr)))
    rules = find_rules(features.iloc[tr], y[tr], max_rules=max_rules, min_support=support)
    rows = []
    for split, rows_idx in (("train", tr), ("test", te)):
        acc = apply_rules(rules, features.iloc[rows_idx])
        precision, recall = precision_recall(acc, y[rows_idx])
        rows.append(
            {
                "split": split,
                "n_tracks": len(rows_idx),
                "rated_good": int(y[rows_idx].sum()),
                "accepted": int(acc.sum()),
                "precision_good": precision,
                "recall_good": recall,
            }
        )
    return rules, pd.DataFrame(rows)


# ---------------------------------------------------------------------- Filter
# The kernel of each method's decision function, as Filter stores it.
KERNELS: dict[str, str] = {"logreg": "linear", "svc_linear": "linear", "svc_rbf": "rbf"}
# The fitted parameters each kernel needs (Filter.params); every value is a float64
# array or a float, except "kernel".
PARAMS: dict[str, tuple[str, ...]] = {
    "linear": ("kernel", "mean", "scale", "coef", "intercept"),
    "rbf": ("kernel", "mean", "scale", "support_vectors", "dual_coef", "gamma", "intercept"),
}
RBF_ROWS = 256  # tracks per block of the rbf kernel (bounds the memory of one block)


def fitted_params(model: Pipeline) -> dict[str, Any]:
    """The fitted parameters of a :func:`make_classifier` pipeline, as plain arrays.

    Scaler: ``mean``, ``scale``. Linear decision (logistic regression, linear
    SVC): ``coef``, ``intercept``; the linear SVC's weights are summed here from
    its support vectors and dual coefficients. Rbf SVC: ``support_vectors``,
    ``dual_coef``, ``gamma``, ``intercept``. Signs as scikit-learn's public
    attributes: a positive margin means "acceptable" (class ``True``).
    """
    scaler, clf = model[0], model[-1]
    if [bool(c) for c in clf.classes_] != [False, True]:
        raise ValueError(f"a filter is fitted on True/False labels, not {list(clf.classes_)}")
    params: dict[str, Any] = {
        "mean": np.array(scaler.mean_, dtype=np.float64),
        "scale": np.array(scaler.scale_, dtype=np.float64),
        "intercept": float(clf.intercept_[0]),
    }
    if isinstance(clf, SVC):
        dual = np.array(clf.dual_coef_[0], dtype=np.float64)
        sv = np.array(clf.support_vectors_, dtype=np.float64)
        if clf.kernel == "linear":
            return {"kernel": "linear", **params, "coef": _sum_first(dual[:, None] * sv)}
        if clf.kernel == "rbf":
            gamma = float(clf._gamma)  # the fitted value of gamma="scale"
            return {
                "kernel": "rbf", **params, "support_vectors": sv, "dual_coef": dual,
                "gamma": gamma,
            }  # fmt: skip
        raise ValueError(f"no filter for an SVC with kernel {clf.kernel!r}")
    return {"kernel": "linear", **params, "coef": np.array(clf.coef_[0], dtype=np.float64)}


def params_score(params: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Probability-like score in (0, 1) from :func:`fitted_params`: the logistic of the margin.

    The same numbers as :func:`classifier_score` of the pipeline up to float
    rounding (a test checks 1e-9). Every sum is taken one term at a time in a fixed
    order (:func:`_sum_last`) and everything else is elementwise, so a track's
    score does not depend on the other tracks in its batch, nor on a BLAS
    library's kernel or thread count.
    """
    z = (np.asarray(x, dtype=np.float64) - params["mean"]) / params["scale"]
    if params["kernel"] == "linear":
        margin = _sum_last(z * params["coef"])
    else:
        sv_t, dual = np.ascontiguousarray(params["support_vectors"].T), params["dual_coef"]
        margin = np.empty(len(z))
        for i in range(0, len(z), RBF_ROWS):  # squared distances (support vector, track)
            block_t = np.ascontiguousarray(z[i : i + RBF_ROWS].T)
            d2 = np.zeros((sv_t.shape[1], block_t.shape[1]))
            for sv_col, col in zip(sv_t, block_t, strict=True):
                diff = np.subtract.outer(sv_col, col)
                d2 += diff * diff
            kernel = np.exp(-params["gamma"] * d2)
            margin[i : i + RBF_ROWS] = _sum_first(kernel * dual[:, None])
    with np.errstate(over="ignore"):  # a huge negative margin: score 0
        return 1.0 / (1.0 + np.exp(-(margin + params["intercept"])))


def _sum_last(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis, one term at a time (numpy's own reduction order depends
    on the array's shape, so a track's sum would change with the number of tracks)."""
    return _sum_first(np.moveaxis(a, -1, 0))


def _sum_first(a: np.ndarray) -> np.ndarray:
    """Sum over the first axis, one term at a time, first to last."""
    out = np.zeros(a.shape[1:])
    for term in a:
        out += term
    return out


@dataclass(eq=False)
class Filter:
    """A fitted post-generation filter: features -> score -> accept.

    ``method`` is one of :data:`METHODS` (scaler + classifier, kept as its fitted
    parameters ``params``: :func:`fitted_params`) or ``"heuristic"`` (strict
    ``rules``). ``columns`` are the feature columns it was fitted on, in order;
    latent columns ``z*`` among them require tracks with a ``latent`` of the same
    size. :meth:`save` writes it as JSON and :meth:`load` reads it back: nothing
    in the file is executed, and a loaded filter scores exactly as the fitted one.
    """

    method: str
    columns: tuple[str, ...]
    windows: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    threshold: float = 0.5
    info: dict = field(default_factory=dict)

    @property
    def uses_latent(self) -> bool:
        return any(c.startswith("z") for c in self.columns)

    @classmethod
    def fit(
        cls,
        tracks: TrackSet,
        good: np.ndarray,
        *,
        method: str = "logreg",
        seed: int = 0,
        windows: tuple[int, ...] = WINDOWS,
        include_latent: bool = True,
        max_rules: int | None = None,
    ) -> Filter:
        """Fit on rated tracks (``good``: acceptable, one bool per track).

        ``max_rules`` (``cfg.filter.heuristic_max_rules``) is required by
        ``method="heuristic"`` and unused by the classifiers.
        """
        feats = compute_features(tracks, windows, include_latent=include_latent)
        return cls.fit_features(
            feats, good, method=method, seed=seed, windows=windows, max_rules=max_rules
        )

    @classmethod
    def fit_features(
        cls,
        features: pd.DataFrame,
        good: np.ndarray,
        *,
        method: str = "logreg",
        seed: int = 0,
        windows: tuple[int, ...] = WINDOWS,
        max_rules: int | None = None,
    ) -> Filter:
        """Fit on a precomputed feature table (columns of :func:`compute_features`);
        ``max_rules`` as in :meth:`fit`."""
        x, y = check_rated(features, good)
        info = {"n_tracks": len(y), "n_good": int(y.sum()), "seed": seed}
        if method == "heuristic":
            if max_rules is None:
                raise ValueError(
                    "method='heuristic' needs max_rules (cfg.filter.heuristic_max_rules)"
                )
            rules = tuple(find_rules(features, y, max_rules=max_rules))
            return cls(method, tuple(features.columns), tuple(windows), rules=rules, info=info)
        params = fitted_params(make_classifier(method, seed).fit(x, y))
        return cls(method, tuple(features.columns), tuple(windows), params=params, info=info)

    def features(self, tracks: TrackSet) -> pd.DataFrame:
        """The fitted feature columns for new tracks (raises if latent is needed but missing)."""
        if self.uses_latent:
            z_dim = sum(c.startswith("z") for c in self.columns)
            if tracks.latent is None or tracks.latent.shape[1] != z_dim:
                got = None if tracks.latent is None else tracks.latent.shape[1]
                raise ValueError(
                    f"this filter was fitted with {z_dim} latent coordinates; the tracks have {got}"
                )
        feats = compute_features(tracks, self.windows, include_latent=self.uses_latent)
        return feats.loc[:, list(self.columns)]

    def score(self, tracks: TrackSet) -> np.ndarray:
        """Probability-like score per track, higher = better (heuristic: share of rules passed)."""
        feats = self.features(tracks)
        if self.method == "heuristic":
            if not self.rules:
                return np.ones(len(feats))
            passed = np.stack([apply_rules([r], feats) for r in self.rules], axis=1)
            return passed.mean(1)
        return params_score(self.params, feats.to_numpy(dtype=np.float64))

    def accept(self, tracks: TrackSet) -> np.ndarray:
        """True for each track the filter lets through."""
        if len(tracks) == 0:
            return np.zeros(0, dtype=bool)
        s = self.score(tracks)
        return s >= 1.0 if self.method == "heuristic" else s > self.threshold

    def to_json(self) -> dict[str, Any]:
        """The filter as JSON-ready data (what :meth:`save` writes)."""
        return {
            "kind": FILTER_KIND,
            "format": FILTER_FORMAT,
            "method": self.method,
            "columns": list(self.columns),
            "windows": [int(w) for w in self.windows],
            "threshold": float(self.threshold),
            "rules": [
                {"feature": r.feature, "op": r.op, "threshold": float(r.threshold)}
                for r in self.rules
            ],
            "params": {
                k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.params.items()
            },
            "info": self.info,
        }

    def save(self, path: str | Path) -> Path:
        """Write the filter as JSON, atomically (floats written so that they read back exactly)."""
        try:
            text = json.dumps(self.to_json(), indent=1, allow_nan=False, default=_json_scalar)
        except (TypeError, ValueError) as err:
            raise ValueError(f"cannot save this filter to {path}: {err}") from err
        atomic_write_text(path, text + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Filter:
        """Read a filter written by :meth:`save`; a file that is not one raises ``ValueError``
        naming it and what is wrong (nothing in it is executed)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no filter at {path}; run notebook 04_filter first")
        try:
            data = json.loads(path.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(
                f"{path} is not a filter file (a JSON file written by Filter.save; "
                f"truncated or of another kind?): {err}"
            ) from err
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: {_message(err)}") from err

    @classmethod
    def from_json(cls, data: Any) -> Filter:
        """The filter held by :meth:`to_json`'s data; checks every field (``ValueError``)."""
        if not isinstance(data, dict) or data.get("kind") != FILTER_KIND:
            raise ValueError(f'not a filter (no "kind": {FILTER_KIND!r}); refit it (notebook 04)')
        if data.get("format") != FILTER_FORMAT:
            raise ValueError(
                f"filter format {data.get('format')} != {FILTER_FORMAT} (written by another "
                "version of vrashlib); refit it (notebook 04)"
            )
        keys = {"kind", "format", "method", "columns", "windows", "threshold", "rules", "params"}
        unknown = set(data) - keys - {"info"}
        if unknown or not keys <= set(data):
            raise ValueError(
                f"unknown fields {sorted(unknown)} / missing fields {sorted(keys - set(data))}"
            )
        method, columns = data["method"], tuple(_str_list(data["columns"], "columns"))
        if method not in (*METHODS, "heuristic"):
            raise ValueError(f"unknown method {method!r}")
        windows = tuple(int(_number(w, "windows")) for w in data["windows"])
        rules = tuple(
            Rule(str(r["feature"]), r["op"], _number(r["threshold"], "rule threshold"))
            for r in data["rules"]
        )
        for r in rules:
            if r.feature not in columns or r.op not in (">=", "<="):
                raise ValueError(f"rule {r} is on no fitted column or has an unknown operator")
        params = _read_params(data["params"], method, len(columns))
        info = data.get("info", {})
        if not isinstance(info, dict):
            raise ValueError("info is not a JSON object")
        threshold = _number(data["threshold"], "threshold")
        return cls(method, columns, windows, params, rules, threshold, info)


def _json_scalar(value: Any) -> Any:
    """numpy scalars in ``info`` as plain numbers (``json.dumps``'s ``default``)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"a {type(value).__name__} cannot be stored in a filter file")


def _message(err: Exception) -> str:
    return f"missing field {err.args[0]!r}" if isinstance(err, KeyError) else str(err)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return float(value)


def _str_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} is not a list of names")
    return value


def _read_params(raw: Any, method: str, n_columns: int) -> dict[str, Any]:
    """Check the fitted parameters of a filter file: names, shapes, finite values."""
    if method == "heuristic":
        if raw:
            raise ValueError("a heuristic filter has no fitted parameters")
        return {}
    kernel = KERNELS[method]
    if not isinstance(raw, dict) or raw.get("kernel") != kernel or set(raw) != set(PARAMS[kernel]):
        raise ValueError(f"params of a {method} filter are {list(PARAMS[kernel])}")
    params: dict[str, Any] = {"kernel": kernel}
    n_sv = len(raw["support_vectors"]) if kernel == "rbf" else 0
    shapes = {"support_vectors": (n_sv, n_columns), "dual_coef": (n_sv,)}
    for name in PARAMS[kernel][1:]:
        if name in ("intercept", "gamma"):
            params[name] = _number(raw[name], name)
            continue
        try:
            arr = np.array(raw[name], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"params {name!r} is not an array of numbers") from err
        want = shapes.get(name, (n_columns,))
        if arr.shape != want or not np.isfinite(arr).all():
            raise ValueError(
                f"params {name!r} has shape {arr.shape} (want {want}) or non-finite values"
            )
        params[name] = arr
    return params


def fit_stream_filter(
    tracks: TrackSet,
    good: np.ndarray,
    *,
    fallback: tuple[pd.DataFrame, np.ndarray] | None = None,
    method: str = "logreg",
    seed: int = 0,
    windows: tuple[int, ...] = WINDOWS,
    max_rules: int | None = None,
    min_per_class: int = 10,
) -> Filter:
    """The live stream's filter: fitted on one model's tracks of one style, latent included.

    If those tracks hold fewer than ``min_per_class`` acceptable or unacceptable
    ones and a ``fallback`` pool (entropy features without latent, labels) of
    other rated tracks is given, the filter is fitted on both together on the
    entropy features only (the pool mixes models); ``info["pool"]`` says which.
    """
    y = np.asarray(good, bool)
    n_good, n_bad = int(y.sum()), int((~y).sum())
    if min(n_good, n_bad) >= min_per_class or fallback is None:
        flt = Filter.fit(tracks, y, method=method, seed=seed, windows=windows, max_rules=max_rules)
        flt.info["pool"] = f"{len(y)} tracks of the stream's model and style ({n_good} acceptable)"
        return flt
    extra, extra_good = fallback
    feats = pd.concat([compute_features(tracks, windows, include_latent=False), extra])
    y_all = np.concatenate([y, np.asarray(extra_good, bool)])
    flt = Filter.fit_features(
        feats, y_all, method=method, seed=seed, windows=windows, max_rules=max_rules
    )
    flt.info["pool"] = (
        f"only {n_good} acceptable / {n_bad} unacceptable tracks of the stream's model and style "
        f"(< {min_per_class}); fitted on {len(y_all)} pooled tracks ({int(y_all.sum())} "
        "acceptable), entropy features only"
    )
    return flt


def fit_for_stream(
    cfg: Config,
    generated: dict[str, TrackSet],
    rated: pd.DataFrame,
    features: pd.DataFrame,
    good: np.ndarray,
    pool: np.ndarray,
) -> tuple[Filter, TrackSet, np.ndarray]:
    """Notebook 04's filter for the live stream, fitted for ``cfg.stream``'s model and style.

    ``rated`` is :func:`vrashlib.filter.ratings.rating_table` of every rated set,
    ``features``/``good``/``pool`` the pooled feature table, labels and the mask of
    tracks the classifiers may learn from (rows aligned with ``rated``). The filter
    is fitted on the rated melodies of the stream's model and style
    (:func:`fit_stream_filter`), with the rest of the pool as fallback, and records
    the model and style it is for (``info["model"]``, ``info["style"]``), which
    :func:`check_filter_for` enforces. Returns the filter and the tracks and labels
    it was fitted on.
    """
    from vrashlib.filter.ratings import rated_subset

    kind, style = cfg.stream.model, cfg.stream.style
    tracks, labels = rated_subset(generated[kind].select(style=style), rated.loc[[kind]])
    others = pool & ~np.isin(rated.index.get_level_values("track_id"), tracks.ids)
    flt = fit_stream_filter(
        tracks,
        labels,
        fallback=(features[others], good[others]),
        method=cfg.filter.stream_method,
        seed=cfg.filter.seed,
        windows=cfg.filter.windows,
        max_rules=cfg.filter.heuristic_max_rules,
    )
    flt.info.update(model=kind, style=style)
    return flt, tracks, labels


def check_filter_for(filt: Filter, kind: str | None, style: str) -> None:
    """Raise ``ValueError`` if ``filt`` was fitted for another model kind or style.

    A filter that does not record what it was fitted for, or a model of unknown
    kind (``None``), is not checked on that count.
    """
    want = {"model": kind, "style": style}
    have = {k: filt.info.get(k) for k in want}
    wrong = {k: v for k, v in have.items() if None not in (v, want[k]) and v != want[k]}
    if wrong:
        raise ValueError(
            f"this filter was fitted on {have['model']} melodies of style {have['style']!r}, "
            f"but the stream plays {kind} melodies of style {style!r}; refit it for the "
            "stream (notebook 04 with stream.model / stream.style set) or pass another filter"
        )
