"""The local web page and JSON API over :class:`instapop.predict.Predictor` (``instapop serve``)."""

from __future__ import annotations

from instapop.web.app import create_app

__all__ = ["create_app"]
