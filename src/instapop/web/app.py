"""FastAPI app: one page to rank candidate posts, and its JSON API.

Routes
------
``GET /``             the page (``static/index.html``; plain HTML/JS/CSS, nothing from the network)
``GET /api/model``    the model card: classes and their boundaries (in the target's units), dates, CV accuracy
``POST /api/predict`` multipart form, one or more ``files`` fields -> ranked JSON
                      (``?explain=true`` adds a heatmap per image and a filmstrip per video);
                      optional ``when`` (ISO 8601, no offset = UTC) and ``caption`` fields, once
                      for every file or once per file in the files' order; an empty one means
                      "not given": the model assumes the profile's typical value and says so

The model and the backbone session are loaded once, by :func:`create_app`. Scoring
runs on a small thread pool (``SCORING_THREADS``): ONNX Runtime's ``run`` is
thread-safe and the predictor serialises its torch parts, and a bounded pool keeps
a burst of requests queueing instead of oversubscribing the CPU.

Uploads are bounded by :class:`instapop.predict.Limits`. A request over a
request-wide limit (no Content-Length, too many bytes or files) is refused whole
with 411/413/400 and the reason. Within a request, a file that cannot be scored gets
its own error entry and the others are still scored; when no file of a request can
be scored the response is a 4xx (415 not an image or video, 413 over a limit,
422 unreadable) whose body lists every file's reason. Uploads are written to a
temporary folder that is removed when the request ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile

from instapop.errors import InstapopError
from instapop.predict import OVER_LIMIT, UNREADABLE, UNSUPPORTED, Candidate, Limits, Plan, Predictor

STATIC = Path(__file__).parent / "static"
SCORING_THREADS = 2  # requests scored at once: one decodes while the other runs; more would only queue
STATUS_BY_ERROR = {UNSUPPORTED: 415, OVER_LIMIT: 413, UNREADABLE: 422}


def create_app(
    model_dir: Path, limits: Limits | None = None, cache_dir: Path | None = None, explain: bool = True
) -> FastAPI:
    """Build the app around a model loaded once, now.

    Parameters
    ----------
    model_dir : a ``model/`` folder written by ``instapop train``.
    limits : upload bounds (default :class:`instapop.predict.Limits`).
    cache_dir : where the backbone's ONNX graph is cached.
    explain : load the torch backbone for heatmaps at start-up too (the page asks for them).

    Returns
    -------
    The FastAPI app; serve it with uvicorn (``instapop serve`` does).
    """
    predictor = Predictor.load(Path(model_dir), cache_dir=cache_dir, limits=limits, explain=explain)
    executor = ThreadPoolExecutor(max_workers=SCORING_THREADS, thread_name_prefix="instapop-score")
    app = FastAPI(title="instapop", summary="Rank candidate Instagram posts")
    app.state.predictor = predictor
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/model")
    def model() -> dict[str, Any]:
        """The model card, the context its models read, and the upload limits the page shows."""
        return {
            **predictor.model_card(),
            "context": predictor.context_card(),
            "limits": dataclasses.asdict(predictor.limits),
        }

    @app.post("/api/predict")
    async def predict(request: Request, explain: bool = False) -> JSONResponse:
        """Score and rank the uploaded files (multipart field ``files``, repeatable)."""
        refusal = _refuse_body(request, predictor.limits)
        if refusal is not None:
            return refusal
        async with request.form(
            max_files=predictor.limits.max_files, max_fields=2 * predictor.limits.max_files + 2
        ) as form:
            uploads = [value for value in form.getlist("files") if isinstance(value, UploadFile)]
            if not uploads:
                return _error(
                    400, "no files in the request: send them as multipart form fields named 'files'"
                )
            try:
                plans = _plans(form.getlist("when"), form.getlist("caption"), len(uploads), predictor.limits)
            except InstapopError as err:
                return _error(400, str(err))
            loop = asyncio.get_running_loop()
            ranked = await loop.run_in_executor(
                executor, _score_uploads, predictor, uploads, plans, explain
            )
        return _ranking_response(predictor, ranked)

    return app


def _refuse_body(request: Request, limits: Limits) -> JSONResponse | None:
    """411/413 before reading a byte of a body whose size is unknown or over the limit."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return _error(411, "the request must declare its Content-Length")
    if int(length) > limits.max_request_bytes:
        return _error(413, f"the request holds {length} bytes, over the limit of {limits.max_request_bytes}")
    return None


def _plans(whens: list[Any], captions: list[Any], n_files: int, limits: Limits) -> list[Plan]:
    """One checked Plan per upload from the ``when`` and ``caption`` fields (once, or once per file)."""
    times, texts = _per_file("when", whens, n_files), _per_file("caption", captions, n_files)
    return [Plan(when, caption).checked(limits) for when, caption in zip(times, texts, strict=True)]


def _per_file(field: str, values: list[Any], n_files: int) -> list[str | None]:
    """A form field's value for each file: none given, one for all, or one each; empty = not given."""
    texts = [value if isinstance(value, str) else "" for value in values]
    if len(texts) not in (0, 1, n_files):
        raise InstapopError(f"{len(texts)} '{field}' fields for {n_files} files: send one, or one per file")
    if len(texts) == 1:
        texts = texts * n_files
    return [text or None for text in texts] if texts else [None] * n_files


def _score_uploads(
    predictor: Predictor, uploads: list[UploadFile], plans: list[Plan], explain: bool
) -> list[Candidate]:
    """Copy the uploads into a temporary folder, score each with its plan and rank them.

    The folder is removed when scoring ends.
    """
    with tempfile.TemporaryDirectory(prefix="instapop-upload-") as tmp:
        paths = []
        for index, upload in enumerate(uploads):
            # one subfolder per upload keeps the client's file name (the ranking's tie-break) unique
            path = Path(tmp, str(index), _safe_name(upload.filename, index))
            path.parent.mkdir()
            upload.file.seek(0)
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out)
            paths.append(path)
        candidates = [
            candidate
            for path, plan in zip(paths, plans, strict=True)
            for candidate in predictor.score_paths([path], explain=explain, plan=plan)
        ]
    for candidate, path in zip(candidates, paths, strict=True):  # name the client's file, not our copy
        if candidate.error:
            candidate.error = candidate.error.replace(str(path), candidate.name)
    return predictor.rank(candidates)


def _safe_name(filename: str | None, index: int) -> str:
    """The client's file name without any folder part or control characters."""
    name = re.sub(r"[\x00-\x1f/\\]", "_", Path((filename or "").replace("\\", "/")).name)
    return name if name.strip(". ") else f"upload-{index}"


def _ranking_response(predictor: Predictor, ranked: list[Candidate]) -> JSONResponse:
    body = predictor.ranking_json(ranked)
    if any(c.ok for c in ranked):
        return JSONResponse(body)
    kinds = {c.error_kind for c in ranked}
    status = STATUS_BY_ERROR[kinds.pop()] if len(kinds) == 1 else 422
    reasons = "; ".join(c.error or "" for c in ranked)
    return JSONResponse({"detail": f"no file could be scored: {reasons}", **body}, status_code=status)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)
