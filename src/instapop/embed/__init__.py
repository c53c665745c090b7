"""Frozen-CNN features for every image and video: backbone, augmentation, cache, bulk extraction.

The usual entry point is ``embed_media(media, cache_dir, config)``, which returns a
``FeatureSet`` to ``save`` into a run folder's ``features/``.
"""

from instapop.embed.augment import augment_views
from instapop.embed.backbone import Encoder, Lite0, lite0_torch, load_encoder, to_input
from instapop.embed.cache import FeatureCache, default_cache_dir
from instapop.embed.extract import FeatureSet, embed_images, embed_media

__all__ = [
    "Encoder",
    "FeatureCache",
    "FeatureSet",
    "Lite0",
    "augment_views",
    "default_cache_dir",
    "embed_images",
    "embed_media",
    "lite0_torch",
    "load_encoder",
    "to_input",
]
