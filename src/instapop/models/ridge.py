"""The ranker's ridge regression in dual form: kernels of the picture and caption-word blocks
centred on a fold's rows, and every penalty and context weight from one eigendecomposition
(:meth:`instapop.models.ranker.Ranker.fit`).

With n items of d = 1,280 picture dimensions (and 20,000 caption terms) the n x n kernels are
the cheap side: one Gram matrix of the picture block serves every inner fold, which re-centres
its blocks (:func:`centred_gram`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from instapop.models.captions import CaptionCounts, post_rows


def centred_gram(gram: np.ndarray, fit: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blocks of a Gram matrix ``gram = X X^T`` as if X were centred on the ``fit`` rows' mean.

    Returns (K_fit, K_new) = (X_f - m)(X_f - m)^T and (X_n - m)(X_f - m)^T, m the mean of X_f,
    from sub-blocks of ``gram`` alone (O(n^2), no pass over X's 1,280 columns): with
    g_i = x_i . m (the row means of the block against the fit rows) and m . m their mean,
    (x_i - m) . (x_j - m) = G_ij - g_i - g_j + m . m.
    """
    fit_block, new_block = gram[np.ix_(fit, fit)], gram[np.ix_(new, fit)]
    g_fit, g_new = fit_block.mean(axis=1), new_block.mean(axis=1)
    g_mean = g_fit.mean()
    k_fit = fit_block - g_fit[:, None] - g_fit[None, :] + g_mean
    k_new = new_block - g_new[:, None] - g_fit[None, :] + g_mean
    return k_fit, k_new


def caption_grams(
    counts: CaptionCounts,
    text_of: np.ndarray,
    groups: np.ndarray,
    fit: np.ndarray,
    new: np.ndarray,
    max_features: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Centred Gram blocks (K_fit, K_new) of the caption words, as :func:`centred_gram` gives
    them for the picture, with a vocabulary learned from the ``fit`` rows' posts only.

    ``text_of`` maps an item (global index) to its caption's row of ``counts``. Each distinct
    caption is weighted once and its Gram spread back to the items (a carousel's items share
    their post's caption).
    """
    chosen = counts.fit(text_of[post_rows(groups, fit)], max_features)
    texts, item_text = np.unique(text_of[np.concatenate([fit, new])], return_inverse=True)
    t = counts.tfidf(chosen, texts)
    gram = (t @ t.T).toarray()[np.ix_(item_text, item_text)]
    return centred_gram(gram, np.arange(len(fit)), np.arange(len(fit), len(fit) + len(new)))


def ridge_paths(
    k_fit: np.ndarray,
    k_new: np.ndarray,
    context: np.ndarray,
    y: np.ndarray,
    context_new: np.ndarray,
    alphas,
    context_weights,
) -> np.ndarray:
    """Ridge predictions for every (context weight, penalty) at once: (weights, alphas, n_new).

    The features are [picture, w * context], centred on the fit rows; the picture block P enters
    only through its centred kernels ``k_fit`` = P P^T and ``k_new`` = P_new P^T
    (:func:`centred_gram`). The scores of new items are k_new (K + alpha I)^-1 (y - mean y) with
    K = P P^T + w^2 C C^T (dual form). One eigendecomposition P P^T = Q diag(l) Q^T gives
    (P P^T + alpha I)^-1 for every alpha; the context's low-rank term (a dozen columns) enters
    by the Woodbury identity, so each extra weight costs next to nothing. With n items of
    d = 1,280 dimensions this is an n x n eigendecomposition instead of an n x d SVD (4x less
    CPU at n ~ 940).
    """
    c_mean, y_mean = context.mean(axis=0), y.mean()
    c, target, c_new = context - c_mean, y - y_mean, context_new - c_mean
    eigenvalues, q = np.linalg.eigh(k_fit)
    q_target, q_context, new_q = q.T @ target, q.T @ c, k_new @ q
    out = np.zeros((len(context_weights), len(alphas), len(k_new)))
    for a, alpha in enumerate(alphas):
        inverse = 1.0 / (eigenvalues + alpha)  # (P P^T + alpha I)^-1 = Q diag(inverse) Q^T
        a_inv_t = q @ (inverse * q_target)
        a_inv_c = q @ (inverse[:, None] * q_context)
        for w, weight in enumerate(context_weights):
            u2 = weight**2
            dual = a_inv_t
            if c.shape[1]:  # Woodbury: (A + U U^T)^-1 t with U = w C
                small = np.eye(c.shape[1]) + u2 * c.T @ a_inv_c
                dual = a_inv_t - u2 * a_inv_c @ np.linalg.solve(small, c.T @ a_inv_t)
            out[w, a] = new_q @ (q.T @ dual) + u2 * c_new @ (c.T @ dual) + y_mean
    return out


def ridge_dual(kernel: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """(K + alpha I)^-1 (y - mean y) for a centred kernel K (Cholesky): the primal ridge weights
    of centred features X (K = X X^T, intercept unpenalised) are X^T times it."""
    shifted = kernel + alpha * np.eye(len(kernel))
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(shifted), y - y.mean())
