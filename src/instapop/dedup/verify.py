"""Is it the same photograph? Local features, a geometric fit, then the pixels.

Embedding distance says two pictures *look alike*; it cannot tell a re-crop or
a re-upload of one photograph from the same scene shot again, the other half of
a panorama or a sibling text card of one template. This module decides, for one
candidate pair, whether the two files show the same photograph:

1. **Local features** (SIFT, OpenCV), computed once per picture on a greyscale
   copy decoded at reduced size (about ``verify_side`` squared pixels, JPEG DCT
   scaling), matched both ways with Lowe's ratio test (mutual matches only).
2. **One map**: RANSAC fits an affine map from one picture onto the other. A
   copy is a crop, a resize, a border, a screenshot or a mild stretch of the
   other, so at least ``verify_min_inliers`` matches fit the map, the map keeps
   orientation (a mirror image needs a reflection), its two scales differ by at
   most ``verify_max_anisotropy`` (a stretch edit, not a new viewpoint), and it
   lays at least ``verify_min_contained`` of one picture inside the other (a crop
   down to half the area lies wholly inside the original; the two halves of a
   panorama meet at an edge and share nothing).
3. **Only one map**: the matches left over must not fit a *second* map with
   ``verify_max_second`` of the first one's inliers (and at least
   ``verify_min_inliers``). In a copy every match moves with the picture and the
   rest are scattered mistakes; in a re-shoot the object, or the person, that
   moved still matches itself, elsewhere; on text cards of one template the same
   words sit at other places.
4. **Pixels**: the picture drawn at the larger scale is warped onto the other
   and both are compared in 16-pixel tiles over their overlap, by zero-mean
   normalised cross-correlation of lightly blurred greyscale (so colour grading,
   re-encoding and resizing do not matter). Tiles with texture in either picture
   vote; ``agreement`` is the share of them that correlate, and a copy reaches
   ``verify_min_agreement``. A re-shot scene agrees on its static background but
   not where things moved; text cards of one template agree on the template, not
   on the text; a caption or a sticker laid over a photograph changes a small
   share of its tiles.

The thresholds were read off measured pairs (docs/stages/dedup.md, "The rule"): on the
development profile copies agree on 87-100 % of tiles and re-shoots on 20-66 %.
Every figure of the decision is kept (:class:`Evidence`), so ``dedup.json`` and
the audit sheet show why a pair was removed or not.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from instapop.config import Config
from instapop.dedup.threshold import auto_threshold
from instapop.media import MediaError, _check_not_empty, _check_pixels, _to_rgb
from instapop.runtime import resolve_threads

log = logging.getLogger(__name__)

RATIO = 0.8  # Lowe's ratio test: the best match must be clearly better than the second best
TILE = 16  # pixels per side of a compared tile, at the decoded size
TEXTURE_STD = 3.0  # grey levels: a tile flatter than this in both pictures carries no evidence
TILE_NCC = 0.5  # a textured tile agrees when its normalised cross-correlation reaches this
BLUR_SIGMA = 1.2  # pixels: forgives re-encoding noise and sub-pixel misalignment before comparing
MIN_VOTING_TILES = 4  # fewer textured tiles than this: the pixels cannot speak (NaN), geometry decides


@dataclass(frozen=True)
class PictureFeatures:
    """What verification needs of one picture, computed once per picture.

    Attributes
    ----------
    gray : uint8 array (h, w)
        The picture in greyscale at reduced size.
    points : float32 array (n, 2)
        Keypoint positions (x, y) in ``gray``'s pixels.
    descriptors : uint8 array (n, 128)
        Their SIFT descriptors (whole numbers 0-255 in OpenCV: a quarter of the float32 memory).
    """

    gray: np.ndarray
    points: np.ndarray
    descriptors: np.ndarray


@dataclass(frozen=True)
class Evidence:
    """What was measured of one pair of pictures.

    Attributes
    ----------
    matches : int
        Feature matches passing the ratio test both ways.
    inliers : int
        Matches the fitted map agrees with (0 when no map was found).
    second : int
        Matches among the rest that agree with a second map: a part that moved.
    contained : float
        Share of one picture's area the map lays inside the other (the larger of the two ways).
    anisotropy : float
        Ratio of the map's two scales (1 = a similarity), negative when the map mirrors.
    agreement : float
        Share of textured overlap tiles whose pixels correlate after warping.

    Figures that could not be measured (no map, no texture) are NaN.
    """

    matches: int
    inliers: int
    second: int
    contained: float
    anisotropy: float
    agreement: float


NO_EVIDENCE = Evidence(0, 0, 0, np.nan, np.nan, np.nan)


@dataclass(frozen=True)
class Verdict:
    """Whether two pictures are the same photograph, why, and the evidence."""

    evidence: Evidence
    same: bool
    why: str


def picture_features(path: Path | str, config: Config = Config()) -> PictureFeatures:
    """Decode a picture at reduced size and compute its SIFT keypoints.

    Parameters
    ----------
    path : Path or str
        An image file (a video's thumbnail for a video).
    config : Config
        ``verify_side`` (decoded area about its square), ``verify_features``
        (most keypoints kept), ``max_image_pixels``.

    Returns
    -------
    PictureFeatures

    Raises
    ------
    MediaError
        The file is empty, unreadable or too large.
    """
    gray = load_gray(Path(path), config.verify_side, config.max_image_pixels)
    sift = cv2.SIFT_create(nfeatures=config.verify_features)
    keypoints, descriptors = sift.detectAndCompute(gray, None)
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    if descriptors is None:
        descriptors = np.empty((0, 128), dtype=np.float32)
    return PictureFeatures(gray=gray, points=points, descriptors=descriptors.astype(np.uint8))


def load_gray(path: Path, side: int, max_pixels: int) -> np.ndarray:
    """The picture in greyscale, resized to about ``side`` x ``side`` pixels of area, aspect kept."""
    return cv2.cvtColor(load_small_rgb(path, side, max_pixels), cv2.COLOR_RGB2GRAY)


def _ratio_matches(query: np.ndarray, train: np.ndarray) -> dict[int, int]:
    """query index -> train index for matches passing the ratio test."""
    if len(query) < 2 or len(train) < 2:
        return {}
    found = cv2.BFMatcher(cv2.NORM_L2).knnMatch(query.astype(np.float32), train.astype(np.float32), k=2)
    return {m.queryIdx: m.trainIdx for m, n in found if m.distance < RATIO * n.distance}


def mutual_matches(a: PictureFeatures, b: PictureFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Matched point positions (in a, in b): ratio test passed from both sides, one partner each."""
    forward = _ratio_matches(a.descriptors, b.descriptors)
    backward = _ratio_matches(b.descriptors, a.descriptors)
    pairs = sorted((i, j) for i, j in forward.items() if backward.get(j) == i)
    if not pairs:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    ia, ib = np.array(pairs).T
    return a.points[ia], b.points[ib]


def _scales(affine: np.ndarray) -> tuple[float, float, float]:
    """Singular values (larger, smaller) of the linear part, and its determinant."""
    linear = affine[:, :2]
    s = np.linalg.svd(linear, compute_uv=False)
    return float(s[0]), float(s[1]), float(np.linalg.det(linear))


def _contained(affine: np.ndarray, src_shape: tuple[int, int], dst_shape: tuple[int, int]) -> float:
    """Share of the source picture's area the affine map lays inside the destination picture."""
    h, w = src_shape
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    mapped = corners @ affine[:, :2].T + affine[:, 2]
    dh, dw = dst_shape
    frame = np.array([[0, 0], [dw, 0], [dw, dh], [0, dh]], np.float32)
    inside, _ = cv2.intersectConvexConvex(mapped.astype(np.float32), frame)
    return float(inside) / float(abs(np.linalg.det(affine[:, :2])) * w * h)


def _invert(affine: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(affine)


def pixel_agreement(fine: np.ndarray, coarse: np.ndarray, affine: np.ndarray) -> tuple[float, int]:
    """Share of textured tiles that agree once ``fine`` is warped onto ``coarse``, and how many voted.

    Parameters
    ----------
    fine : uint8 array
        The picture drawn at the larger scale (the map shrinks it).
    coarse : uint8 array
        The other picture.
    affine : array (2, 3)
        Map from ``fine``'s pixels to ``coarse``'s.
    """
    h, w = coarse.shape
    warped = cv2.warpAffine(fine, affine, (w, h), flags=cv2.INTER_AREA)
    valid = cv2.warpAffine(np.full(fine.shape, 255, np.uint8), affine, (w, h), flags=cv2.INTER_NEAREST)
    ny, nx = h // TILE, w // TILE
    if ny == 0 or nx == 0:
        return float("nan"), 0

    def tiles(image: np.ndarray) -> np.ndarray:
        cut = image[: ny * TILE, : nx * TILE].astype(np.float32)
        return cut.reshape(ny, TILE, nx, TILE).transpose(0, 2, 1, 3).reshape(ny, nx, TILE * TILE)

    blur = {"ksize": (0, 0), "sigmaX": BLUR_SIGMA}
    a = tiles(cv2.GaussianBlur(warped, **blur))
    b = tiles(cv2.GaussianBlur(coarse, **blur))
    inside = tiles(valid).min(axis=2) > 0  # whole tiles only: a tile cut by the edge would disagree
    a = a - a.mean(axis=2, keepdims=True)
    b = b - b.mean(axis=2, keepdims=True)
    sa, sb = np.sqrt((a * a).mean(axis=2)), np.sqrt((b * b).mean(axis=2))
    voting = inside & (np.maximum(sa, sb) >= TEXTURE_STD)
    ncc = (a * b).mean(axis=2) / np.maximum(sa * sb, 1e-6)
    n_voting = int(voting.sum())
    if n_voting < MIN_VOTING_TILES:
        return float("nan"), n_voting
    return float((ncc[voting] >= TILE_NCC).mean()), n_voting


def _fit_affine(pa: np.ndarray, pb: np.ndarray, ransac_px: float) -> tuple[np.ndarray | None, np.ndarray]:
    """RANSAC affine map from pa to pb, and the inlier mask (all False without a map)."""
    if len(pa) < 3:
        return None, np.zeros(len(pa), bool)
    affine, mask = cv2.estimateAffine2D(
        pa, pb, method=cv2.RANSAC, ransacReprojThreshold=ransac_px, maxIters=2000, confidence=0.995
    )
    # Degenerate samples (points on a line) can give an infinite map or one that flattens the picture.
    if affine is None or not np.isfinite(affine).all() or abs(np.linalg.det(affine[:, :2])) < 1e-6:
        return None, np.zeros(len(pa), bool)
    return affine, mask.ravel().astype(bool)


def measure_pair(a: PictureFeatures, b: PictureFeatures, config: Config = Config()) -> Evidence:
    """Every figure the decision reads, for one pair of pictures (see the module docstring)."""
    pa, pb = mutual_matches(a, b)
    affine, inlier = _fit_affine(pa, pb, config.verify_ransac_px)
    if affine is None:
        return dataclasses.replace(NO_EVIDENCE, matches=len(pa))
    # A second map over the rest: a part of the picture that moved against the first (a re-shoot).
    _, second = _fit_affine(pa[~inlier], pb[~inlier], config.verify_ransac_px)
    big, small, det = _scales(affine)
    contained = max(
        _contained(affine, a.gray.shape, b.gray.shape),
        _contained(_invert(affine), b.gray.shape, a.gray.shape),
    )
    # Warp the picture drawn larger onto the other: shrinking loses nothing the comparison needs.
    if big * small >= 1.0:
        agreement, _ = pixel_agreement(a.gray, b.gray, affine)
    else:
        agreement, _ = pixel_agreement(b.gray, a.gray, _invert(affine))
    return Evidence(
        matches=len(pa),
        inliers=int(inlier.sum()),
        second=int(second.sum()),
        contained=contained,
        anisotropy=big / max(small, 1e-9) * (1 if det > 0 else -1),
        agreement=agreement,
    )


def verify_pair(a: PictureFeatures, b: PictureFeatures, config: Config = Config()) -> Verdict:
    """Decide whether two pictures show the same photograph (see the module docstring).

    Parameters
    ----------
    a, b : PictureFeatures
        From :func:`picture_features`.
    config : Config
        The ``verify_*`` settings.

    Returns
    -------
    Verdict
    """
    e = measure_pair(a, b, config)
    return Verdict(e, *decide(e, config))


def decide(e: Evidence, config: Config) -> tuple[bool, str]:
    """The decision from the evidence: (same photograph?, the first test that failed)."""
    if e.inliers < config.verify_min_inliers:
        return False, f"too few matches fit one map ({e.inliers} of {e.matches})"
    if e.anisotropy < 0:
        return False, "the map needs a reflection (a mirror image)"
    if e.anisotropy > config.verify_max_anisotropy:
        return False, f"the map stretches one way {e.anisotropy:.2f}x the other"
    if e.contained < config.verify_min_contained:
        return False, f"only {e.contained:.0%} of one picture lies in the other"
    if e.second >= max(config.verify_min_inliers, config.verify_max_second * e.inliers):
        return False, f"a part moved: {e.second} matches fit a second map"
    if e.agreement < config.verify_min_agreement:
        return False, f"pixels differ: {e.agreement:.0%} of textured tiles agree"
    return True, "same photograph"


def verify_pairs(
    pairs: Sequence[tuple[str, str]],
    pictures: dict[str, str],
    config: Config = Config(),
    progress: bool = True,
) -> list[Verdict]:
    """Verify candidate pairs, computing each picture's features once (in ``embed_threads`` threads).

    Parameters
    ----------
    pairs : sequence of (id, id)
    pictures : dict
        id -> picture file.
    config : Config
    progress : bool
        Show progress bars (only on a terminal).

    Returns
    -------
    One Verdict per pair, in order; a pair with an unreadable picture is judged not the
    same, with the reason in ``why``.
    """
    needed = sorted({m for pair in pairs for m in pair})
    bars = {"disable": None if progress else True, "leave": False}
    # OpenCV and numpy release the GIL, so threads use every core for decoding, SIFT and the pairs.
    with ThreadPoolExecutor(resolve_threads(config.embed_threads)) as pool:
        computed = pool.map(lambda m: _features_or_reason(m, pictures, config), needed)
        found = tqdm(computed, total=len(needed), desc="picture features", unit="picture", **bars)
        features = dict(zip(needed, found, strict=True))
        judged = pool.map(lambda pair: _verdict(features[pair[0]], features[pair[1]], config), pairs)
        return list(tqdm(judged, total=len(pairs), desc="verify pairs", unit="pair", **bars))


def _verdict(a: PictureFeatures | str, b: PictureFeatures | str, config: Config) -> Verdict:
    """The pair's verdict, or not the same when a picture could not be read (the reason says which)."""
    if isinstance(a, str) or isinstance(b, str):
        return Verdict(NO_EVIDENCE, False, a if isinstance(a, str) else str(b))
    return verify_pair(a, b, config)


def _features_or_reason(media_id: str, pictures: dict[str, str], config: Config) -> PictureFeatures | str:
    path = pictures.get(media_id, "")
    if not path:
        return f"no picture to compare for {media_id}"
    try:
        return picture_features(path, config)
    except MediaError as err:
        log.warning("cannot verify %s: %s", media_id, err)
        return f"unreadable picture: {err.reason}"


# --------------------------------------------------------------------------- framed pictures

FRAME_SIDE = 96  # pictures decoded to about this many pixels squared to find a frame
FRAME_TOLERANCE = 12  # grey levels: a pixel this close to the frame's colour belongs to the frame
FRAMED_SHARE = 0.85  # a picture whose content box covers less of it than this is framed
THUMB = 16  # content thumbnails are THUMB x THUMB colour
MIN_FRAMED = 3  # fewer framed pictures give no median or spread for the fence: none are paired


def content_box(gray: np.ndarray) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) of the picture inside a border or a phone's app chrome.

    The frame's colour is the median of the outermost pixels; rows and then columns
    where most pixels have another colour are content, and the longest run of them
    is the box. Text and icons on the frame (a status bar, a caption) do not make a
    row content, since most of such a row is still the frame's colour.
    """
    ring = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    near = np.abs(gray.astype(np.int16) - int(np.median(ring))) <= FRAME_TOLERANCE
    y0, y1 = _longest_run(near.mean(axis=1) < 0.5)
    x0, x1 = _longest_run(near[y0:y1].mean(axis=0) < 0.5)
    return x0, y0, x1, y1


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """Start and end (exclusive) of the longest run of True; the whole range when none is True."""
    best, start = (0, len(flags)), None
    longest = 0
    for i, flag in enumerate(np.append(flags, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > longest:
                best, longest = (start, i), i - start
            start = None
    return best


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    """THUMB x THUMB colour thumbnail, each channel to zero mean and unit spread (a grade changes little)."""
    small = cv2.resize(rgb, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
    return ((small - small.mean(axis=(0, 1))) / np.maximum(small.std(axis=(0, 1)), 1.0)).ravel()


def load_small_rgb(path: Path, side: int, max_pixels: int) -> np.ndarray:
    """The picture in RGB, resized to about ``side`` x ``side`` pixels of area, aspect kept."""
    _check_not_empty(path)
    try:
        with Image.open(path) as image:
            image.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            _check_pixels(path, image.size, max_pixels)
            rgb = _to_rgb(ImageOps.exif_transpose(image))
    except Image.DecompressionBombError as err:
        raise MediaError(path, f"refused as a possible decompression bomb ({err})") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise MediaError(path, f"cannot decode image ({err})") from err
    scale = side / np.sqrt(rgb.width * rgb.height)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return np.asarray(rgb.resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)


def framed_candidates(
    pictures: dict[str, str], config: Config = Config(), progress: bool = True
) -> list[tuple[str, str]]:
    """Pairs for pictures shown inside a frame (a border, a phone screenshot), whose embedding is far.

    An embedding sees a screenshot mostly as the app around the picture, so its copy is
    not among its nearest neighbours. Each framed picture's content, cut out of the
    frame and shrunk to a 16 x 16 colour thumbnail, is compared with every picture's
    whole thumbnail; its nearest is a candidate when that distance is an outlier among
    all framed pictures' nearest distances (the rule of :func:`auto_threshold` with
    ``Config.dup_outlier_k``). Verification then decides.

    Returns
    -------
    list of (id, id), each pair once, ids in sorted order within a pair.
    """
    ids = sorted(pictures)

    def thumbnails(media_id: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        try:
            rgb = load_small_rgb(Path(pictures[media_id]), FRAME_SIDE, config.max_image_pixels)
        except MediaError:
            return None  # verification names it if it is ever a candidate
        x0, y0, x1, y1 = content_box(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        framed = (x1 - x0) * (y1 - y0) < FRAMED_SHARE * rgb.shape[0] * rgb.shape[1]
        framed = framed and min(x1 - x0, y1 - y0) >= THUMB
        return _thumbnail(rgb), _thumbnail(rgb[y0:y1, x0:x1]) if framed else None

    with ThreadPoolExecutor(resolve_threads(config.embed_threads)) as pool:
        found = list(
            tqdm(
                pool.map(thumbnails, ids),
                total=len(ids),
                desc="framed pictures",
                unit="picture",
                disable=None if progress else True,
                leave=False,
            )
        )
    readable = [(m, t) for m, t in zip(ids, found, strict=True) if t is not None]
    whole = np.stack([t[0] for _, t in readable]) if readable else np.empty((0, 3 * THUMB * THUMB))
    nearest = []
    for i, (media_id, (_, content)) in enumerate(readable):
        if content is not None and len(readable) > 1:
            distances = np.linalg.norm(whole - content, axis=1)
            distances[i] = np.inf
            j = int(np.argmin(distances))
            nearest.append((float(distances[j]), media_id, readable[j][0]))
    if len(nearest) < MIN_FRAMED:
        return []
    fence = auto_threshold(np.array([d for d, _, _ in nearest]), k=config.dup_outlier_k).value
    return sorted({tuple(sorted((a, b))) for d, a, b in nearest if d <= fence})
