"""Business Suite exports and Graph API pages: readers, media matching, the target choice, bad input."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from instapop.errors import InstapopError
from instapop.ingest import ingest_profile
from instapop.sources import ExportOptions, ItemSkipped, read_source, source_format
from instapop.sources.business_suite import parse_count, post_kind
from instapop.targets import POR, REACH, REACH_RATE, choose_target

ENGLISH = (
    "Post ID,Account ID,Account username,Account name,Description,Duration (sec),Publish time,"
    "Permalink,Post type,Data comment,Date,Views,Reach,Likes,Shares,Follows,Comments,Saves"
)
# One header per interface language, in the column order Meta uses; the row below fits all of them.
TRANSLATED = {
    "de": "Beitrags-ID;Konto-ID;Beschreibung;Veröffentlichungszeitpunkt;Permalink;Beitragstyp;Datum;"
    "Aufrufe;Reichweite;„Gefällt mir“-Angaben;Geteilte Inhalte;Kommentare;Gespeichert",
    "fr": "Identifiant de la publication;Identifiant du compte;Description;Heure de publication;"
    "Lien permanent;Type de publication;Date;Vues;Couverture;J'aime;Partages;Commentaires;Enregistrements",
    "es": "Identificador de la publicación;Identificador de la cuenta;Descripción;Hora de publicación;"
    "Enlace permanente;Tipo de publicación;Fecha;Visualizaciones;Alcance;Me gusta;Veces que se compartió;"
    "Comentarios;Veces guardado",
    "pt": "Identificação da publicação;Identificação da conta;Descrição;Horário de publicação;"
    "Link permanente;Tipo de publicação;Data;Visualizações;Alcance;Curtidas;Compartilhamentos;"
    "Comentários;Salvamentos",
    "it": "ID del post;ID dell'account;Descrizione;Orario di pubblicazione;Link permanente;Tipo di post;"
    "Data;Visualizzazioni;Copertura;Mi piace;Condivisioni;Commenti;Salvataggi",
}
LIFETIME = {"de": "Gesamtzeitraum", "fr": "Durée de vie", "es": "Todo el tiempo", "pt": "Vitalício",
            "it": "Intera durata"}  # fmt: skip


def _image(path: Path, shade: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), (shade, 80, 40)).save(path)
    return path


def _video(path: Path) -> Path:
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42")  # matching looks at names only; nothing decodes it
    return path


def _export(folder: Path, text: str, name: str = "export.csv", encoding: str = "utf-8-sig") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding=encoding)
    return folder / name


def _row(post_id: str, when: str, code: str, kind: str, reach: str, likes: str, extra: str) -> str:
    """An English export row (+ one unknown column), Meta's column order."""
    link = f"https://www.instagram.com/p/{code}/"
    cells = [post_id, "99", "brand", "Brand", f"caption {post_id}", "0", when, link, kind, "", "Lifetime"]
    return ",".join([*cells, "1000", reach, likes, "2", "0", "3", "1", extra]) + "\n"


# --------------------------------------------------------------------------- reading the export


def test_english_export_with_bom_separators_lifetime_rows_and_unknown_columns(tmp_path: Path) -> None:
    _image(tmp_path / "media" / "C1aaa.jpg")
    _image(tmp_path / "media" / "C2bbb_1.jpg")
    _video(tmp_path / "media" / "C2bbb_2.mp4")
    _image(tmp_path / "media" / "C2bbb_2.jpg")  # the video's thumbnail
    text = (
        ENGLISH + ",Some new metric\n"
        + _row("101", "10/03/2025 08:31", "C1aaa", "IG image", '"12,400"', '"1,812"', "7")
        + _row("102", "10/05/2025 18:00", "C2bbb", "IG carousel", "700", "40", "8")
        + "101,99,brand,Brand,x,0,10/03/2025 08:31,https://www.instagram.com/p/C1aaa/,IG image,,"
        "10/04/2025,10,10,1,0,0,0,0,9\n"  # a daily row: not Lifetime
    )  # fmt: skip
    export = _export(tmp_path, text)
    assert source_format(export, 10**6) == "business-suite"
    data = read_source(export, 10**6)
    posts = {p.post_id: p for p in data.posts}
    assert set(posts) == {"101", "102"}
    first = posts["101"]
    assert (first.likes, first.comments, first.reach, first.shares, first.saves) == (1812, 3, 12400, 2, 1)
    assert first.views == 1000
    assert first.timestamp == datetime(2025, 10, 3, 8, 31, tzinfo=UTC).timestamp()  # month first, UTC
    assert (first.shortcode, first.post_type, first.caption) == ("C1aaa", "image", "caption 101")
    carousel = posts["102"]
    assert [(m.media_id, m.media_type, m.child_index) for m in carousel.media] == [
        ("C2bbb_1", "image", 1),
        ("C2bbb_2", "video", 2),
    ]
    assert carousel.media[1].thumbnail == (tmp_path / "media" / "C2bbb_2.jpg").resolve()
    assert [s.reason for s in data.skipped] == ["not a lifetime row"]
    assert data.orphan_media == ()


@pytest.mark.parametrize("language", sorted(TRANSLATED))
def test_translated_headers_day_first_dates_and_european_separators(tmp_path: Path, language: str) -> None:
    _image(tmp_path / "media" / "Rx9Q.jpg")
    row = (
        f"555;99;Ciao;03/10/2025 08:31;https://www.instagram.com/reel/Rx9Q/;IG reel;{LIFETIME[language]};"
        "20.000;12 400;1.812;2;3;0\n"
    )
    export = _export(tmp_path, TRANSLATED[language] + "\n" + row)
    (post,) = read_source(export, 10**6).posts
    assert (post.likes, post.comments, post.reach, post.shares, post.saves) == (1812, 3, 12400, 2, 0)
    assert post.views == 20_000
    assert post.timestamp == datetime(2025, 10, 3, 8, 31, tzinfo=UTC).timestamp()  # day first
    assert (post.shortcode, post.post_type) == ("Rx9Q", "video")
    assert post.media[0].cover_only  # a reel whose thumbnail alone is in the media folder


def test_headers_match_without_case_accents_or_punctuation(tmp_path: Path) -> None:
    _image(tmp_path / "media" / "777.jpg")
    export = _export(tmp_path, "beitrags id,VEROFFENTLICHUNGSZEITPUNKT,gefallt mir angaben,KOMMENTARE\n"
                     "777,03.10.2025 08:31,5,1\n")  # fmt: skip
    (post,) = read_source(export, 10**6).posts
    assert (post.post_id, post.likes, post.reach, post.post_type) == ("777", 5, None, "")


def test_missing_optional_metrics_time_zone_and_date_order(tmp_path: Path) -> None:
    _image(tmp_path / "media" / "1.jpg")
    export = _export(tmp_path, "Post ID,Publish time,Likes,Comments\n1,10/03/2025 08:31,5,1\n")
    rome = ExportOptions(timezone="Europe/Rome")
    (post,) = read_source(export, 10**6, export=rome).posts
    assert post.timestamp == datetime(2025, 10, 3, 6, 31, tzinfo=UTC).timestamp()  # CEST is UTC+2
    assert (post.reach, post.shares, post.saves) == (None, None, None)
    (post,) = read_source(export, 10**6, export=ExportOptions(date_order="dmy")).posts
    assert post.timestamp == datetime(2025, 3, 10, 8, 31, tzinfo=UTC).timestamp()
    with pytest.raises(InstapopError, match="unknown time zone 'Mars/Olympus'"):
        read_source(export, 10**6, export=ExportOptions(timezone="Mars/Olympus"))


def test_a_date_beyond_12_settles_the_order_for_the_whole_file(tmp_path: Path) -> None:
    for key in ("1", "2"):
        _image(tmp_path / "media" / f"{key}.jpg")
    rows = "1,03/04/2025 08:31,5,1\n2,25/04/2025 09:00,5,1\n"
    export = _export(tmp_path, "Post ID,Publish time,Likes,Comments\n" + rows)
    posts = {p.post_id: p for p in read_source(export, 10**6).posts}  # English header, yet day first
    assert posts["1"].timestamp == datetime(2025, 4, 3, 8, 31, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "value"),
    [("812", 812), ("12,400", 12400), ("12.400", 12400), ("12 400", 12400), ("12\u00a0400", 12400),
     ("1,234,567", 1234567), ("1.234,00", 1234), ("1,234.0", 1234), ("0", 0), ("", None), ("--", None)],
)  # fmt: skip
def test_counts_with_thousands_separators(text: str, value: int | None) -> None:
    assert parse_count("x:2", "Likes", text) == value


@pytest.mark.parametrize("text", ["12,5", "1.234,56", "4x0", "n/a", "1,23,4"])
def test_a_decimal_or_text_count_is_not_a_number(text: str) -> None:
    with pytest.raises(ItemSkipped, match="not a whole number") as raised:
        parse_count("x:2", "Likes", text)
    assert raised.value.record.reason == "count not a number"


@pytest.mark.parametrize(
    ("text", "kind"),
    [("IG image", "image"), ("IG carousel", "carousel"), ("IG reel", "video"), ("IG video", "video"),
     ("Instagram-Karussell", "carousel"), ("Carrousel IG", "carousel"), ("IG story", "story"), ("", "")],
)  # fmt: skip
def test_post_types(text: str, kind: str) -> None:
    assert post_kind(text) == kind


# --------------------------------------------------------------------------- media matching


def test_matching_by_shortcode_post_id_and_mapping_lists_what_is_left(tmp_path: Path) -> None:
    media = tmp_path / "files"
    _image(media / "Sc1.jpg")  # by shortcode
    _image(media / "202.png")  # by post id (no permalink)
    _image(media / "shoot" / "IMG_0001.jpg")  # by the mapping
    _image(media / "shoot" / "IMG_0002.jpg")
    _image(media / "unrelated.jpg")  # no row names it
    text = (
        "Post ID,Publish time,Permalink,Likes,Comments\n"
        "201,10/01/2025 10:00,https://www.instagram.com/p/Sc1/,5,1\n"
        "202,10/02/2025 10:00,,5,1\n"
        "203,10/03/2025 10:00,https://www.instagram.com/p/Sc3/,5,1\n"
        "204,10/04/2025 10:00,https://www.instagram.com/p/Sc4/,5,1\n"  # no file
    )
    export = _export(tmp_path, text)
    mapping = _export(tmp_path, "post_id,file,position\n203,shoot/IMG_0002.jpg,2\n203,shoot/IMG_0001.jpg,1\n",
                      "map.csv")  # fmt: skip
    data = read_source(export, 10**6, export=ExportOptions(media_dir=media, media_map=mapping))
    posts = {p.post_id: [m.path.name for m in p.media] for p in data.posts}
    assert posts == {"201": ["Sc1.jpg"], "202": ["202.png"], "203": ["IMG_0001.jpg", "IMG_0002.jpg"]}
    (unmatched,) = data.skipped
    assert unmatched.reason == "no media file" and "Sc4.*" in unmatched.detail and "204.*" in unmatched.detail
    assert [Path(p).name for p in data.orphan_media] == ["unrelated.jpg"]


def test_a_mapping_may_not_leave_the_media_folder(tmp_path: Path) -> None:
    _image(tmp_path / "outside.jpg")
    _image(tmp_path / "media" / "1.jpg")
    export = _export(tmp_path, "Post ID,Publish time,Likes,Comments\n1,10/01/2025 10:00,5,1\n")
    mapping = _export(tmp_path, "post_id,file\n1,../outside.jpg\n", "map.csv")
    with pytest.raises(InstapopError, match="outside the media folder"):
        read_source(export, 10**6, export=ExportOptions(media_map=mapping))


def test_a_link_out_of_the_media_folder_is_not_followed(tmp_path: Path) -> None:
    secret = _image(tmp_path / "elsewhere" / "secret.jpg")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "Sc1.jpg").symlink_to(secret)
    export = _export(tmp_path, "Post ID,Publish time,Permalink,Likes,Comments\n"
                     "1,10/01/2025 10:00,https://www.instagram.com/p/Sc1/,5,1\n")  # fmt: skip
    data = read_source(export, 10**6)
    assert data.posts == () and [s.reason for s in data.skipped] == ["no media file"]


# --------------------------------------------------------------------------- bad input


def test_a_missing_export_is_named(tmp_path: Path) -> None:
    with pytest.raises(InstapopError, match="export.csv: no such file or folder"):
        read_source(tmp_path / "export.csv", 10**6)


def test_a_csv_that_is_not_an_export_names_the_missing_columns(tmp_path: Path) -> None:
    export = _export(tmp_path, "Post ID,Reach,Likes\n1,10,5\n")
    with pytest.raises(InstapopError, match="lacks the columns Publish time, Comments"):
        read_source(export, 10**6)


@pytest.mark.parametrize(
    ("header", "platform"),
    [
        ("Post ID,Page ID,Page name,Title,Description,Publish time,Post type,Reactions,Comments,Shares",
         "Facebook Page export"),
        ("Video title,Video link,Post time,Total likes,Total comments,Total shares,Total views",
         "TikTok export"),
    ],
)  # fmt: skip
def test_another_platforms_export_is_named(tmp_path: Path, header: str, platform: str) -> None:
    export = _export(tmp_path, header + "\n" + ",".join("1" for _ in header.split(",")) + "\n")
    with pytest.raises(InstapopError, match=f"it looks like a {platform}"):
        read_source(export, 10**6)


def test_duplicated_ids_and_non_numeric_counts_are_skipped_with_their_line(tmp_path: Path) -> None:
    for key in ("1", "2"):
        _image(tmp_path / "media" / f"{key}.jpg")
    export = _export(
        tmp_path,
        "Post ID,Publish time,Likes,Comments,Reach\n1,10/01/2025 10:00,5,1,10\n"
        "1,10/02/2025 10:00,6,1,10\n2,10/03/2025 10:00,five,1,10\n",
    )
    data = read_source(export, 10**6)
    assert [p.post_id for p in data.posts] == ["1"]
    assert {(s.item, s.reason) for s in data.skipped} == {
        (f"{export}:3", "duplicate post"),
        (f"{export}:4", "count not a number"),
    }
    assert [Path(p).name for p in data.orphan_media] == ["2.jpg"]


def test_posts_of_one_minute_are_kept_and_a_reel_with_only_its_thumbnail_is_its_cover(tmp_path: Path) -> None:
    # Publish time has minutes only: a post's identity in an export is its Post ID.
    for code in ("Same1", "Same2", "Thumb"):
        _image(tmp_path / "media" / f"{code}.jpg", shade=len(code) * 20)
    _video(tmp_path / "media" / "Full.mp4")
    _image(tmp_path / "media" / "Full.jpg")
    text = (
        ENGLISH + "\n"
        + _row("201", "10/03/2025 08:31", "Same1", "IG image", "500", "40", "")
        + _row("202", "10/03/2025 08:31", "Same2", "IG carousel", "600", "50", "")
        + _row("203", "10/04/2025 09:00", "Thumb", "IG reel", "700", "60", "")
        + _row("204", "10/05/2025 09:00", "Full", "IG reel", "800", "70", "")
        + _row("205", "10/06/2025 09:00", "Gone", "IG reel", "900", "80", "")
    )  # fmt: skip
    export = _export(tmp_path, text)
    followers = _export(tmp_path, "date,followers\n2025-09-01,1000\n2025-11-01,1100\n", "followers.csv")

    result = ingest_profile(export, [followers])

    assert sorted(result.posts["post_id"]) == ["201", "202", "203", "204"]
    assert result.summary()["excluded"] == {"no media file": 1}  # 205: neither video nor thumbnail
    media = result.media.set_index("post_id")
    assert media.loc["203", "media_type"] == "video" and media.loc["203", "cover_only"]
    assert media.loc["203", "path"] == media.loc["203", "thumbnail"]
    assert media.loc["204", "path"].endswith("Full.mp4") and not media.loc["204", "cover_only"]
    assert result.summary()["cover_only_videos"] == 1


def test_zero_or_missing_reach_is_skipped_for_reach_rate_and_kept_for_por(tmp_path: Path) -> None:
    rows = ["Post ID,Publish time,Likes,Comments,Shares,Saves,Reach"]
    for i in range(8):
        _image(tmp_path / "media" / f"{i}.jpg", shade=20 * i)
        reach = {0: "0", 1: ""}.get(i, str(100 + 10 * i))
        rows.append(f"{i},10/{i + 1:02d}/2025 10:00,{10 + i},1,1,1,{reach}")
    export = _export(tmp_path, "\n".join(rows) + "\n")
    result = ingest_profile(export, [])
    assert result.summary()["target"]["name"] == REACH_RATE
    assert result.summary()["excluded"] == {"reach missing": 1, "reach zero": 1}
    assert len(result.posts) == 6
    expected = (result.posts["likes"] + 1 + 1 + 1) / result.posts["reach"]
    np.testing.assert_allclose(result.posts["target"], expected)
    assert result.media["target"].notna().all() and (result.media["class_2"] >= 0).all()
    followers = _export(tmp_path, "date,followers\n2025-09-01,1000\n2025-11-01,1100\n", "followers.csv")
    por = ingest_profile(export, [followers], target=POR)
    assert len(por.posts) == 8 and por.summary()["target"]["why"] == "asked for with --target"
    np.testing.assert_allclose(por.posts["target"], por.posts["por"])


def test_cli_ingest_of_an_export_with_its_options(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from instapop.cli import app

    for i in range(6):
        _image(tmp_path / "drive" / f"photo{i}.jpg", shade=30 * i)
    rows = "".join(f"{i},0{i + 1}/03/2025 10:00,{10 + i},1,{100 + i}\n" for i in range(6))
    export = _export(tmp_path, "Post ID,Publish time,Likes,Comments,Reach\n" + rows)
    files = "".join(f"{i},photo{i}.jpg\n" for i in range(6))
    mapping = _export(tmp_path, "post_id,file\n" + files, "map.csv")
    out = tmp_path / "run"
    args = ["ingest", str(export), "--media", str(tmp_path / "drive"), "--media-map", str(mapping),
            "--timezone", "America/New_York", "--date-order", "dmy", "--target", "reach", "--out", str(out)]
    result = CliRunner().invoke(app, args)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "target: reach = accounts reached (asked for with --target)" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["source"] == {"format": "business-suite", "timezone": "America/New_York"}
    assert summary["date_range"][0] == "2025-03-01T15:00:00Z"  # 1 March, 10:00 in New York (EST)
    posts = pd.read_csv(out / "posts.csv")
    assert posts["target"].tolist() == posts["reach"].tolist() == [100, 101, 102, 103, 104, 105]
    bad = CliRunner().invoke(app, [*args[:-4], "--target", "likes", "--out", str(out)])
    assert bad.exit_code == 2 and "target must be one of por, reach-rate, reach" in bad.output


# --------------------------------------------------------------------------- target choice


def _posts(reach: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"reach": np.array(reach, dtype=float)})


def test_target_choice() -> None:
    assert choose_target(None, _posts([10, 20]), has_history=True).name == REACH_RATE
    assert choose_target(None, _posts([10, np.nan]), has_history=True).name == POR
    partial = choose_target(None, _posts([10, np.nan]), has_history=False)
    assert partial.name == REACH_RATE and "1 of 2 posts have reach" in partial.why
    assert choose_target(None, _posts([np.nan]), has_history=False).name == POR
    assert choose_target(REACH, _posts([10, 20]), has_history=False).name == REACH
    with pytest.raises(ValueError, match="needs reach per post"):
        choose_target(REACH_RATE, _posts([np.nan]), has_history=True)
    with pytest.raises(ValueError, match="needs a follower history"):
        choose_target(POR, _posts([10]), has_history=False)
    with pytest.raises(ValueError, match="must be one of"):
        choose_target("likes", _posts([10]), has_history=True)


# --------------------------------------------------------------------------- Graph API pages


def _item(i: int, kind: str = "IMAGE", **extra) -> dict:
    return {
        "id": f"1790{i}",
        "caption": f"post {i}",
        "media_type": kind,
        "media_product_type": "REELS" if kind == "VIDEO" else "FEED",
        "permalink": f"https://www.instagram.com/{'reel' if kind == 'VIDEO' else 'p'}/Code{i}/",
        "timestamp": f"2025-10-{i:02d}T08:31:00+0000",
        "like_count": 100 + i,
        "comments_count": 4,
        **extra,
    }


def test_graph_api_pages_with_inline_and_saved_insights(tmp_path: Path) -> None:
    folder = tmp_path / "graph"
    _image(folder / "media" / "Code1.jpg")
    _image(folder / "media" / "Code2_1.jpg")
    _image(folder / "media" / "Code2_2.jpg")
    _video(folder / "media" / "Code3.mp4")
    inline = {"data": [{"name": "reach", "period": "lifetime", "values": [{"value": 900}]},
                       {"name": "saved", "period": "lifetime", "values": [{"value": 12}]}]}  # fmt: skip
    children = {"data": [{"id": f"c{i}", "media_type": "IMAGE"} for i in (1, 2, 3)]}  # the 3rd not saved
    page1 = {
        "data": [_item(1, insights=inline), _item(2, "CAROUSEL_ALBUM", children=children)],
        "paging": {"cursors": {"before": "a", "after": "b"}, "next": "https://graph.facebook.com/..."},
    }
    page2 = {"data": [_item(3, "VIDEO"), _item(1), {**_item(4), "media_product_type": "STORY"}], "paging": {}}
    (folder / "page_1.json").write_text(json.dumps(page1))
    (folder / "page_2.json").write_text(json.dumps(page2))
    (folder / "insights.json").write_text(json.dumps({"17902": {"reach": 500, "shares": 3}}))
    assert source_format(folder, 10**6) == "graph-api"
    data = read_source(folder, 10**6)
    posts = {p.post_id: p for p in data.posts}
    assert (posts["17901"].reach, posts["17901"].saves, posts["17901"].shares) == (900, 12, None)
    assert (posts["17902"].reach, posts["17902"].shares, posts["17902"].post_type) == (500, 3, "carousel")
    assert [m.media_id for m in posts["17902"].media] == ["Code2_1", "Code2_2"]
    assert posts["17902"].flags == ("partial",) and posts["17902"].missing == ("Code2_3.*",)
    assert posts["17901"].flags == ()
    assert posts["17903"].post_type == "video" and posts["17903"].media[0].media_type == "video"
    assert posts["17901"].timestamp == datetime(2025, 10, 1, 8, 31, tzinfo=UTC).timestamp()
    assert sorted(s.reason for s in data.skipped) == ["duplicate post", "story, not a post"]


def test_graph_api_views_and_posts_of_one_second(tmp_path: Path) -> None:
    folder = tmp_path / "graph"
    for i in (1, 2, 3, 4):
        _image(folder / "media" / f"Code{i}.jpg", shade=40 * i)
    plays = {"data": [{"name": "plays", "values": [{"value": 1500}]}, {"name": "reach", "value": 900}]}
    same = "2025-10-01T08:31:00+0000"
    page = {"data": [
        _item(1, "VIDEO", insights=plays, timestamp=same),
        _item(2, "VIDEO", timestamp=same, video_views=40),  # the item's own field (an older API version)
        _item(3, "VIDEO"),
        _item(4),
    ]}  # fmt: skip
    (folder / "page.json").write_text(json.dumps(page))
    (folder / "insights.csv").write_text("id,reach,views,video_views\n17902,300,250,\n17903,,0,\n")

    data = read_source(folder, 10**6)
    posts = {p.post_id: p for p in data.posts}
    assert {i: posts[f"1790{i}"].views for i in (1, 2, 3, 4)} == {1: 1500, 2: 250, 3: 0, 4: None}
    assert all(posts[f"1790{i}"].media[0].cover_only for i in (1, 2, 3))  # reels with only a thumbnail
    followers = _export(tmp_path, "date,followers\n2025-09-01,1000\n2025-11-01,1100\n", "followers.csv")
    result = ingest_profile(folder, [followers], target="views")
    assert sorted(result.posts["post_id"]) == ["17901", "17902", "17903", "17904"]  # 1 and 2: one second
    target = result.posts.set_index("post_id")["target"]
    assert (target["17901"], target["17902"]) == (1500, 250)
    assert result.summary()["target"]["fallback"]["posts"] == 2  # 17903 (views 0) and 17904 (none)


# --------------------------------------------------------------------------- the generator, end to end


def test_generated_export_runs_end_to_end_and_learns_the_planted_signal(
    tmp_path: Path, feature_cache: Path
) -> None:
    """The shared 60-post brand (seed 7) as an export, through the study's stages up to the report.

    Same pictures as the shared Instaloader profile, so the session's feature cache serves both.
    Explanations are left out: they read the run folder as for any source (and take a minute),
    while everything the target changes (ingest, labels, CV, the model card, the report) runs.
    """
    from instapop.predict import model_card
    from instapop.stages import ProfileInput, RunInputs, run_stage, run_stages
    from instapop.synthetic import generate_profile
    from instapop.training import load_model
    from instapop.validation import row_of
    from support import TEST_CONFIG

    brand = generate_profile(tmp_path / "brand", n_posts=60, seed=7, format="business-suite", progress=False)
    assert brand.profile_dir.name == "export.csv"
    assert source_format(brand.profile_dir, 10**6) == "business-suite"
    run_dir = tmp_path / "run"
    source = ProfileInput(brand.profile_dir, (brand.followers_csv,))
    inputs = RunInputs(source, feature_cache, progress=False)
    config = dataclasses.replace(TEST_CONFIG, model_classes=2)
    run_stages(run_dir, ("ingest", "labels", "embed", "dedup", "evaluate", "train"), inputs, config)
    report = run_stage("report", run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    export = pd.read_csv(brand.profile_dir, encoding="utf-8-sig", dtype=str)
    one_minute = export[export["Publish time"].duplicated(keep=False)]
    assert one_minute["Post ID"].nunique() == len(one_minute) == 2  # and both are kept:
    assert summary["posts"] == 60 and summary["excluded"] == {} and summary["orphan_media"] == []
    assert summary["source"] == {"format": "business-suite", "timezone": "UTC"}
    target = summary["target"]
    assert target["name"] == REACH_RATE and target["agreement_with_por"]["posts"] == 60
    assert target["agreement_with_por"]["spearman"] > 0.3  # both carry the planted popularity
    cv = json.loads((run_dir / "cv_results.json").read_text())
    image, majority = (row_of(cv, "image", a, 2)["accuracy"]["mean"] for a in ("image", "majority"))
    assert image >= 0.75 and image >= majority + 0.2
    html = report.read_text()
    assert "Popularity here is reach-rate" in html and "labels rank reach-rate" in html
    card = model_card(load_model(run_dir / "model"))
    assert card["target"]["name"] == REACH_RATE and len(card["media"]["image"]["boundaries"]) == 1
