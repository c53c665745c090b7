"""Rank candidate posts with a trained model: in the terminal or on a local web page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from instapop.cli.app import CacheOpt, app, fail
from instapop.errors import InstapopError


@app.command()
def predict(
    model_dir: Annotated[Path, typer.Argument(help="A model/ folder written by `instapop train`.")],
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Candidate images and videos, or folders of them (a subfolder is one carousel)."),
    ],
    when: Annotated[
        str | None,
        typer.Option(help="Planned posting time, ISO 8601 (2025-06-01T19:00+09:00; no offset: UTC)."),
    ] = None,
    caption: Annotated[str | None, typer.Option(help="Planned caption (\"\" for none).")] = None,
    plan: Annotated[
        Path | None,
        typer.Option(help="CSV with columns file,when,caption: a time and caption per candidate."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ranking as JSON.")] = False,
    explain: Annotated[
        Path | None,
        typer.Option(help="Write a heatmap PNG per image and a filmstrip PNG per video into this folder."),
    ] = None,
    cache: CacheOpt = None,
) -> None:
    """Rank candidate posts, best first, by the popularity the model expects.

    Prints each candidate's media type, predicted class and score in [0, 1]: a
    classifier's expected class over N-1 (its probabilities beside the class), or a
    ranker's predicted percentile within the profile's window, with how much the
    picture and the context (timing, caption) moved it, in percentile points. A
    ranker reads --when and --caption (or a --plan row per file); what is not given
    is taken as the profile's typical, and the output says so. Files that cannot be
    scored are listed with the reason.

    Example: instapop predict run/model candidates/ --when 2025-06-01T19:00+09:00 --explain heatmaps
    """
    from instapop import runtime
    from instapop.predict import (
        Plan,
        Predictor,
        format_ranking,
        read_plan,
        unmatched_plans,
        write_explanations,
    )

    runtime.configure_runtime()
    try:
        predictor = Predictor.load(model_dir, cache_dir=cache)
        plans = read_plan(plan, predictor.limits) if plan is not None else None
        scored = predictor.score_paths(
            inputs, explain=explain is not None, plan=Plan(when, caption), plans=plans
        )
        ranked = predictor.rank(scored)
    except InstapopError as err:
        fail(err)
    for name in unmatched_plans(plans or {}, [c.name for c in ranked]):
        typer.echo(f"warning: {plan}: {name} is not among the candidates", err=True)
    if explain is not None:
        written = write_explanations(ranked, explain)
        typer.echo(f"wrote {len(written)} explanation PNGs into {explain}", err=True)
    if as_json:
        typer.echo(json.dumps(predictor.ranking_json(ranked, heatmaps=False), indent=2))
    else:
        typer.echo(format_ranking(ranked, predictor.class_names))
    if not any(candidate.ok for candidate in ranked):
        raise typer.Exit(code=1)


@app.command()
def serve(
    model_dir: Annotated[Path, typer.Argument(help="A model/ folder written by `instapop train`.")],
    host: Annotated[
        str, typer.Option(help="Address to listen on; the default keeps the page on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    cache: CacheOpt = None,
) -> None:
    """Serve the ranking page and its JSON API (POST /api/predict, GET /api/model).

    Example: instapop serve run/model --port 8000
    """
    import uvicorn

    from instapop import runtime
    from instapop.web import create_app

    runtime.configure_runtime()
    try:
        web_app = create_app(model_dir, cache_dir=cache)
    except InstapopError as err:
        fail(err)
    typer.echo(f"instapop: open http://{host}:{port}/ (Ctrl+C stops the server)")
    uvicorn.run(web_app, host=host, port=port, log_level="info")
