"""``run_batch``: the study of many profiles on Ray, on this machine or on a cluster.

Three phases, each a set of Ray tasks:

1. ingest: one task per profile (labels every media item into the profile's run folder);
2. embeddings: the media of every profile cut into shards of ``Config.batch_shard_items``
   items, handed to a pool of actors that each load the network once and write
   into the shared content-addressed feature cache;
3. studies: one task per profile running :func:`instapop.pipeline.run_study`, the
   same stages as ``instapop run`` (its embedding stage now only reads the cache).

Every task and actor asks Ray for ``Config.batch_worker_cpus`` CPUs and runs that
many threads (:func:`instapop.runtime.available_cores` reads the allotment), so
the node is never oversubscribed. The feature cache and ``OUT`` are the only
shared state: on a cluster both must sit on a filesystem every node mounts.

Resuming: a shard's marker (``OUT/state/shards/<key>.json``) is written after
its last cache entry, a profile's (``OUT/state/profiles/<name>.json``) after its
study; both atomically. A rerun skips marked shards without reading their files
and marked profiles whose ingested media and settings are unchanged; a shard cut
short by a kill finds its finished entries in the cache. A profile that fails
(unreadable follower file, too few posts) is listed with its reason; the others go on.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from instapop.batch.outcome import ProfileOutcome
from instapop.batch.portfolio import write_portfolio
from instapop.batch.profiles import BatchProfile
from instapop.config import PAPER, Config
from instapop.embed.augment import AUGMENT_VERSION
from instapop.embed.cache import cache_key, default_cache_dir, write_atomically
from instapop.embed.extract import PREPROCESS_VERSION
from instapop.errors import InstapopError
from instapop.runtime import available_cores

log = logging.getLogger(__name__)

RUNS_FOLDER = "profiles"  # OUT/profiles/<name>/ is each profile's run folder
STATE_FOLDER = "state"  # OUT/state/{shards,profiles}/ hold the done-markers
SUMMARY_NAME = "batch.json"
_SHARD_COLUMNS = ("media_id", "media_type", "path", "thumbnail")


@dataclass
class BatchResult:
    """The batch's profiles, its counts (shards, cache entries, seconds) and the portfolio page."""

    out_dir: Path
    profiles: list[ProfileOutcome]
    stats: dict[str, Any]
    portfolio: Path | None = None

    @property
    def failed(self) -> list[ProfileOutcome]:
        """The profiles that failed, with their reasons."""
        return [p for p in self.profiles if p.status == "failed"]


@dataclass(frozen=True)
class Shard:
    """Media rows of one profile embedded by one actor call; ``key`` names its done-marker."""

    key: str
    profile: str
    rows: tuple[dict[str, str], ...]


# --------------------------------------------------------------------------- work done on the workers


def _reason(err: BaseException) -> str:
    """One line for the portfolio: the library's own message, or the exception type for a bug."""
    if isinstance(err, InstapopError):
        return str(err)
    log.error("unexpected error:\n%s", "".join(traceback.format_exception(err)))
    return f"{type(err).__name__}: {err}"


def ingest_profile_task(profile: BatchProfile, run_dir: Path, config: Config) -> str | None:
    """Ingest and label one profile into its run folder (the embeddings read its media table);
    returns why it failed, or None."""
    from instapop.stages import ProfileInput, RunInputs, run_stage

    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        source = ProfileInput(profile.folder, tuple(profile.followers), profile.followers_date)
        run_stage("ingest", run_dir, inputs=RunInputs(profile=source), config=config)
        run_stage("labels", run_dir)
    except Exception as err:  # any one profile's failure must not stop the others
        return _reason(err)
    return None


class EmbedWorker:
    """A Ray actor holding one loaded encoder; embeds shards into the shared feature cache.

    Its threads (ONNX Runtime sessions, decoders) come from the CPUs Ray gave the
    actor, through :func:`instapop.runtime.available_cores`.
    """

    def __init__(self, config: Config, cache_dir: Path, marker_dir: Path) -> None:
        from instapop.embed.backbone import load_encoder
        from instapop.runtime import tune_allocator

        tune_allocator()
        self.config = config
        self.cache_dir = cache_dir
        self.marker_dir = marker_dir
        self.encoder = load_encoder(config, cache_dir)

    def embed(self, shard: Shard) -> dict[str, Any]:
        """Embed a shard (cached entries are reused); write its marker last. Returns its counts."""
        from instapop.embed.extract import embed_media

        counts: dict[str, Any] = {"profile": shard.profile, "items": len(shard.rows)}
        try:
            features = embed_media(
                pd.DataFrame(list(shard.rows)),
                self.cache_dir,
                self.config,
                progress=False,
                encoder=self.encoder,
            )
        except Exception as err:  # the profile's study retries these items and reports what fails
            return {**counts, "error": _reason(err)}
        counts |= {k: features.stats[k] for k in ("entries_computed", "entries_reused", "images_encoded")}
        write_atomically(self.marker_dir / f"{shard.key}.json", json.dumps(counts).encode())
        return counts


def study_profile_task(
    profile: BatchProfile, run_dir: Path, config: Config, cache_dir: Path, marker: Path, fingerprint: str
) -> dict[str, Any]:
    """The whole study of one profile (:func:`~instapop.pipeline.run_study`); its marker is written last."""
    from instapop.pipeline import run_study
    from instapop.runtime import configure_runtime

    configure_runtime()  # malloc policy; torch threads = this task's CPU allotment
    try:
        result = run_study(
            profile.folder,
            profile.followers,
            run_dir,
            config=config,
            cache_dir=cache_dir,
            followers_date=profile.followers_date,
            progress=False,
            announce=log.debug,
        )
    except Exception as err:  # any one profile's failure must not stop the others
        return {"error": _reason(err)}
    record = {"fingerprint": fingerprint, "report": str(result.report), "timings": result.timings}
    write_atomically(marker, json.dumps(record, indent=2).encode())
    return record


# --------------------------------------------------------------------------- the driver


@contextmanager
def ray_session(address: str | None = None, cpus: int | None = None) -> Iterator[int]:
    """Ray for the batch: joins ``address`` (``"auto"``, ``"ray://host:port"``), else starts it here.

    An already initialised Ray (a notebook's, a benchmark's) is used as it is and left running.
    Yields the number of CPUs the cluster offers.
    """
    import ray

    if ray.is_initialized():
        yield int(ray.cluster_resources().get("CPU", 1))
        return
    # Workers' logs stay in Ray's session folder: the driver shows progress bars, and each
    # profile's problems are in its run folder and the portfolio.
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=cpus or available_cores(), include_dashboard=False, **options)
    try:
        yield int(ray.cluster_resources().get("CPU", 1))
    finally:
        ray.shutdown()


def _gathered(refs: dict[Any, str]) -> Iterator[tuple[str, Any]]:
    """(name, result) of Ray tasks as they finish; a task Ray could not run gives an error dict."""
    import ray

    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        try:
            yield refs[done[0]], ray.get(done[0])
        except ray.exceptions.RayError as err:  # a worker killed (memory) or lost (node down)
            yield refs[done[0]], {"error": f"Ray could not run it: {err}"}


def _file_stamp(path: str) -> str:
    """Path, size and modification time: enough to notice a changed file without reading it."""
    if not path:
        return ""
    try:
        stat = Path(path).stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def profile_shards(name: str, media: pd.DataFrame, config: Config) -> list[Shard]:
    """A profile's media rows in shards of ``config.batch_shard_items``, each keyed by its files and settings.

    The key changes when a file, the shard's rows or any setting changes, so a
    marker never vouches for embeddings that were not made.
    """
    columns = [c for c in _SHARD_COLUMNS if c in media.columns]
    rows = [{c: str(row[c]) for c in columns} for row in media.to_dict(orient="records")]
    # Settings and code versions of what an entry holds: a marker of older pixels vouches for nothing.
    settings = json.dumps(config.to_dict(), sort_keys=True) + f"|{PREPROCESS_VERSION}|{AUGMENT_VERSION}"
    size = max(1, config.batch_shard_items)
    shards = []
    for start in range(0, len(rows), size):
        chunk = tuple(rows[start : start + size])
        stamps = [_file_stamp(row["path"]) + "|" + _file_stamp(row.get("thumbnail", "")) for row in chunk]
        shards.append(Shard(cache_key(settings, *stamps), name, chunk))
    return shards


def _fingerprint(run_dir: Path, config: Config) -> str:
    """The study's inputs after ingest: the labelled media table and the settings."""
    from instapop.ingest import load_media

    return cache_key(
        json.dumps(config.to_dict(), sort_keys=True), load_media(run_dir).to_json(date_format="iso")
    )


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _study_cpus(config: Config, n_studies: int, cpus: int) -> int:
    """CPUs of each study task: ``batch_worker_cpus``, or an equal share of the cluster when there are
    fewer studies than CPUs (one profile gets every core), never more than the largest node has."""
    import ray

    node_cpus = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]), default=1)
    return int(max(config.batch_worker_cpus, min(cpus // max(1, n_studies), node_cpus)))


class _Batch:
    """One batch's folders, settings and progress; each phase is a method."""

    def __init__(self, out_dir: Path, config: Config, cache_dir: Path, progress: bool) -> None:
        self.out_dir = out_dir
        self.config = config
        self.cache_dir = cache_dir
        self.progress = progress
        self.shard_dir = out_dir / STATE_FOLDER / "shards"
        self.profile_marker_dir = out_dir / STATE_FOLDER / "profiles"
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        self.profile_marker_dir.mkdir(parents=True, exist_ok=True)
        self.stats: dict[str, Any] = {
            "shards": 0,
            "shards_already_done": 0,
            "media_items": 0,
            "entries_computed": 0,
            "entries_reused": 0,
            "images_encoded": 0,
        }

    def run_dir(self, profile: BatchProfile) -> Path:
        return self.out_dir / RUNS_FOLDER / profile.name

    def _bar(self, total: int, unit: str, desc: str) -> tqdm:
        return tqdm(total=total, unit=unit, desc=desc, disable=None if self.progress else True)

    def ingest(self, profiles: list[BatchProfile], outcomes: dict[str, ProfileOutcome]) -> list[BatchProfile]:
        """Ingest every profile; returns those that could be read."""
        import ray

        task = ray.remote(ingest_profile_task).options(num_cpus=self.config.batch_worker_cpus)
        refs = {task.remote(p, self.run_dir(p), self.config): p.name for p in profiles}
        with self._bar(len(refs), "profile", "ingest") as bar:
            for name, reason in _gathered(refs):
                if reason is not None:
                    outcomes[name].reason = reason if isinstance(reason, str) else reason["error"]
                bar.update(1)
        return [p for p in profiles if not outcomes[p.name].reason]

    def embed(self, profiles: list[BatchProfile], cpus: int) -> None:
        """Embed the media of every profile, shard by shard, on a pool of actors."""
        import ray
        from ray.util import ActorPool

        from instapop.ingest import load_media

        shards = [
            s for p in profiles for s in profile_shards(p.name, load_media(self.run_dir(p)), self.config)
        ]
        todo = [s for s in shards if not (self.shard_dir / f"{s.key}.json").is_file()]
        self.stats["shards"] += len(shards)
        self.stats["shards_already_done"] += len(shards) - len(todo)
        self.stats["media_items"] += sum(len(s.rows) for s in shards)
        if not todo:
            return
        # Export the ONNX graph once here, not in every actor at the same time.
        from instapop.embed.backbone import load_encoder

        load_encoder(self.config, self.cache_dir)
        n_actors = min(len(todo), max(1, cpus // self.config.batch_worker_cpus))
        actor_class = ray.remote(EmbedWorker).options(num_cpus=self.config.batch_worker_cpus)
        actors = [actor_class.remote(self.config, self.cache_dir, self.shard_dir) for _ in range(n_actors)]
        try:
            with self._bar(sum(len(s.rows) for s in todo), "item", "embeddings") as bar:
                for counts in ActorPool(actors).map_unordered(lambda a, s: a.embed.remote(s), todo):
                    if "error" in counts:
                        log.warning(
                            "%s: a shard failed (%s); its study retries it",
                            counts["profile"],
                            counts["error"],
                        )
                    for key in ("entries_computed", "entries_reused", "images_encoded"):
                        self.stats[key] += counts.get(key, 0)
                    bar.update(counts["items"])
        except ray.exceptions.RayError as err:
            raise InstapopError(
                f"an embedding worker was lost ({err}); rerun the same command to resume where it stopped"
            ) from err
        finally:
            for actor in actors:  # give their CPUs back to the study tasks
                ray.kill(actor)

    def study(self, profiles: list[BatchProfile], outcomes: dict[str, ProfileOutcome], cpus: int) -> None:
        """Run each profile's study, except those an earlier batch finished on the same inputs."""
        import ray

        todo = []
        for profile in profiles:
            marker = self.profile_marker_dir / f"{profile.name}.json"
            fingerprint = _fingerprint(self.run_dir(profile), self.config)
            previous = _read_marker(marker)
            if previous is not None and previous.get("fingerprint") == fingerprint:
                self._record(outcomes[profile.name], previous, "reused")
            else:
                todo.append((profile, marker, fingerprint))
        task = ray.remote(study_profile_task).options(num_cpus=_study_cpus(self.config, len(todo), cpus))
        refs = {
            task.remote(profile, self.run_dir(profile), self.config, self.cache_dir, marker, fingerprint): (
                profile.name
            )
            for profile, marker, fingerprint in todo
        }
        with self._bar(len(refs), "profile", "studies") as bar:
            for name, record in _gathered(refs):
                self._record(outcomes[name], record, "done")
                bar.update(1)

    @staticmethod
    def _record(outcome: ProfileOutcome, record: dict[str, Any], status: str) -> None:
        if "error" in record:
            outcome.reason = record["error"]
            return
        outcome.status = status
        outcome.report = Path(record["report"])
        outcome.timings = record["timings"]


def run_batch(
    profiles: list[BatchProfile],
    out_dir: Path,
    config: Config = PAPER,
    cache_dir: Path | None = None,
    address: str | None = None,
    cpus: int | None = None,
    progress: bool = True,
    announce: Callable[[str], None] = log.info,
) -> BatchResult:
    """Study many profiles on Ray; write each run folder, ``batch.json`` and the portfolio page.

    Parameters
    ----------
    profiles : what to study (see :func:`instapop.batch.read_profiles`).
    out_dir : receives ``profiles/<name>/`` (each profile's run folder, as ``instapop run``
        writes it), ``state/`` (done-markers), ``batch.json``, ``portfolio.html`` and ``portfolio.csv``.
    config : the study's settings, the same for every profile; ``batch_shard_items`` and
        ``batch_worker_cpus`` size the Ray work.
    cache_dir : the shared feature cache (default: :func:`~instapop.embed.cache.default_cache_dir`);
        on a cluster, a folder every node mounts.
    address : an existing Ray cluster (``"auto"``, ``"ray://host:port"``); None starts Ray here.
    cpus : CPUs of the Ray started here (default: every core); ignored with ``address``.
    progress : progress bars over profiles and media.
    announce : called with a one-line title as each phase starts.

    Returns
    -------
    BatchResult; failed profiles carry their reason and the others their report.
    """
    out_dir = Path(out_dir).resolve()
    cache_dir = Path(cache_dir).resolve() if cache_dir else default_cache_dir()
    batch = _Batch(out_dir, config, cache_dir, progress)
    outcomes = {p.name: ProfileOutcome(p.name, batch.run_dir(p)) for p in profiles}
    start = time.perf_counter()
    with ray_session(address, cpus) as cluster_cpus:
        announce(f"Ray: {cluster_cpus} CPUs, {len(profiles)} profiles, cache {cache_dir}")
        announce("[1/3] ingest")
        readable = batch.ingest(profiles, outcomes)
        announce("[2/3] embeddings")
        embed_start = time.perf_counter()
        batch.embed(readable, cluster_cpus)
        batch.stats["embed_seconds"] = round(time.perf_counter() - embed_start, 2)
        announce("[3/3] studies")
        batch.study(readable, outcomes, cluster_cpus)
    batch.stats["seconds"] = round(time.perf_counter() - start, 2)
    result = BatchResult(out_dir, [outcomes[p.name] for p in profiles], batch.stats)
    _write_summary(result)
    result.portfolio = write_portfolio(result.profiles, out_dir)
    return result


def _write_summary(result: BatchResult) -> None:
    summary = {
        "stats": result.stats,
        "profiles": [
            {
                "name": p.name,
                "status": p.status,
                "reason": p.reason,
                "run_dir": str(p.run_dir),
                "report": str(p.report) if p.report else None,
                "timings": p.timings,
            }
            for p in result.profiles
        ],
    }
    write_atomically(result.out_dir / SUMMARY_NAME, json.dumps(summary, indent=2).encode())
