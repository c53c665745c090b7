"""The paper's classifiers on frozen backbone features (§4.2) and the one loop that trains them.

- :class:`ImageHead`: dropout + linear layer on a clean image embedding (images, and
  video-to-image on the time-max of a video's frame embeddings via :class:`MaxOverTime`).
- :class:`VideoGRU`: the CNN-RNN, GRU(8) -> GRU(6) -> dropout -> Dense(8) -> head, which also
  reads static sequences made from images (image-to-video) without repeating them.
- :func:`fit`: Adam + cross-entropy, keeps the best validation-accuracy epoch (the paper's callback),
  training the members of a stacked model (all folds of a cross-validation) at once.
"""

from __future__ import annotations

# Registers ``ranker_pooled`` in the approaches' registry: every reader of the registry imports
# instapop.models.approaches, hence this package first (pooled.py imports approaches, so
# approaches.py cannot import it back).
from instapop.models import pooled  # noqa: F401
from instapop.models.dense import ImageHead, MaxOverTime
from instapop.models.fit import FitResult, Input, fit, predict_proba, training_threads
from instapop.models.gru import VideoGRU
from instapop.models.layers import seeded_init

__all__ = [
    "FitResult",
    "ImageHead",
    "Input",
    "MaxOverTime",
    "VideoGRU",
    "fit",
    "predict_proba",
    "seeded_init",
    "training_threads",
]
