"""Rank candidate posts before publishing: the one scoring path for the CLI, the API and the page.

A :class:`Predictor` loads a saved model (``instapop train``) and the backbone it
was trained on once, then scores files:

- an **image** goes through the backbone (clean view, no augmentation) and the image head;
- a **video** is sampled as in training (``Config.n_frames`` frames, one every
  ``Config.frame_interval_s`` seconds) and goes through the video approach that won
  the model's cross-validation (``SavedModel.predict_videos``);
- a **folder inside a folder** is one carousel: each item is scored with its own
  media type's model and the carousel's probabilities are the mean of its items'.
  Every item of a carousel carries its post's class in training, so the mean is the
  model's best guess for the post. One unreadable item makes the whole carousel an
  error: a score from the remaining items would describe a different post.

Files are typed by their first bytes, never by their name. Each candidate gets a
predicted class and a **score** in [0, 1] that orders the ranking, whatever the
approach that won the model's cross-validation:

- a *classifier* (the paper's heads, the logistic probe) gives class probabilities;
  its score is the expected class ``sum_k p_k * k`` over N - 1, which rewards a
  confident "top class" above a hesitant one, as the arg-max class alone cannot;
- a *ranker* predicts the post's within-window percentile (of the model's target, PoR by
  default): that is its score, its class is the percentile cut at the training quantiles,
  and it says how much the picture and how much the context (timing, caption, carousel)
  moved the score away from the profile's average post.

A ranker reads the context a user knows before publishing (``instapop.context``):
a planned time and a caption per candidate (:class:`Plan`). Whatever is not given
is replaced by the profile's typical values, and the candidate says so.

Each image and each video frame is encoded on its own (batch size 1 for images,
one batch of T frames per video), so a candidate's score never depends on which
other files came with it: the CLI, the API and the page rank alike.

Modules, one job each:

- ``plans``: :class:`Limits` on uploads and a candidate's :class:`Plan` (``read_plan`` for a CSV);
- ``files``: candidates found in folders, typed by content, refused over a limit;
- ``scorers``: each media type's saved approach as a :class:`~instapop.predict.scorers.MediaScorer`;
- ``candidates``: the :class:`Candidate` record and its JSON;
- ``predictor``: the :class:`Predictor` that loads a model once and scores and ranks;
- ``heatmaps``: Grad-CAM overlays and filmstrips as PNG bytes;
- ``output``: the plain-text ranking and the explanation files;
- ``card``: the model card read from ``config.json``.
"""

from instapop.predict.candidates import Candidate
from instapop.predict.card import model_card
from instapop.predict.files import OVER_LIMIT, UNREADABLE, UNSUPPORTED, sniff_media_type
from instapop.predict.output import format_ranking, write_explanations
from instapop.predict.plans import Limits, Plan, plan_for, read_plan, unmatched_plans
from instapop.predict.predictor import Predictor

__all__ = [
    "OVER_LIMIT",
    "UNREADABLE",
    "UNSUPPORTED",
    "Candidate",
    "Limits",
    "Plan",
    "Predictor",
    "format_ranking",
    "model_card",
    "plan_for",
    "read_plan",
    "sniff_media_type",
    "unmatched_plans",
    "write_explanations",
]
