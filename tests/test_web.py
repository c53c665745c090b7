"""instapop serve: the JSON API and the page, against a model trained on a synthetic profile."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from instapop.cli import app as cli
from instapop.predict import Limits, Predictor
from instapop.web import app as web_module
from instapop.web import create_app
from support import planted_media

# Small byte limits, so refusals need no big files; the pixel and video limits stay the defaults.
LIMITS = Limits(max_files=6, max_file_bytes=2 * 2**20, max_request_bytes=6 * 2**20)


@pytest.fixture(scope="module")
def model_dir(make_run) -> Path:
    return make_run(upto="train") / "model"


@pytest.fixture(scope="module")
def web_app(model_dir: Path, feature_cache: Path):
    return create_app(model_dir, limits=LIMITS, cache_dir=feature_cache)


@pytest.fixture(scope="module")
def client(web_app) -> TestClient:
    return TestClient(web_app)


@pytest.fixture(scope="module")
def candidates(make_profile) -> list[Path]:
    """Three images (two planted popular, one unpopular) and one video the model never saw."""
    unseen = make_profile(n_posts=24, seed=99)
    images = planted_media(unseen, "image", "popular")[:2] + planted_media(unseen, "image", "unpopular")[:1]
    return images + planted_media(unseen, "video")[:1]


@pytest.fixture(scope="module")
def server(web_app) -> Iterator[str]:
    """The app served by uvicorn in a thread, on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web_app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def upload(paths: list[Path]) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (path.name, path.read_bytes())) for path in paths]


def ranking(response: httpx.Response) -> list[str]:
    return [c["name"] for c in response.json()["candidates"]]


def ten_minute_video(path: Path) -> Path:
    """A 600 s H.264 clip, cheap to make: 64x64 pixels, one frame a second."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for second in range(600):
            frame = np.full((64, 64, 3), second % 256, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


# --- the JSON API ---------------------------------------------------------------------------


def test_model_card_names_classes_boundaries_dates_and_cv_accuracy(client: TestClient) -> None:
    card = client.get("/api/model").json()
    assert len(card["class_names"]) == card["n_classes"]
    assert card["date_range"]["start"] <= card["date_range"]["end"]
    for media_type in ("image", "video"):
        info = card["media"][media_type]
        assert len(info["boundaries"]) == card["n_classes"] - 1
        assert info["boundaries"] == sorted(info["boundaries"]) and info["boundaries"][0] > 0
        assert 0.0 <= info["cv_accuracy"] <= 1.0 and 0.0 <= info["majority_accuracy"] <= 1.0
        assert info["approach"] in info["choice"]
    assert card["limits"]["max_files"] == LIMITS.max_files


def test_cli_and_api_rank_the_same_candidates_alike(
    client: TestClient, model_dir: Path, feature_cache: Path, candidates: list[Path]
) -> None:
    args = ["predict", str(model_dir), *map(str, candidates), "--json", "--cache", str(feature_cache)]
    from_cli = json.loads(CliRunner().invoke(cli, args).stdout)
    response = client.post("/api/predict", files=upload(candidates))
    assert response.status_code == 200
    assert ranking(response) == [c["name"] for c in from_cli["candidates"]]
    assert [c["rank"] for c in response.json()["candidates"]] == [1, 2, 3, 4]
    assert [c["probs"] for c in response.json()["candidates"]] == [c["probs"] for c in from_cli["candidates"]]


def test_a_bad_file_gets_its_reason_while_the_others_are_scored(
    client: TestClient, candidates: list[Path]
) -> None:
    files = [*upload(candidates[:2]), ("files", ("notes.jpg", b"caption ideas, not a photo"))]
    response = client.post("/api/predict", files=files)
    assert response.status_code == 200
    scored, refused = response.json()["candidates"][:2], response.json()["candidates"][2]
    assert all(c["error"] is None and c["rank"] for c in scored)
    assert refused["name"] == "notes.jpg" and refused["rank"] is None
    assert refused["error"] == (
        "notes.jpg: not an image or a video by its content (expected JPEG, PNG, WebP, HEIC, MP4, MOV or WebM)"
    )


def test_a_text_file_renamed_jpg_is_refused_with_415(client: TestClient) -> None:
    response = client.post("/api/predict", files=[("files", ("beach.jpg", b"<html>not a photo</html>"))])
    assert response.status_code == 415
    assert "beach.jpg: not an image or a video by its content" in response.json()["detail"]


def test_an_oversize_upload_is_refused_with_413(client: TestClient) -> None:
    too_big = b"\xff\xd8\xff\xe0" + bytes(LIMITS.max_file_bytes)
    response = client.post("/api/predict", files=[("files", ("huge.jpg", too_big))])
    assert response.status_code == 413
    assert (
        f"huge.jpg: {len(too_big)} bytes is over the limit of {LIMITS.max_file_bytes}"
        in response.json()["detail"]
    )
    whole_request = [("files", (f"part{i}.jpg", bytes(LIMITS.max_file_bytes - 10))) for i in range(4)]
    response = client.post("/api/predict", files=whole_request)
    assert response.status_code == 413
    assert f"over the limit of {LIMITS.max_request_bytes}" in response.json()["detail"]


def test_a_ten_minute_video_is_refused_with_413(client: TestClient, tmp_path: Path) -> None:
    video = ten_minute_video(tmp_path / "webinar.mp4")
    response = client.post("/api/predict", files=upload([video]))
    assert response.status_code == 413
    assert "webinar.mp4: a 600 s video is over the limit of 180 s" in response.json()["detail"]


def test_request_wide_limits_are_refused_with_the_reason(client: TestClient, candidates: list[Path]) -> None:
    too_many = upload(candidates[:1]) * (LIMITS.max_files + 1)
    response = client.post("/api/predict", files=too_many)
    assert response.status_code == 400 and "Too many files" in response.json()["detail"]
    assert client.post("/api/predict", data={"note": "no files"}).status_code == 400
    chunked = client.post(
        "/api/predict",
        content=iter([b"--x\r\n"]),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert chunked.status_code == 411 and "Content-Length" in chunked.json()["detail"]


def test_uploads_live_in_a_temporary_folder_removed_after_the_request(
    client: TestClient, candidates: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Path] = []

    class Recorded(tempfile.TemporaryDirectory):
        def __enter__(self) -> str:
            made.append(Path(self.name))
            assert made[-1].is_dir()
            return super().__enter__()

    monkeypatch.setattr(web_module.tempfile, "TemporaryDirectory", Recorded)
    assert client.post("/api/predict", files=upload(candidates[:1])).status_code == 200
    assert len(made) == 1 and not made[0].exists()


def test_the_model_is_loaded_at_start_up_not_per_request(
    client: TestClient, candidates: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_loading(*args, **kwargs):
        raise AssertionError("a request loaded the model again")

    monkeypatch.setattr(Predictor, "load", no_loading)
    monkeypatch.setattr("instapop.training.load_model", no_loading)
    assert client.post("/api/predict", files=upload(candidates[:1])).status_code == 200


def test_fifty_concurrent_requests_all_succeed_with_the_same_answer(
    server: str, candidates: list[Path]
) -> None:
    images = candidates[:3]
    with httpx.Client(base_url=server, timeout=120) as http:
        expected = {
            p.name: http.post("/api/predict", files=upload([p])).json()["candidates"][0] for p in images
        }

        def post(i: int) -> tuple[str, httpx.Response]:
            path = images[i % len(images)]
            return path.name, http.post("/api/predict", files=upload([path]))

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(post, range(50)))
    assert [response.status_code for _, response in answers] == [200] * 50
    assert all(response.json()["candidates"][0] == expected[name] for name, response in answers)


def test_when_and_caption_fields_reach_each_file(client: TestClient, candidates: list[Path]) -> None:
    files = upload(candidates[:2])
    fields = {"when": ["2025-06-01T19:00+09:00", ""], "caption": ["Summer #launch", ""]}
    response = client.post("/api/predict", files=files, data=fields)
    assert response.status_code == 200
    contexts = {c["name"]: c["context"] for c in response.json()["candidates"]}
    assert contexts[candidates[0].name]["when"] == "2025-06-01T10:00:00Z"
    assert contexts[candidates[0].name]["caption"] == "Summer #launch"
    assert contexts[candidates[1].name]["when"] is None and contexts[candidates[1].name]["caption"] is None
    one_for_all = client.post("/api/predict", files=files, data={"when": "2025-06-02T08:00Z"})
    assert {c["context"]["when"] for c in one_for_all.json()["candidates"]} == {"2025-06-02T08:00:00Z"}
    card = client.get("/api/model").json()["context"]
    assert set(card) == {"used_by", "typical"} and set(card["used_by"]) <= {"image", "video"}


def test_bad_when_or_caption_fields_are_refused_with_the_reason(
    client: TestClient, candidates: list[Path]
) -> None:
    files = upload(candidates[:3])
    bad_time = client.post("/api/predict", files=files, data={"when": "soon"})
    assert bad_time.status_code == 400 and "'soon': not a date" in bad_time.json()["detail"]
    miscounted = client.post("/api/predict", files=files, data={"caption": ["a", "b"]})
    assert miscounted.status_code == 400
    assert "2 'caption' fields for 3 files" in miscounted.json()["detail"]
    too_long = client.post("/api/predict", files=files[:1], data={"caption": "x" * 2201})
    assert too_long.status_code == 400 and "over the limit of 2200" in too_long.json()["detail"]


# --- the page, in headless Chromium -------------------------------------------------------


@pytest.mark.browser
def test_the_page_ranks_uploads_as_cards_and_toggles_a_heatmap(
    server: str, candidates: list[Path], artifacts_dir: Path, chromium
) -> None:
    with httpx.Client(base_url=server, timeout=120) as http:
        api_order = ranking(http.post("/api/predict", files=upload(candidates)))
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    local = (server, "blob:", "data:")  # nothing may come from the network
    page.on("request", lambda request: request.url.startswith(local) or problems.append(request.url))
    page.goto(server)
    page.wait_for_selector("#model-card .media-card")
    page.set_input_files("#files", [str(path) for path in candidates])
    page.wait_for_function("document.querySelectorAll('#results .card').length === 4", timeout=90_000)
    cards = page.locator("#results .card")
    assert cards.evaluate_all("cards => cards.map(c => c.dataset.name)") == api_order
    assert cards.evaluate_all("cards => cards.map(c => c.dataset.rank)") == ["1", "2", "3", "4"]
    assert page.locator("#results .card .bar span").count() == 4 * len(page.evaluate("state.classNames"))

    image_card = cards.filter(has=page.locator("img")).first
    image_card.locator(".heatmap-toggle").click()
    heatmap = image_card.locator("img.heatmap")
    heatmap.wait_for()
    assert heatmap.get_attribute("src").startswith("data:image/png;base64,")
    assert heatmap.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    assert image_card.locator(".heatmap-toggle").get_attribute("aria-pressed") == "true"
    page.screenshot(path=str(artifacts_dir / "web.png"), full_page=True)
    page.close()
    assert not problems, problems


@pytest.mark.browser
def test_a_card_is_scored_again_with_its_planned_time_and_caption(
    server: str, candidates: list[Path], artifacts_dir: Path, chromium
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(server)
    page.wait_for_selector("#model-card .media-card")
    page.set_input_files("#files", [str(path) for path in candidates[:2]])
    page.wait_for_function("document.querySelectorAll('#results .card').length === 2", timeout=90_000)
    name = candidates[1].name
    card = page.locator(f'#results .card[data-name="{name}"]')
    note_before = card.locator(".note").text_content()
    with page.expect_response(lambda r: r.url.endswith("/api/predict?explain=true")) as answer:
        card.locator(".caption").fill("Summer launch #new @friends")
        card.locator(".caption").blur()  # a textarea's change fires when it loses focus
    (rescored,) = answer.value.json()["candidates"]  # only the changed card is scored again
    assert rescored["name"] == name and rescored["context"]["caption"] == "Summer launch #new @friends"
    page.wait_for_function(
        "([name, before]) => { const c = document.querySelector(`#results .card[data-name='${name}']`);"
        " return c && c.querySelector('.note').textContent !== before; }",
        arg=[name, note_before],
        timeout=60_000,
    )
    card = page.locator(f'#results .card[data-name="{name}"]')
    assert card.locator(".caption").input_value() == "Summer launch #new @friends"  # kept across re-render
    moves = rescored["contributions"]  # a ranker's: the picture's and the context's moves are shown
    assert card.locator(".moves").count() == (moves is not None)
    if moves is not None:
        assert card.locator(".moves").text_content().startswith("picture ")
    with page.expect_response(lambda r: r.url.endswith("/api/predict?explain=true")) as answer:
        card.locator(".when").fill("2025-06-01T19:00")
    local = page.evaluate("new Date('2025-06-01T19:00').toISOString().slice(0, 19) + 'Z'")
    assert answer.value.json()["candidates"][0]["context"]["when"] == local  # the page sends UTC
    ranks = page.locator("#results .card").evaluate_all("cards => cards.map(c => c.dataset.rank)")
    assert sorted(ranks) == ["1", "2"]
    page.screenshot(path=str(artifacts_dir / "web-plan.png"), full_page=True)
    page.close()
    assert not problems, problems
