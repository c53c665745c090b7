"""Benchmark: the ranker's rivals on a real run folder, on the protocol's own folds.

Prints accuracy (mean ± std over repeats) and Spearman against the within-window percentile
for gradient boosting (64 PCA components of the view-averaged picture embedding + context, the
class cuts from inner 3-fold predictions) and an ordinal (cumulative-logit) logistic model at a
few penalties (one model per N). Compare with the ``ranker`` row of ``instapop evaluate``.

    .venv/bin/python bench/ranker_rivals.py RUN_DIR gbm
    .venv/bin/python bench/ranker_rivals.py RUN_DIR ordinal --penalties 0.1 0.3 1 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold, cross_val_predict

from instapop.config import Config
from instapop.datasets import load_run_dataset
from instapop.models.ranker import class_cuts, cut_classes
from instapop.validation import repeated_folds


def standardised(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    mean, scale = x[rows].mean(axis=0), x[rows].std(axis=0)
    scale[scale == 0] = 1.0
    return (x - mean) / scale


def boosting(data, train, val, n_classes):
    """Scores and classes of gradient boosting on PCA(picture) + context."""
    items, picture, context = data.images, data.image_views.mean(axis=1), data.context["image"]
    z = standardised(train, picture)
    x = np.hstack([PCA(64, random_state=0).fit(z[train]).transform(z), context])
    model = HistGradientBoostingRegressor(
        max_iter=300, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0, random_state=0
    )
    target, groups = items.percentile[train], items.groups[train]
    inner = cross_val_predict(model, x[train], target, groups=groups, cv=GroupKFold(3))
    scores = model.fit(x[train], target).predict(x[val])
    return scores, cut_classes(scores, class_cuts(inner, items.labels[n_classes][train], n_classes))


def ordinal(data, train, val, n_classes, penalty):
    """Scores and classes of a cumulative-logit model: P(y <= k) = sigmoid(theta_k - x.w)."""
    picture, context = data.image_views.mean(axis=1), data.context["image"]
    x = torch.tensor(np.hstack([standardised(train, picture), 3 * standardised(train, context)]))
    weight = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    thresholds = torch.linspace(-1, 1, n_classes - 1, dtype=torch.float64).requires_grad_()
    labels = torch.tensor(data.images.labels[n_classes][train])

    def probs(rows: torch.Tensor) -> torch.Tensor:
        below = torch.sigmoid(torch.sort(thresholds).values[None] - (rows @ weight)[:, None])
        zero, one = (torch.full((len(rows), 1), v, dtype=rows.dtype) for v in (0.0, 1.0))
        edges = (zero, below, one)
        cumulative = torch.cat(edges, dim=1)
        return (cumulative[:, 1:] - cumulative[:, :-1]).clamp_min(1e-12)

    optimiser = torch.optim.LBFGS([weight, thresholds], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        chosen = probs(x[train])[torch.arange(len(labels)), labels]
        loss = -torch.log(chosen).mean() + penalty * (weight @ weight)
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        return (x[val] @ weight).numpy(), probs(x[val]).numpy().argmax(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("model", choices=("gbm", "ordinal"))
    parser.add_argument("--penalties", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    data, config = load_run_dataset(args.run_dir), Config()
    items = data.images
    variants = [None] if args.model == "gbm" else args.penalties
    for n_classes in config.n_classes:
        folds = repeated_folds(items, n_classes, config, "images")
        for penalty in variants:
            start, accuracies, rhos = time.perf_counter(), [], []
            for repeat in range(config.n_repeats):
                predicted, scores = np.zeros(len(items), int), np.zeros(len(items))
                for fold in range(config.n_splits):
                    train, val = np.flatnonzero(folds[repeat] != fold), np.flatnonzero(folds[repeat] == fold)
                    if args.model == "gbm":
                        scores[val], predicted[val] = boosting(data, train, val, n_classes)
                    else:
                        scores[val], predicted[val] = ordinal(data, train, val, n_classes, penalty)
                accuracies.append((predicted == items.labels[n_classes]).mean())
                rhos.append(spearmanr(scores, items.percentile).statistic)
            label = args.model if penalty is None else f"{args.model} penalty {penalty:g}"
            print(
                f"N={n_classes} {label}: accuracy {np.mean(accuracies):.3f} ± {np.std(accuracies):.3f}, "
                f"Spearman {np.mean(rhos):.3f} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
