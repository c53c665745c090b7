"""Near-duplicate removal: which media are allowed into training (paper §4.1, Fig. 3a).

A profile reposts its own pictures: re-crops, re-encodes and colour-shifted
copies, months apart. Left in, a repost gives free predictions in validation
(its twin is in the training fold) and conflicting labels in training. This
module finds them and decides which copy stays; it deletes nothing.

Steps
-----
1. **Exact nearest-neighbour search** on the clean image embeddings (view 0),
   Euclidean distance as in the paper, by a chunked dense distance matrix in
   float64 (images number in the low thousands, so brute force is exact and
   takes seconds).
2. **Automatic threshold** from the nearest-neighbour (NN) distances
   (:func:`auto_threshold`). The paper cuts the histogram's left tail off by
   eye; we use a *robust one-sided outlier rule on log distances*::

       x     = log(NN distance)                     (non-zero distances only)
       m     = median(x)
       s     = 1.4826 * median(x_i - m  for x_i > m)   # upper-half MAD
       cut   = exp(m - k * s),   k = Config.dup_outlier_k = 3

   Why this rule and not a histogram valley:

   * *Logs* make the rule scale-free: it reads "k spreads below the typical
     NN distance" in ratios, so it transfers unchanged between Lite0, the
     paper's B0 or a user's ONNX backbone, whose distances differ in scale.
   * *The upper half only* sets the spread. Duplicates and same-shoot
     variants only ever pull NN distances *down*, so the lower half is the
     contaminated side; the upper half describes ordinary images. Median and
     MAD also ignore the odd image unlike anything else on the right.
   * *k = 3* is the usual three-sigma fence: on a profile with no reposts at
     all it flags about 0.1 % of items, and it does not need a second mode.
     A valley needs a visible second bump; a brand with few reposts has none,
     and then the deepest dip of a noisy histogram lands anywhere. On real
     profiles the reposts (~7-8 with Lite0) and same-shoot photos (~8-9) sit
     in one shoulder below a median of ~13, so a valley would not separate
     them either; a fence at a fixed number of spreads below the median is
     stable and says in numbers why it lies where it lies.

   With verification (``Config.dup_verify``, the default) the same rule with
   ``k = Config.dup_candidate_k = 0`` is only a *candidate bound*: pairs
   closer than the median NN distance, where one is among the other's
   ``Config.dup_candidate_neighbours`` nearest. Embedding distance cannot
   tell a re-crop of one photograph from a similar photograph (on the
   development profile a repost sits at 7.66 and the next day's different
   selfie at 7.78), so the pictures decide. ``Config.dup_threshold`` (CLI
   ``--dup-threshold``) replaces the bound (every pair within it is a
   candidate), or, without verification, the threshold, as the paper adjusts
   its guess after looking at the pairs (``dedup_pairs.png`` shows them).
3. **Candidates and verification** (:mod:`instapop.dedup.verify`): the pairs
   within the bound, plus pictures shown inside a frame (a border, a phone
   screenshot) paired with the picture their content resembles most, whose
   embedding is far (:func:`~instapop.dedup.verify.framed_candidates`). Each
   pair is a duplicate when the two files show the same photograph: one
   geometric map, nothing that moved, the pixels agreeing (see that module).
   Two videos are candidates when their thumbnail embeddings are within the
   bound *and* their duration and frame rate match within
   ``Config.video_duration_tol_s`` and ``Config.video_fps_tol``; their
   thumbnails are verified. The bound comes from the images (thumbnails are
   pictures in the same embedding space); from the thumbnails only when a
   profile has too few images. Every candidate is kept with its evidence in
   ``dedup.json``.
4. **Conflicts** (:func:`resolve_conflicts`, pure). The paper: when the two
   copies' classes differ a single post beats a carousel (a carousel's likes
   are shared by all its media, so its label speaks less for any one of
   them); between two of the same kind the most recent is kept. We apply the
   *same* order when the classes agree, for the same reason and so that all
   decisions follow one total order: single post first, then most recent,
   then lower carousel position, then media id. The reason column records
   whether the classes differed.

   Groups of more than two copies are resolved greedily in that order: the
   best item is kept and every verified duplicate of it is removed
   with it as partner; then the best remaining item, and so on. So no two
   kept items are duplicates of each other, and a chain A~B~C whose ends are
   not duplicates keeps A and C and removes only B.
5. **Exclusions**: media a person lists (logos, product sheets in carousels,
   paper §5) are removed with reason "excluded by user" before the search,
   so their copies are judged without them.

Modules, one job each: ``search`` (nearest neighbours, pairs within a distance), ``threshold``
(step 2), ``verify`` (step 3's pictures), ``conflicts`` (step 4), ``stage`` (the whole stage:
:func:`deduplicate`), ``files`` (its result, ``dedup.csv`` / ``dedup.json`` and reading them
back) and ``figures`` (the histogram and the contact sheet).
"""

from instapop.dedup.conflicts import REASON_UNIQUE, resolve_conflicts
from instapop.dedup.files import (
    REASON_EXCLUDED,
    REASON_NO_FEATURES,
    DedupResult,
    describe_summary,
    load_dedup,
    read_exclude_file,
    removed_ids,
)
from instapop.dedup.search import find_duplicate_pairs, nearest_neighbour_distances
from instapop.dedup.stage import deduplicate, match_exclusions
from instapop.dedup.threshold import ThresholdChoice, auto_threshold

__all__ = [
    "REASON_EXCLUDED",
    "REASON_NO_FEATURES",
    "REASON_UNIQUE",
    "DedupResult",
    "ThresholdChoice",
    "auto_threshold",
    "deduplicate",
    "describe_summary",
    "find_duplicate_pairs",
    "load_dedup",
    "match_exclusions",
    "nearest_neighbour_distances",
    "read_exclude_file",
    "removed_ids",
    "resolve_conflicts",
]
