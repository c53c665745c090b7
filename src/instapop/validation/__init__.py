"""Repeated stratified (grouped) k-fold for every registered approach and the baselines (§5.2-5.6).

For each N and each repeat, images and videos are split into k folds, stratified by class and, by
default, grouped by post, so carousel siblings and reposts kept in one post never sit on both
sides of a split (``Config.grouped_folds = False`` gives the paper's plain stratified folds).

The approaches (the paper's four, the ranker and two baselines) live in
:mod:`instapop.models.approaches`; ``Config.approaches`` says which run (``--paper``: the paper's
four and the baselines). Each is validated on its media type's folds.

No profile shape stops the protocol: every class needs at least k posts (items, with plain
folds) for the outer folds, and the neural approaches also need k posts of each class in every
training fold for the inner split that picks their epoch. An approach whose media type falls
short is skipped, and its row in the table holds the reason instead of metrics (the baselines
need only the outer folds).

The three video approaches and the video baselines share folds. A mixed approach never trains on
an image whose post has a video in the validation fold. All k x repeats trainings of one
approach run side by side as one stacked model (see ``models/layers.py``).

Epoch callback: each neural model keeps the weights of its best epoch, as the paper's callback
does. The paper picks that epoch on the very fold it then scores, which lets noise pass for
skill: on features that carry no signal at all, this reads 3-5 points above chance (measured,
1,000 items). By default (``Config.epoch_callback = "inner"``) the epoch is picked on a
grouped, stratified k-th of the training folds instead, and the scored fold stays unseen;
``"fold"`` (CLI ``--paper-callback``) reproduces the paper's choice.

Metrics per approach and N, computed on each repeat's out-of-fold predictions (all k folds
pooled, as the paper's "total accuracy over the 5 splits") and given as mean and standard
deviation (ddof = 0) over repeats: accuracy, top-2 accuracy (N >= 3), balanced accuracy,
macro-F1, the row-normalised confusion matrix, the Spearman correlation between an item's
score (a classifier's expected class sum_k p_k k; the ranker's predicted percentile) and its
within-window PoR percentile, and the pairwise accuracy: of two validation items of one fold
with different percentiles, how often the score orders them right (ties count one half).
Both are measured against the percentile, not raw PoR: across years raw PoR mostly follows
audience growth and the follower estimate, which no picture can predict. Each metric but the
confusion matrix also carries a 95 % interval (``ci95``): Wilson's for accuracy and top-2
accuracy, a bootstrap over posts for the others (see :mod:`instapop.validation.metrics`).

Every out-of-fold prediction (item, repeat, N, approach) goes to ``cv_predictions.csv``.

Modules, one job each: ``folds`` (the folds and why an approach cannot run on them), ``metrics``
(one row's numbers), ``runner`` (:func:`evaluate`: every row, in threads), ``checkpoints`` (finished
rows kept for a rerun, named by what each reads) and ``files`` (``cv_results.json``,
``cv_results.md``, ``cv_predictions.csv``).
"""

from instapop.models.crossval import DatasetTensors
from instapop.models.logreg import logreg_linear, softmax_linear
from instapop.validation.backtest import backtest
from instapop.validation.files import (
    cv_json,
    cv_markdown,
    cv_predictions,
    load_cv_results,
    row_of,
    write_cv_results,
)
from instapop.validation.folds import inner_shortfall, outer_shortfall, repeated_folds
from instapop.validation.metrics import pairwise_accuracy
from instapop.validation.runner import evaluate, skipped_row

__all__ = [
    "DatasetTensors",
    "backtest",
    "cv_json",
    "cv_markdown",
    "cv_predictions",
    "evaluate",
    "inner_shortfall",
    "load_cv_results",
    "logreg_linear",
    "outer_shortfall",
    "pairwise_accuracy",
    "repeated_folds",
    "row_of",
    "skipped_row",
    "softmax_linear",
    "write_cv_results",
]
