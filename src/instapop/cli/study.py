"""Commands over whole studies: a synthetic profile, the demo, many profiles on Ray."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from instapop.cli.app import CacheOpt, SeedOpt, app, fail
from instapop.cli.stages import print_study, read_config_file
from instapop.config import Config
from instapop.errors import InstapopError


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the synthetic profile into.")],
    posts: Annotated[
        int | None, typer.Option(help="Number of posts (default 300; 150 with --reels).", show_default=False)
    ] = None,
    seed: SeedOpt = 0,
    no_signal: Annotated[bool, typer.Option("--no-signal", help="Popularity independent of pixels.")] = False,
    video_size: Annotated[str, typer.Option(help="'small' (fast) or '720p' (realistic).")] = "small",
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="'instaloader' (a profile folder) or 'business-suite' (export.csv with planted reach "
            "+ media/ named by shortcode).",
        ),
    ] = "instaloader",
    weekend_factor: Annotated[
        float, typer.Option(help="PoR x this for posts on Saturdays and Sundays (UTC): a weekday effect.")
    ] = Config.synth_weekend_factor,
    reels: Annotated[
        bool,
        typer.Option(
            "--reels",
            help="A reels-first brand: 90% videos, two thirds of them cover only (as `instaloader "
            "--no-videos` leaves them), views unknown (null or 0) on some.",
        ),
    ] = False,
    caption_effect: Annotated[
        float,
        typer.Option(
            help="PoR x this for posts whose caption carries a planted word, hashtag or emoji "
            "(captions in English, Russian and Japanese); 1: captions do not matter."
        ),
    ] = Config.synth_caption_factor,
) -> None:
    """Generate a synthetic profile (Instaloader folder or Business Suite export) with a planted signal.

    Example: instapop synth demo-profile --posts 300 --seed 1 --weekend-factor 1.5

    Example: instapop synth demo-captions --posts 200 --caption-effect 1.6

    Example: instapop synth demo-export --format business-suite

    Example: instapop synth demo-reels --reels
    """
    from instapop.synthetic import generate_profile

    try:
        profile = generate_profile(
            out_dir,
            n_posts=(150 if reels else 300) if posts is None else posts,
            seed=seed,
            signal=not no_signal,
            video_size=video_size,
            format=format,
            config=Config(synth_weekend_factor=weekend_factor, synth_caption_factor=caption_effect),
            reels=reels,
        )
    except InstapopError as err:
        fail(err)
    typer.echo(f"{'export' if format == 'business-suite' else 'profile'}: {profile.profile_dir}")
    typer.echo(f"followers: {profile.followers_csv}")
    typer.echo(f"ground truth: {profile.ground_truth}")


@app.command()
def batch(
    profiles: Annotated[
        Path,
        typer.Argument(
            help="A folder of profile folders (each with its followers*.csv inside), or a profiles.csv "
            "(name, folder, followers [;-separated], optional followers_date)."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Output folder: profiles/<name>/ run folders, portfolio.html.")
    ] = Path("instapop-batch"),
    address: Annotated[
        str | None,
        typer.Option(help="Join a Ray cluster: 'auto' or 'ray://host:port' (default: start one here)."),
    ] = None,
    cpus: Annotated[int, typer.Option(help="CPUs of the Ray started here; 0 = every core.")] = 0,
    worker_cpus: Annotated[
        int, typer.Option(help="CPUs (threads) per embedding worker and per profile study.")
    ] = Config.batch_worker_cpus,
    shard_items: Annotated[
        int, typer.Option(help="Media items per embedding task.")
    ] = Config.batch_shard_items,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="Study settings from a config.json (default: paper's).")
    ] = None,
    cache: CacheOpt = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the config's).")] = None,
) -> None:
    """Study many profiles on Ray and write a sortable portfolio page with one row per profile.

    Embeddings run as Ray tasks over shards of media of all profiles, then one study per
    profile (the same stages as `instapop run`). Killed, the same command resumes where it
    stopped; a profile that fails is listed with its reason and the others finish.
    On a cluster, OUT, the cache and the profiles must be on a filesystem every node mounts.

    Example: instapop batch clients/ --out portfolio-2024-09 --cpus 8
    """
    from instapop.batch import read_profiles, run_batch
    from instapop.runtime import configure_runtime

    configure_runtime()
    try:
        config = read_config_file(config_file) if config_file else Config()
        overrides = {"batch_worker_cpus": worker_cpus, "batch_shard_items": shard_items}
        if seed is not None:
            overrides["seed"] = seed
        config = dataclasses.replace(config, **overrides)
        result = run_batch(
            read_profiles(profiles), out, config, cache_dir=cache, address=address, cpus=cpus or None,
            announce=typer.echo,
        )
    except (InstapopError, ValueError) as err:
        fail(err)
    stats, n_ok = result.stats, len(result.profiles) - len(result.failed)
    reused = sum(p.status == "reused" for p in result.profiles)
    typer.echo(
        f"done in {stats['seconds']:.1f}s: {n_ok} of {len(result.profiles)} profiles done"
        + (f" ({reused} unchanged since an earlier batch)" if reused else "")
        + "; "
        f"{stats['media_items']} media items, {stats['entries_computed']} embeddings computed, "
        f"{stats['entries_reused']} reused; {stats['shards_already_done']} of {stats['shards']} shards "
        "were already done"
    )
    for failed in result.failed:
        typer.echo(f"failed {failed.name}: {failed.reason}")
    typer.echo(f"portfolio: {result.portfolio}")
    if len(result.failed) == len(result.profiles):
        raise typer.Exit(code=1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo profile, its run and its cache.")] = Path(
        "demo-out"
    ),
    posts: Annotated[int, typer.Option(help="Posts in the generated demo profile.")] = 300,
    seed: SeedOpt = Config.seed,
) -> None:
    """Generate a synthetic demo profile and run the whole study on it.

    Example: instapop demo --out demo-out
    """
    from instapop.pipeline import run_demo
    from instapop.runtime import configure_runtime

    configure_runtime()
    try:
        result = run_demo(out, n_posts=posts, config=Config(seed=seed), announce=typer.echo)
    except InstapopError as err:
        fail(err)
    print_study(result)
