"""Metadata rules: bylines, titles, publication times; and their accuracy on the real corpus."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.metadata_eval import (
    MetaGuess,
    fundus_metadata,
    normalize_name,
    normalize_title,
    score_page,
    set_f1,
    split_of,
    summarize,
)

from newsetl.models import DocKind
from newsetl.pipeline.metadata import bylines, dates, titles
from newsetl.pipeline.metadata.bylines import RawCredit
from newsetl.pipeline.metadata.dates import Candidate, choose_published, parse_stamp, to_utc
from newsetl.pipeline.metadata.sites import SiteNames
from newsetl.pipeline.process import article_from_bytes
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files

from .conftest import corpus_path
from .helpers import table_rows

NOW = datetime(2026, 8, 1, tzinfo=UTC)


def _people(
    text: str, names: list[str] | None = None, host: str | None = None
) -> tuple[list[str], list[str]]:
    c = bylines.split_byline(text, SiteNames.of(names or [], host))
    return c.authors, c.agencies


# --- bylines -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("byline", "people", "agencies"),
    [
        ("Von Seb Dumitru, Lille", ["Seb Dumitru"], []),
        ("Felix Schröder und Jörg Soldwisch, dpa", ["Felix Schröder", "Jörg Soldwisch"], ["dpa"]),
        (
            "By STEVE PEOPLES, THOMAS BEAUMONT and AMELIA THOMSON-DEVEAUX",
            ["STEVE PEOPLES", "THOMAS BEAUMONT", "AMELIA THOMSON-DEVEAUX"],
            [],
        ),
        ("Par Jean Dupont et Marie Lefèvre", ["Jean Dupont", "Marie Lefèvre"], []),
        ("Por María García y José Pérez", ["María García", "José Pérez"], []),
        ("Anna Martel und Lea Wagner, Nairobi", ["Anna Martel", "Lea Wagner"], []),
        ("ARD-Korrespondentin Christin Jordan", ["Christin Jordan"], []),
        ("Ulrich Exner, Korrespondent", ["Ulrich Exner"], []),
        ("Amy Gibbons, Political Correspondent", ["Amy Gibbons"], []),
        ("Ein Kommentar von Dr. Max Kolter", ["Dr. Max Kolter"], []),
        ("Jane Doe (@janedoe) & John Roe", ["Jane Doe", "John Roe"], []),
        ("Text: Anna Muster | Mitarbeit: Ben Beispiel", ["Anna Muster", "Ben Beispiel"], []),
        ("Jasper Riemann; Barbara Schneider", ["Jasper Riemann", "Barbara Schneider"], []),
        ("jacqui housden", ["Jacqui Housden"], []),
        ("Maya Gebeily,Anthony Deutsch", ["Maya Gebeily", "Anthony Deutsch"], []),
        ("Max Muster (dpa)", ["Max Muster"], ["dpa"]),
        ("Mit Material von dpa und AFP", [], ["dpa", "AFP"]),
        ("Associated Press in Valencia", [], ["Associated Press"]),
        ("Reuters", [], ["Reuters"]),
        ("Von unserem Korrespondenten Max Muster", ["Max Muster"], []),
        ("Aktualisiert von Max Muster", ["Max Muster"], []),
        ("Ursula von der Leyen", ["Ursula von der Leyen"], []),
        ("Laura Kuenssberg, Presenter, Sunday with Laura Kuenssberg", ["Laura Kuenssberg"], []),
        ("Jane Smith, AFP", ["Jane Smith"], ["AFP"]),
    ],
)
def test_bylines_are_split_and_cleaned(byline: str, people: list[str], agencies: list[str]) -> None:
    assert _people(byline) == (people, agencies)


def test_email_addresses_and_profile_urls_are_not_authors() -> None:
    assert _people("d.kuckelkorn@boersen-zeitung.de") == ([], [])
    assert _people("https://www.facebook.com/motorsportmagazin") == ([], [])


@pytest.mark.parametrize(
    ("byline", "names", "host"),
    [
        ("mdr.de", ["MDR"], "www.mdr.de"),
        ("n-tv NACHRICHTEN", ["n-tv NACHRICHTEN"], "www.n-tv.de"),
        ("sportschau.de", [], "www.sportschau.de"),
        ("Stuttgarter Zeitung", ["STZ"], "www.stuttgarter-zeitung.de"),
        ("BR24 Redaktion", ["BR24"], "www.br.de"),
        ("Guardian staff reporter", ["The Guardian"], "www.theguardian.com"),
    ],
)
def test_site_and_desk_names_are_organisations_not_authors(byline: str, names: list[str], host: str) -> None:
    people, orgs = _people(byline, names, host)
    assert people == []
    assert orgs == [byline]


def test_a_station_beside_the_reporter_is_not_an_author() -> None:
    people, _ = _people("von David Straub, MDR THÜRINGEN", ["MDR"], "www.mdr.de")
    assert people == ["David Straub"]


def test_people_in_a_later_source_beat_the_site_name_in_an_earlier_one() -> None:
    site = SiteNames.of(["n-tv NACHRICHTEN"], "www.n-tv.de")
    sources = [
        ("json-ld", [RawCredit("n-tv NACHRICHTEN", organization=True)]),
        ("meta:author", [RawCredit("n-tv NACHRICHTEN")]),
        ("html:byline", [RawCredit("Von Seb Dumitru, Lille")]),
    ]
    c = bylines.credits(sources, site)
    assert (c.authors, c.agencies, c.source) == (["Seb Dumitru"], [], "html:byline")


def test_an_agency_in_the_metadata_is_the_credit_and_ends_the_search() -> None:
    site = SiteNames.of(["Stuttgarter Zeitung"], "www.stuttgarter-zeitung.de")
    sources = [
        ("json-ld", [RawCredit("dpa", organization=True)]),
        ("meta:author", [RawCredit("Stuttgarter Zeitung")]),
        ("html:byline", [RawCredit("Max Beispiel")]),  # e.g. a related story's byline
    ]
    c = bylines.credits(sources, site)
    assert (c.authors, c.agencies) == ([], ["dpa"])


def test_a_lone_initials_credit_loses_to_an_organisation_credit() -> None:
    site = SiteNames.of(["kicker"], "www.kicker.de")
    sources = [("json-ld", [RawCredit("kicker", organization=True)]), ("html:byline", [RawCredit("amw")])]
    assert bylines.credits(sources, site).agencies == ["kicker"]


def test_costly_sources_are_not_computed_when_an_earlier_one_names_the_authors() -> None:
    calls: list[str] = []

    def sources():  # type: ignore[no-untyped-def]
        calls.append("json-ld")
        yield "json-ld", [RawCredit("Max Muster")]
        calls.append("html")
        yield "html:byline", [RawCredit("Someone Else")]

    assert bylines.credits(sources(), SiteNames.of([])).authors == ["Max Muster"]
    assert calls == ["json-ld"]


# --- titles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "names", "host", "clean"),
    [
        (
            "Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung",
            ["Börsen-Zeitung"],
            "www.boersen-zeitung.de",
            "Steigende US-Zinsen setzen Dax zu",
        ),
        (
            "Ukrainische Gegenoffensive: Ziele, Chancen, Risiken | DW | 28.04.2023",
            [],
            "www.dw.com",
            "Ukrainische Gegenoffensive: Ziele, Chancen, Risiken",
        ),
        (
            "Post-Vac-Syndrom nach COVID-19-Impfung: Was wissen wir?  – DW – 13.06.2023",
            ["Deutsche Welle"],
            "www.dw.com",
            "Post-Vac-Syndrom nach COVID-19-Impfung: Was wissen wir?",
        ),
        (
            "LTE-Patent: Samsung soll wegen Patentklage Smartphones zerstören - Golem.de",
            ["Golem.de"],
            "www.golem.de",
            "LTE-Patent: Samsung soll wegen Patentklage Smartphones zerstören",
        ),
        (
            "Nationaler Veteranentag: Orden fürs Morden, Tageszeitung junge Welt, 26.04.2024",
            [],
            "www.jungewelt.de",
            "Nationaler Veteranentag: Orden fürs Morden",
        ),
        (
            "Berlin-Marathon: Sebastian Hendel im Porträt - Sport - SZ.de",
            ["Süddeutsche Zeitung"],
            "www.sueddeutsche.de",
            "Berlin-Marathon: Sebastian Hendel im Porträt - Sport",
        ),
        (
            "Mexico's economy grew 1.1% in 1st quarter | AP News",
            ["AP News"],
            "apnews.com",
            "Mexico's economy grew 1.1% in 1st quarter",
        ),
        # a dash that belongs to the headline stays
        (
            "Rückschlag im Titelkampf - Liverpool verliert bei Everton",
            ["sportschau.de"],
            "www.sportschau.de",
            "Rückschlag im Titelkampf - Liverpool verliert bei Everton",
        ),
    ],
)
def test_site_suffixes_are_removed(raw: str, names: list[str], host: str, clean: str) -> None:
    assert titles.strip_site(raw, SiteNames.of(names, host)) == clean


def test_the_headline_comes_before_og_title() -> None:
    site = SiteNames.of(["Hamburger Abendblatt"], "www.abendblatt.de")
    title, source = titles.choose_title(
        [
            ("json-ld", "Baerbock zur UN: Nur eine Etappe zum nächsten Karriereschritt?"),
            ("og:title", "Annalena Baerbock: Jetzt Top-Job in New York – folgt schon bald der Nächste?"),
            ("h1", "Annalena Baerbock: Jetzt Top-Job in New York – folgt schon bald der Nächste?"),
        ],
        site,
    )
    assert (title, source) == ("Baerbock zur UN: Nur eine Etappe zum nächsten Karriereschritt?", "json-ld")


def test_a_section_suffix_another_title_lacks_is_dropped() -> None:
    title, _ = titles.choose_title(
        [
            ("json-ld", "Bubi-Bomber wieder da: Thioune fordert Geduld mit Niemiec | Sport"),
            ("og:title", "Bubi-Bomber wieder da: Thioune fordert Geduld mit Niemiec"),
        ],
        SiteNames.of(["BILD"], "www.bild.de"),
    )
    assert title == "Bubi-Bomber wieder da: Thioune fordert Geduld mit Niemiec"


def test_a_truncated_headline_gives_way_to_its_full_form() -> None:
    start = "Taiwanese President Tsai Ing-wen’s political playbook should be essential reading for"
    title, _ = titles.choose_title(
        [
            ("json-ld", f"{start} Hong Kong leader..."),
            ("og:title", "Carrie Lam should study Tsai Ing-wen’s playbook"),
            ("h1", f"{start} Hong Kong leader Carrie Lam"),
        ],
        SiteNames.of(["South China Morning Post"], "www.scmp.com"),
    )
    assert title == f"{start} Hong Kong leader Carrie Lam"


def test_a_site_name_in_front_goes_a_word_that_merely_contains_it_stays() -> None:
    site = SiteNames.of(["n-tv NACHRICHTEN"], "www.n-tv.de")
    assert (
        titles.strip_site("n-tv.de: Trump spricht über Bodeneinsätze", site)
        == "Trump spricht über Bodeneinsätze"
    )
    assert (
        titles.strip_site("n-tv Trendbarometer: Union legt zu", site) == "n-tv Trendbarometer: Union legt zu"
    )


def test_a_site_name_is_not_a_headline() -> None:
    site = SiteNames.of(["tagesschau.de"], "www.tagesschau.de")
    assert titles.choose_title([("h1", "tagesschau.de"), ("title", "Zwei Rücktritte")], site)[0] == (
        "Zwei Rücktritte"
    )


# --- publication times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "local", "offset", "has_time"),
    [
        ("2024-04-26T20:44:00+0200", datetime(2024, 4, 26, 20, 44), 120, True),
        ("2024-09-16T21:33+0100", datetime(2024, 9, 16, 21, 33), 60, True),
        ("2024-04-28 07:00:00Z", datetime(2024, 4, 28, 7, 0), 0, True),
        ("2023-04-28 18:11:01.0", datetime(2023, 4, 28, 18, 11, 1), None, True),
        ("2026-07-08T03:00:07.152Z", datetime(2026, 7, 8, 3, 0, 7, 152000), 0, True),
        ("2027-07-07T14:31:00+02", datetime(2027, 7, 7, 14, 31), 120, True),
        ("Sun, 28 Apr 2024 03:00:00 -0400", datetime(2024, 4, 28, 3, 0), -240, True),
        ("2024-04-30", datetime(2024, 4, 30), None, False),
    ],
)
def test_timestamps_parse_with_their_stated_offset(
    value: str, local: datetime, offset: int | None, has_time: bool
) -> None:
    stamp = parse_stamp(value)
    assert stamp is not None
    assert (stamp.local, stamp.offset_min, stamp.has_time) == (local, offset, has_time)


def test_the_article_date_published_beats_a_print_date_and_modified_times() -> None:
    choice = choose_published(
        [
            Candidate("2024-04-25T19:30:04+02:00", "json-ld"),
            Candidate("2024-04-26", "meta:date"),
            Candidate("2024-04-26T08:00:00+02:00", "json-ld:dateModified", published=False),
        ],
        NOW,
    )
    assert choice == dates.Choice("2024-04-25T19:30:04+02:00", "json-ld", 120, True)


def test_modified_times_are_never_the_publication_time() -> None:
    only_modified = [Candidate("2024-04-26T08:00:00+02:00", "meta:article:modified_time", published=False)]
    assert choose_published(only_modified, NOW) is None


def test_a_local_time_takes_the_zone_of_the_same_time_stated_elsewhere() -> None:
    choice = choose_published(
        [
            Candidate("2023-04-28T17:23:42", "meta:date"),
            Candidate("2023-04-28T17:23:42.981+02:00", "json-ld:datePublished", published=False),
        ],
        NOW,
    )
    assert choice is not None and (choice.offset_min, choice.tz_stated) == (120, False)
    instant, offset, stated = to_utc(choice.value, choice.offset_min, NOW)
    assert (instant, offset, stated) == (datetime(2023, 4, 28, 15, 23, 42, tzinfo=UTC), 120, False)


def test_a_local_time_beside_the_same_instant_in_utc_is_read_as_local() -> None:
    choice = choose_published(
        [Candidate("2026-07-08T05:00:07", "meta:date"), Candidate("2026-07-08T03:00:07.152Z", "json-ld:x")],
        NOW,
    )
    # the UTC value outranks nothing here: meta:date came first, but its zone is now known
    assert choice is not None and choice.source == "meta:date" and choice.offset_min == 120


def test_a_local_time_takes_the_page_zone_from_another_date() -> None:
    choice = choose_published(
        [
            Candidate("2024-08-05 20:59:59.0", "json-ld"),
            Candidate("2024-08-05T21:30:00+02:00", "time", published=False),
            Candidate("2024-01-02T10:00:00+01:00", "time", published=False),
        ],
        NOW,
    )
    assert choice is not None and choice.offset_min == 120  # the nearest in time


def test_without_any_zone_on_the_page_the_time_is_taken_as_utc_and_says_so() -> None:
    choice = choose_published([Candidate("2024-04-24T22:58:49", "meta:date")], NOW)
    assert choice == dates.Choice("2024-04-24T22:58:49", "meta:date", None, False)
    assert to_utc(choice.value, choice.offset_min, NOW) == (
        datetime(2024, 4, 24, 22, 58, 49, tzinfo=UTC),
        None,
        False,
    )


def test_a_bare_date_gives_way_to_a_timestamp_of_the_same_day() -> None:
    choice = choose_published(
        [Candidate("2024-11-29", "json-ld"), Candidate("2024-11-29T12:31:54+01:00", "meta:pubdate")], NOW
    )
    assert choice is not None and choice.value == "2024-11-29T12:31:54+01:00"
    bare = choose_published([Candidate("2024-11-29", "json-ld")], NOW)
    assert bare is not None and to_utc(bare.value, bare.offset_min, NOW) == (
        datetime(2024, 11, 29, tzinfo=UTC),
        None,
        False,
    )


def test_implausible_dates_are_skipped() -> None:
    choice = choose_published(
        [
            Candidate("2099-01-01T00:00:00Z", "json-ld"),
            Candidate("1970-01-01", "meta:pubdate"),
            Candidate("2024-05-03T15:42:11+02:00", "time-element"),
        ],
        NOW,
    )
    assert choice is not None and choice.source == "time-element"


# --- the metric ----------------------------------------------------------------------------------


def test_metric_normalisation() -> None:
    assert normalize_title("Entwurf: Ein bisschen Fortschritt\u200b ") == normalize_title(
        "entwurf: ein bisschen fortschritt"
    )
    assert normalize_title("Mexico’s economy – „gut“") == normalize_title('Mexico\'s economy - "gut"')
    assert normalize_name("Dr. Max Kolter") == normalize_name("max kolter")
    assert set_f1(["JÖRG ZSCHOCHE"], ["Jörg Zschoche"]) == 1.0
    assert set_f1([], []) == 1.0
    assert set_f1(["A B", "C D"], ["A B"]) == pytest.approx(2 / 3)
    assert split_of("de/WAZ") in {"dev", "check"}


# --- the real corpus -----------------------------------------------------------------------------


def _guess(page_path: Path, url: str | None) -> MetaGuess:
    a = article_from_bytes(page_path.read_bytes(), DocKind.HTML, max_bytes=2**26, url=url)
    day = dates.local_time(a.published_at, a.published_at_offset_min).date() if a.published_at else None
    return MetaGuess(
        title=a.title,
        published_at=a.published_at,
        day=day,
        authors=[*a.authors, *a.agencies],
        persons=a.authors,
        topics=[*a.tags, *a.categories],
    )


def test_metadata_accuracy_on_fundus_pages() -> None:
    """Floors a little under what bench/metadata.py reports (docs/quality.md), per half."""
    pages = list(fundus_metadata(corpus_path("fundus")))
    assert len(pages) >= 60
    scores = [score_page(p, _guess(p.path, p.url)) for p in pages]
    for half in ("dev", "check"):
        summary = summarize([s for s in scores if split_of(s.page.publisher) == half])
        assert summary["title"][0] >= 0.80, (half, summary)
        assert summary["instant"][0] >= 0.95, (half, summary)
        assert summary["day"][0] >= 0.95, (half, summary)
        assert summary["authors"][0] >= 0.93, (half, summary)


def test_no_site_name_or_byline_prefix_is_an_author_on_any_corpus_page() -> None:
    pages = list(fundus_metadata(corpus_path("fundus")))
    for page in pages:
        a = article_from_bytes(page.path.read_bytes(), DocKind.HTML, max_bytes=2**26, url=page.url)
        site = SiteNames.of([a.sitename], a.domain)
        for name in a.authors:
            assert not site.matches(name), (page.page_id, name)
            assert not name.casefold().startswith(("von ", "by ", "par ", "por ")), (page.page_id, name)
            assert "@" not in name, (page.page_id, name)


def test_new_columns_reach_the_warehouse(tmp_path: Path, inline_settings: Settings) -> None:
    src = corpus_path("fundus", "de")
    pages = tmp_path / "pages"
    pages.mkdir()
    for name in ("BSZ_2024_05_16.html.gz", "NTV_2024_08_05.html.gz"):
        (pages / name.removesuffix(".gz")).write_bytes(gzip.decompress((src / name).read_bytes()))
    shutil.copy2(src / "Kicker_2024_04_26.html.gz", pages / "Kicker_2024_04_26.html.gz")
    summary = ingest_files([pages], inline_settings)
    assert summary.report.counts["loaded"] == 3
    rows = table_rows(
        inline_settings.db,
        """SELECT authors, agencies, published_at_tz_stated, published_at_offset_min, published_at_source
           FROM articles ORDER BY source_ref""",
    )
    bsz, kicker, ntv = rows
    assert bsz[:2] == (["Felix Schröder", "Jörg Soldwisch"], ["dpa"]) and bsz[2] is True
    assert kicker[:2] == ([], ["kicker"])
    # n-tv states its JSON-LD time without a zone; its meta tags reveal +02:00
    assert ntv[0] == ["Seb Dumitru"] and ntv[2:4] == (False, 120)
