"""instapop: which of its own images and videos will a brand's Instagram audience like?

The library API comes first; the ``instapop`` CLI and the local web page are thin
faces over it. Stages, left to right (see docs/architecture.md)::

    ingest -> labels -> embed -> dedup -> datasets -> validation/training -> report -> predict
"""

from instapop.config import PAPER, Config

__version__ = "0.1.0"

__all__ = ["Config", "PAPER", "__version__"]
