"""The logistic-regression baseline's arithmetic: the probe fitted on standardised embeddings and
returned as one linear layer on raw ones, and its C chosen by grouped inner folds along a
regularisation path (:class:`instapop.models.approaches.LogregApproach`)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from instapop.models.crossval import inner_folds

if TYPE_CHECKING:
    from instapop.config import Config


def logreg_linear(
    x: np.ndarray, y: np.ndarray, n_classes: int, config: Config, c: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fit the logistic-regression probe and return it as one linear layer on raw embeddings.

    Features are standardised for the fit; the scaling is folded into the returned weights so
    that ``softmax(x @ weight.T + bias)`` gives its probabilities (a binary model's single
    logit z becomes the two logits (0, z)). Classes absent from ``y`` get a very low bias.
    ``c`` is the inverse L2 strength (default ``config.logreg_c``).

    Returns
    -------
    weight : numpy.ndarray
        (N, D) float32.
    bias : numpy.ndarray
        (N,) float32.
    """
    c = config.logreg_c if c is None else c
    if c is None:
        raise ValueError("logreg_linear needs C: pass c, or set config.logreg_c")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=config.logreg_max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the probe is a baseline; its cap is in Config
        model.fit((x - mean) / scale, y)
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # one logit z for classes_[1]; classes_[0] gets 0
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weight = np.zeros((n_classes, x.shape[1]))
    bias = np.full(n_classes, -1e4)  # never predicted: the class was not in training
    if len(model.classes_) == 1:
        bias[model.classes_[0]] = 0.0
    else:
        weight[model.classes_] = coef / scale
        bias[model.classes_] = intercept - (coef / scale) @ mean
    return weight.astype(np.float32), bias.astype(np.float32)


def softmax_linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Probabilities of a linear layer: softmax(x W^T + b), (n, N)."""
    logits = x.astype(np.float64) @ weight.T.astype(np.float64) + bias
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def logreg_c(
    x: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    rows: np.ndarray,
    n_classes: int,
    config: Config,
    seed: int,
) -> float:
    """The probe's C: ``config.logreg_c`` when set, else the one of ``config.logreg_cs`` with
    the best log-likelihood in grouped k-fold inside ``rows`` (the scored fold never takes part)."""
    if config.logreg_c is not None:
        return config.logreg_c
    cs = sorted(config.logreg_cs)
    losses = np.zeros(len(cs))
    for fit_rows, held_out in inner_folds(rows, groups, config.inner_splits, seed):
        losses += _held_out_losses(x[fit_rows], labels[fit_rows], x[held_out], labels[held_out], cs, config)
    return float(cs[int(np.argmin(losses))])


def _held_out_losses(
    x: np.ndarray, y: np.ndarray, x_held: np.ndarray, y_held: np.ndarray, cs: list[float], config: Config
) -> np.ndarray:
    """Held-out log-loss (summed) of the probe at each C, ascending: each fit starts from the
    previous, more penalised solution (a regularisation path, several times faster)."""
    if len(np.unique(y)) < 2:  # nothing to tell the values of C apart on this inner fold
        return np.zeros(len(cs))
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z, z_held = (x - mean) / scale, (x_held - mean) / scale
    model = LogisticRegression(max_iter=config.logreg_max_iter, warm_start=True)
    losses = np.zeros(len(cs))
    for i, c in enumerate(cs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.set_params(C=c).fit(z, y)
        probs = np.zeros((len(y_held), int(max(y.max(), y_held.max())) + 1))
        probs[:, model.classes_] = model.predict_proba(z_held)
        losses[i] = -np.log(np.maximum(probs[np.arange(len(y_held)), y_held], 1e-12)).sum()
    return losses
