"""Read a Meta Business Suite / Instagram Insights posts export (CSV) into :class:`Post` records.

The English export's header is::

    Post ID,Account ID,Account username,Account name,Description,Duration (sec),Publish time,
    Permalink,Post type,Data comment,Date,Views,Reach,Likes,Shares,Follows,Comments,Saves

Column order and presence vary between exports, and headers are translated in the
interface language. :data:`HEADERS` maps every column instapop knows to the names it
accepts (English, German, French, Spanish, Portuguese, Italian, a few variants each);
names are compared without case, accents, punctuation or extra spaces, so
``„Gefällt mir“-Angaben`` matches ``gefallt mir angaben``. To read another language, add
its names to :data:`HEADERS` (and its word for "Lifetime" to :data:`LIFETIME`).
Unknown columns are ignored; ``Post ID``, ``Publish time``, ``Likes`` and ``Comments``
are required, the other metrics are optional (``None`` when absent or empty). ``Views``
(older exports: ``Impressions``, which Meta renamed) gives a post's views.

A post's identity is its ``Post ID``: posts published in the same minute (the export's
resolution) are different posts when their IDs differ.

Values: counts may carry thousands separators (``"12,400"``, ``12.400``, ``12 400``);
a decimal part must be zero (``1.234,00``), anything else is "count not a number".
``Publish time`` is the account's local time, ``10/03/2026 08:31``: month first in
English exports, day first in the other languages (``ExportOptions.date_order``
overrides; a date whose first or second field is above 12 settles the order for the
whole file). Where a ``Date`` column exists, only its ``Lifetime`` rows are read.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tqdm import tqdm

from instapop.errors import InstapopError
from instapop.media_types import CAROUSEL, IMAGE, VIDEO
from instapop.sources import fields
from instapop.sources.matching import ExportOptions, attach_media, default_media_dir, shortcode_from_permalink
from instapop.sources.records import ItemSkipped, Post, Skipped, SourceData

# Column -> accepted names (en, de, fr, es, pt, it; a few variants each), compared by _norm.
HEADERS: dict[str, tuple[str, ...]] = {
    "post_id": (
        "Post ID", "Beitrags-ID", "Post-ID", "Identifiant de la publication", "ID de la publication",
        "ID de publication", "Identificador de la publicación", "ID de la publicación", "ID de publicación",
        "Identificação da publicação", "ID da publicação", "ID do post", "ID del post", "ID del contenuto",
        "Identificativo del post",
    ),
    "publish_time": (
        "Publish time", "Veröffentlichungszeitpunkt", "Veröffentlichungszeit", "Veröffentlichungsdatum",
        "Heure de publication", "Date et heure de publication", "Hora de publicación",
        "Fecha y hora de publicación", "Horário de publicação", "Hora de publicação",
        "Data e hora de publicação", "Orario di pubblicazione", "Ora di pubblicazione",
        "Data e ora di pubblicazione",
    ),
    "permalink": ("Permalink", "Lien permanent", "Permalien", "Enlace permanente", "Link permanente"),
    "post_type": (
        "Post type", "Beitragstyp", "Beitragsart", "Type de publication", "Tipo de publicación",
        "Tipo de publicação", "Tipo de post", "Tipo di post", "Tipo di contenuto",
    ),
    "description": ("Description", "Beschreibung", "Descripción", "Descrição", "Descrizione"),
    "date": ("Date", "Datum", "Fecha", "Data"),
    "reach": ("Reach", "Reichweite", "Couverture", "Portée", "Alcance", "Copertura"),
    "likes": (
        "Likes", "„Gefällt mir“-Angaben", "Gefällt mir-Angaben", "Gefällt mir", "J'aime", "Mentions J'aime",
        "Me gusta", "Curtidas", "Gostos", "Mi piace",
    ),
    "comments": ("Comments", "Kommentare", "Commentaires", "Comentarios", "Comentários", "Commenti"),
    "shares": (
        "Shares", "Geteilte Inhalte", "Geteilt", "Teilen", "Partages", "Veces que se compartió",
        "Compartidos", "Contenido compartido", "Compartilhamentos", "Partilhas", "Condivisioni",
    ),
    "saves": (
        "Saves", "Gespeichert", "Speicherungen", "Enregistrements", "Veces guardado", "Guardados",
        "Elementos guardados", "Salvamentos", "Itens salvos", "Salvataggi", "Elementi salvati",
    ),
    "views": (
        "Views", "Impressions", "Aufrufe", "Impressionen", "Vues", "Visualizaciones", "Impresiones",
        "Visualizações", "Impressões", "Visualizzazioni", "Impressioni",
    ),
}
REQUIRED = ("post_id", "publish_time", "likes", "comments")
# The English name of each column, for messages.
ENGLISH = {key: names[0] for key, names in HEADERS.items()}
# Words for the "Lifetime" value of the Date column.
LIFETIME = (
    "Lifetime", "Gesamtzeitraum", "Lebensdauer", "Gesamte Laufzeit", "Durée de vie", "À vie",
    "Todo el tiempo", "De por vida", "Vida útil", "Vitalício", "Todo o período", "Intera durata",
    "Tutto il periodo", "A vita",
)
# Post type words -> instapop's kinds; a story is not a feed post.
_POST_KINDS = (
    (CAROUSEL, ("carousel", "karussell", "carrousel", "carrusel", "carrossel", "carosello", "album")),
    ("story", ("story", "storie", "historia", "stories")),
    (VIDEO, ("reel", "video", "vidéo", "vídeo")),
    (IMAGE, ("image", "photo", "bild", "foto", "imagen", "imagem", "immagine")),
)
# Headers by which another platform's export gives itself away.
_OTHER_PLATFORMS = (
    ("a Facebook Page export", ("page id", "page name", "reactions", "reactions comments and shares")),
    ("a TikTok export", ("video link", "video title", "total likes", "total views", "tiktok")),
    ("a YouTube export", ("video title", "video publish time", "impressions click through rate")),
)
_SEPARATORS = " \u00a0\u202f'’"
_GROUPED = re.compile(r"\d{1,3}(?:([.,])\d{3})?(?:\1\d{3})*")
_DATE = re.compile(r"(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _norm(name: str) -> str:
    """Case-, accent- and punctuation-blind form of a header or value."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain.casefold()).split())


_LOOKUP = {_norm(name): key for key, names in HEADERS.items() for name in names}
_LANGUAGE_EN = {_norm(names[0]) for names in HEADERS.values()}
_LIFETIME = {_norm(word) for word in LIFETIME}


def is_business_suite_header(columns: list[str]) -> bool:
    """True when a CSV header holds every required export column (in any known language)."""
    known = {_LOOKUP.get(_norm(c)) for c in columns}
    return all(key in known for key in REQUIRED)


def read_business_suite(
    path: Path, options: ExportOptions = ExportOptions(), now: float | None = None
) -> SourceData:
    """Posts of a Business Suite / Insights posts export, with their media matched from a folder.

    Parameters
    ----------
    path : the export CSV.
    options : media folder, media mapping, time zone and date order (see :class:`ExportOptions`).
    now : posts dated after this (epoch seconds, default: now) are skipped as "future date".

    Returns
    -------
    SourceData: posts with media, rows skipped (``item`` is ``file:line``), unmatched media as orphans.

    Raises
    ------
    InstapopError
        When the file is not an Instagram posts export (naming the missing columns, or the
        platform it seems to come from), has no rows, or the time zone is unknown.
    """
    path = Path(path)
    zone = _zone(options.timezone)
    header, rows = _read_rows(path)
    columns = _columns(path, header)
    english = all(_norm(h) in _LANGUAGE_EN for h in header if _norm(h) in _LOOKUP)
    order = _date_order(options.date_order, english, [row[columns["publish_time"]] for _, row in rows])
    posts: list[Post] = []
    skipped: list[Skipped] = []
    first_line: dict[str, str] = {}
    for line, row in tqdm(rows, desc="reading export", unit="row", disable=None):
        item = f"{path}:{line}"
        values = {key: row[i].strip() if i < len(row) else "" for key, i in columns.items()}
        try:
            post = _post(item, values, order, zone, now)
            if post.post_id in first_line:
                first = first_line[post.post_id]
                raise ItemSkipped("duplicate post", item, f"post {post.post_id} also in {first}")
            first_line[post.post_id] = item
            posts.append(post)
        except ItemSkipped as skip:
            skipped.append(skip.record)
    if not posts and not skipped:
        raise InstapopError(f"{path}: the export has no rows")
    media_dir = options.media_dir or default_media_dir(path)
    posts, unmatched, orphans = attach_media(posts, media_dir, options.media_map)
    return SourceData(tuple(posts), tuple(skipped + unmatched), orphan_media=tuple(orphans))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InstapopError(
            f"unknown time zone {name!r}; give an IANA name such as UTC or Europe/Rome"
        ) from None


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the (line, cells) of every row; BOM, UTF-16 and ``;``/tab delimiters handled."""
    if not path.is_file():
        raise InstapopError(f"{path}: no such file")
    data = path.read_bytes()
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    text = data.decode("utf-16") if utf16 else data.decode("utf-8-sig", "replace")
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    return [h.strip() for h in header], rows


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    """Column key -> index; unknown columns ignored; a clear error when a required one is missing."""
    columns: dict[str, int] = {}
    for i, name in enumerate(header):
        key = _LOOKUP.get(_norm(name))
        if key and key not in columns:
            columns[key] = i
    missing = [ENGLISH[key] for key in REQUIRED if key not in columns]
    if missing:
        found = ", ".join(header[:12]) + (" ..." if len(header) > 12 else "")
        raise InstapopError(
            f"{path}: not an Instagram posts export from Meta Business Suite{_other_platform(header)}: "
            f"lacks the columns {', '.join(missing)} (found: {found or 'no header'}). "
            "Export it from Business Suite: Insights > Content > Export, posts, Instagram"
        )
    return columns


def _other_platform(header: list[str]) -> str:
    names = {_norm(h) for h in header}
    for platform, marks in _OTHER_PLATFORMS:
        if names & set(marks):
            telling = ", ".join(sorted(h for h in header if _norm(h) in marks))
            return f" (it looks like {platform}: columns {telling})"
    return ""


def _post(item: str, values: dict[str, str], order: str, zone: ZoneInfo, now: float | None) -> Post:
    if "date" in values and values["date"] and _norm(values["date"]) not in _LIFETIME:
        why = f"Date is {values['date']!r}; only Lifetime rows are read"
        raise ItemSkipped("not a lifetime row", item, why)
    post_id = values["post_id"]
    if not post_id:
        raise ItemSkipped("export row invalid", item, "empty Post ID")
    kind = post_kind(values.get("post_type", ""))
    if kind == "story":
        raise ItemSkipped("story, not a post", item, f"post {post_id} is a story ({values['post_type']!r})")
    return Post(
        post_id=post_id,
        timestamp=fields.timestamp(item, _publish_time(item, values["publish_time"], order, zone), now),
        likes=fields.count(item, "Likes", parse_count(item, "Likes", values["likes"])),
        comments=fields.count(item, "Comments", parse_count(item, "Comments", values["comments"])),
        media=(),
        source=item,
        shortcode=shortcode_from_permalink(values.get("permalink", "")),
        caption=fields.text(values.get("description", "")),
        post_type=kind,
        reach=_optional_count(item, "Reach", values.get("reach", "")),
        shares=_optional_count(item, "Shares", values.get("shares", "")),
        saves=_optional_count(item, "Saves", values.get("saves", "")),
        views=_optional_count(item, "Views", values.get("views", "")),
    )


def post_kind(text: str) -> str:
    """``IG image`` -> image, ``IG carousel`` -> carousel, ``IG reel``/``IG video`` -> video, else ""."""
    words = _norm(text).split()
    for kind, marks in _POST_KINDS:
        if any(_norm(mark) in words for mark in marks):
            return kind
    return ""


def parse_count(item: str, what: str, text: str) -> int | None:
    """A count as exported: ``12400``, ``"12,400"``, ``12.400``, ``12 400``, ``1.234,00``; None when empty.

    Raises
    ------
    ItemSkipped
        ("count not a number") for text that is no whole number, e.g. ``12,5`` or ``n/a``.
    """
    digits = "".join(ch for ch in text.strip() if ch not in _SEPARATORS)
    if digits in ("", "-", "--", "–"):
        return None
    whole, fraction = digits, ""
    tail = re.fullmatch(r"(.*?)[.,](\d{1,2}|\d{4,})", digits)  # a decimal part: not a 3-digit group
    if tail:
        whole, fraction = tail.groups()
    if _GROUPED.fullmatch(whole) and fraction.strip("0") == "":
        return int(re.sub(r"[.,]", "", whole))
    if whole.isdigit() and fraction.strip("0") == "":
        return int(whole)
    raise ItemSkipped("count not a number", item, f"{what} is {fields.short(text)}, not a whole number")


def _optional_count(item: str, what: str, text: str) -> int | None:
    value = parse_count(item, what, text)
    return None if value is None else fields.count(item, what, value)


def _date_order(option: str, english: bool, texts: list[str]) -> str:
    """``mdy`` or ``dmy``: the option, else a date that rules one out, else the header's language."""
    if option in ("mdy", "dmy"):
        return option
    if option != "auto":
        raise InstapopError(f"date order must be auto, mdy or dmy; got {option!r}")
    for text in texts:
        found = _DATE.match(text.strip())
        if found and len(found.group(1)) <= 2:
            first, second = int(found.group(1)), int(found.group(2))
            if first > 12 >= second:
                return "dmy"
            if second > 12 >= first:
                return "mdy"
    return "mdy" if english else "dmy"


def _publish_time(item: str, text: str, order: str, zone: ZoneInfo) -> float:
    """Epoch seconds of ``10/03/2026 08:31`` (in ``order``), ``10.03.2026 08:31`` or ``2026-03-10T08:31``."""
    found = _DATE.fullmatch(text.strip())
    if not found:
        raise ItemSkipped("timestamp unreadable", item, f"Publish time {fields.short(text)} is not a date")
    a, b, c, hour, minute, second = (int(g) if g else 0 for g in found.groups())
    if len(found.group(1)) == 4:
        year, month, day = a, b, c
    else:
        year, (month, day) = c + (2000 if c < 100 else 0), ((a, b) if order == "mdy" else (b, a))
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        raise ItemSkipped("timestamp unreadable", item, f"Publish time {text!r} is not a real date") from None
    return local.timestamp()
