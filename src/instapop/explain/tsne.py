"""The t-SNE map of the profile's pictures (paper Fig. 4) and the regions where popularity gathers.

Region finder
-------------
The 2-D map is cut into compact clusters by Ward agglomerative clustering on the
map coordinates (deterministic, no seed; about ``2 * min_size`` points per
cluster). Each cluster of at least ``min_size`` points is compared with the rest
of the map by a two-sided Mann-Whitney U test on the popularity classes: are its
classes shifted up (a "popular" region) or down ("unpopular")? This uses every
class, not only the top one: on a 60-post profile a binomial test of the
top-class share missed a cluster of 31 pictures, 97 % of them the planted
popular object (mean class 1.48 against 0.91 overall), while U found it with
p < 1e-4. The p-values are multiplied by the number of clusters tested
(Bonferroni) before they are compared with ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Region:
    """A patch of the map whose popularity differs from the profile's.

    Attributes
    ----------
    members : indices (into the map's points) of the region's items, nearest to its centre first.
    size : number of members.
    mean_class : mean popularity class of the members (0 = least popular).
    p_value : Bonferroni-adjusted Mann-Whitney U p-value (capped at 1).
    direction : ``"popular"`` (more top-class items than the profile) or ``"unpopular"``.
    share : share of the top class (popular regions) or of the bottom class (unpopular) in the region.
    baseline : the same share over the whole map.
    """

    members: np.ndarray
    size: int
    mean_class: float
    p_value: float
    direction: str
    share: float
    baseline: float

    def to_dict(self) -> dict:
        """JSON-ready fields (members as a list of ints)."""
        return {
            "members": [int(i) for i in self.members],
            "size": self.size,
            "mean_class": round(self.mean_class, 4),
            "p_value": self.p_value,
            "direction": self.direction,
            "share": round(self.share, 4),
            "baseline": round(self.baseline, 4),
        }


def tsne_map(vectors: np.ndarray, seed: int) -> np.ndarray:
    """2-D t-SNE of embeddings, reproducible for a given seed.

    Parameters
    ----------
    vectors : (n, D) embeddings, n >= 3.
    seed : random seed of the initialisation and optimisation.

    Returns
    -------
    (n, 2) float array.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(vectors)
    if n < 3:
        raise ValueError(f"t-SNE needs at least 3 points; got {n}")
    # PCA to 50 dimensions first: the usual t-SNE practice, faster and less noisy on 1280-d inputs
    n_components = min(50, n, vectors.shape[1])
    reduced = PCA(n_components=n_components, random_state=seed).fit_transform(vectors)
    perplexity = min(30.0, (n - 1) / 3.0)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(reduced).astype(np.float32)


def _clusters(xy: np.ndarray, min_size: int) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    n_clusters = max(2, len(xy) // (2 * min_size))
    return AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(xy)


def _nearest_centre_first(xy: np.ndarray, members: np.ndarray) -> np.ndarray:
    distance = np.linalg.norm(xy[members] - xy[members].mean(axis=0), axis=1)
    return members[np.argsort(distance, kind="stable")]


def find_regions(
    xy: np.ndarray, classes: np.ndarray, n_classes: int, min_size: int = 10, alpha: float = 0.01
) -> list[Region]:
    """Clusters of the map whose popularity is significantly far from the profile's.

    Parameters
    ----------
    xy : (n, 2) map coordinates (:func:`tsne_map`).
    classes : (n,) popularity classes, 0 .. n_classes - 1.
    n_classes : number of classes N.
    min_size : smallest cluster tested.
    alpha : significance level after the Bonferroni correction (see the module docstring).

    Returns
    -------
    Regions sorted by p-value (most significant first); empty when none passes.
    """
    from scipy.stats import mannwhitneyu

    xy = np.asarray(xy, dtype=np.float64)
    classes = np.asarray(classes)
    if len(xy) < 2 * min_size:
        return []
    labels = _clusters(xy, min_size)
    candidates = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    candidates = [m for m in candidates if len(m) >= min_size]
    profile_mean = float(classes.mean())
    regions = []
    for members in candidates:
        rest = np.setdiff1d(np.arange(len(classes)), members)
        raw = mannwhitneyu(classes[members], classes[rest], alternative="two-sided").pvalue
        p_value = min(1.0, float(raw) * len(candidates))
        if not p_value < alpha:  # also drops NaN (every class equal)
            continue
        mean_class = float(classes[members].mean())
        popular = mean_class > profile_mean
        tested = n_classes - 1 if popular else 0
        regions.append(
            Region(
                members=_nearest_centre_first(xy, members),
                size=len(members),
                mean_class=mean_class,
                p_value=p_value,
                direction="popular" if popular else "unpopular",
                share=float(np.mean(classes[members] == tested)),
                baseline=float(np.mean(classes == tested)),
            )
        )
    return sorted(regions, key=lambda r: (r.p_value, -r.size))
