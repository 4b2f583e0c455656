"""`leavex-bot import-site`: the website's network pages into data/, safely."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.dataset import Dataset, Item, load_dataset
from bot.importer.command import import_site
from tests.conftest import SHARED
from tests.helpers import DATA, ROOT

SEEDS = SHARED / "seeds"
SEED_PAGES = {
    "de": "000_cf4af984b4ed1a1f.txt",
    "en": "001_cf790a396e5f1930.txt",
    "fr": "002_9eea11c575111773.txt",
}
FRONT = '---\ntitle: "Network"\n---\n\n'


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(import_site, [str(a) for a in args], catch_exceptions=False)


def seed(language: str) -> Path:
    path = SEEDS / SEED_PAGES[language]
    if not path.exists():
        pytest.skip("../shared/seeds is not available")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The three seed pages as a Hugo content folder: content/network/index.<lang>.md."""
    folder = tmp_path / "content" / "network"
    folder.mkdir(parents=True)
    for language in SEED_PAGES:
        shutil.copy(seed(language), folder / f"index.{language}.md")
    return folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    """A copy of the bundled data folder."""
    return Path(shutil.copytree(DATA, tmp_path / "bundled"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def drop_line(path: Path, needle: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if needle not in line), encoding="utf-8")


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*"))}


def line_diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    changed: list[str] = []
    for name in sorted({*before, *after}):
        old = before.get(name, "").splitlines()
        new = after.get(name, "").splitlines()
        changed += [
            line
            for line in difflib.unified_diff(old, new, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
    return changed


def by_url(dataset: Dataset) -> dict[str, Item]:
    return {item.url: item for item in dataset}


def write_page(folder: Path, name: str, body: str, front: str = FRONT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(front + body, encoding="utf-8")
    return path


# -- the seed pages ---------------------------------------------------------------------------


def test_seed_pages_into_an_empty_folder_reproduce_the_bundled_items(
    site: Path, data: Path
) -> None:
    """Importing the three seed pages into an empty data folder gives every bundled item from
    the site with the same kind, names, links, country and texts, and nothing else."""
    result = run(site, "--data-dir", data)
    assert result.exit_code == 0, result.output
    imported = by_url(load_dataset(data))
    expected = {item.url: item for item in load_dataset(DATA) if item.id != "11-11-11"}
    assert set(imported) == set(expected)
    for url, want in expected.items():
        got = imported[url]
        assert got.kind == want.kind, url
        assert got.name == want.name, url
        assert got.names == want.names, url
        assert got.urls == want.urls, url
        assert got.country == want.country, url
        assert got.description == want.description, url
        assert got.source == "site"
        assert got.active
    assert imported["/about"].urls == ["/about"]  # site-relative: left for SITE_BASE_URL
    assert imported["https://vamonosjuntas.org"].description["en"].startswith("Vámonos juntas")
    assert {p.name for p in data.glob("*.toml")} == {"initiatives.toml", "petitions.toml"}
    assert "repaired broken text encoding: 'VÃ¡monos' → 'Vámonos'" in result.stderr


def test_new_items_get_ids_from_their_names_in_page_order(site: Path, data: Path) -> None:
    """New items are named by a slug of their name and written in the pages' order, initiatives
    and petitions to their own files."""
    assert run(site, "--data-dir", data).exit_code == 0
    dataset = load_dataset(data)
    assert [i.id for i in dataset if i.kind == "initiative"] == [
        "helloquitx",
        "bye-bye-elon",
        "makesocialssocialagain",
        "juntas",
        "x-odus",
        "leavex",
    ]
    assert all(
        dataset.sources[i.id].name == "petitions.toml" for i in dataset if i.kind == "petition"
    )
    assert dataset.by_id["musk-stoppen-x-abschalten"].country == "DE"
    assert dataset.by_id["an-open-letter-to-all-european"].country == "Europe"


def test_imported_data_passes_check(
    site: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`leavex-bot check` exits 0 on the imported data (SITE_BASE_URL unset)."""
    from bot.cli import cli

    assert run(site, "--data-dir", data).exit_code == 0
    monkeypatch.setenv("DATA_DIR", str(data))
    result = CliRunner().invoke(cli, ["check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "bye-bye-elon" in result.output


def test_importing_again_changes_nothing(site: Path, data: Path) -> None:
    """A second import of the same pages writes nothing and leaves the files byte for byte."""
    assert run(site, "--data-dir", data).exit_code == 0
    before = snapshot(data)
    result = run(site, "--data-dir", data)
    assert result.exit_code == 0
    assert "nothing written" in result.output
    assert "0 added, 0 changed, 0 deactivated, 10 unchanged" in result.output
    assert snapshot(data) == before


def test_one_changed_description_is_exactly_one_change(site: Path, data: Path) -> None:
    """A page with one changed description changes that item's text in that language and
    nothing else: the dry run shows only it, and the files differ in that one line."""
    assert run(site, "--data-dir", data).exit_code == 0
    before = snapshot(data)
    edit(site / "index.fr.md", "plateforme de médias sociaux", "plateforme de réseaux sociaux")

    dry = run(site, "--data-dir", data, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert snapshot(data) == before
    item_lines = [line for line in dry.output.splitlines() if line[:2] in ("+ ", "~ ", "- ")]
    assert item_lines == ["~ [bye-bye-elon]  initiatives.toml"]
    assert "    description.fr:" in dry.output
    assert "[-médias-]{+réseaux+}" in dry.output
    assert "1 changed, 0 deactivated, 9 unchanged" in dry.output
    assert "dry run: nothing written" in dry.output

    assert run(site, "--data-dir", data).exit_code == 0
    changed = line_diff(before, snapshot(data))
    assert len(changed) == 2
    assert changed[0].startswith("-fr = ") and "médias sociaux" in changed[0]
    assert changed[1].startswith("+fr = ") and "réseaux sociaux" in changed[1]


def test_import_into_bundled_data_keeps_what_operators_added(site: Path, bundled: Path) -> None:
    """Importing the seeds into the bundled data keeps ids, hashtags, departures, aliases and
    comments, leaves 11-11-11 (not from the site) alone, and only marks the site's items."""
    before = snapshot(bundled)
    result = run(site, "--data-dir", bundled)
    assert result.exit_code == 0, result.output
    assert "1 not from the site" in result.output
    changed = line_diff(before, snapshot(bundled))
    unmarked = [i for i in load_dataset(DATA) if i.source is None and i.id != "11-11-11"]
    assert changed == ['+source = "site"'] * len(unmarked)
    dataset = load_dataset(bundled)
    eleven = dataset.by_id["11-11-11"]
    assert eleven.active and eleven.source != "site"
    assert dataset.by_id["make-socials-social-again"].hashtags == ["MakeSocialsSocialAgain"]
    hello = dataset.by_id["helloquitx"]
    assert hello.aliases == ["HelloQuitteX"] and hello.departure is not None
    assert all(item.source == "site" for item in dataset if item.id != "11-11-11")


def test_vanished_item_is_deactivated_and_reported(site: Path, data: Path) -> None:
    """An item the site no longer lists is marked inactive, never deleted, and reported."""
    assert run(site, "--data-dir", data).exit_code == 0
    for language in ("en", "fr"):
        drop_line(site / f"index.{language}.md", "[**X-odus**]")
    result = run(site, "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert "- [x-odus]  initiatives.toml: deactivated" in result.output
    assert "vanished from the site" in result.output
    x_odus = load_dataset(data).by_id["x-odus"]
    assert not x_odus.active
    assert set(x_odus.description) == {"en", "fr"}
    again = run(site, "--data-dir", data)
    assert "0 deactivated" in again.output and "nothing written" in again.output


def test_item_not_from_the_site_is_never_deactivated(site: Path, bundled: Path) -> None:
    """An item without source = "site" (11-11-11, or x-odus before its first import) that is
    not on the pages stays active and unchanged."""
    for language in ("en", "fr"):
        drop_line(site / f"index.{language}.md", "[**X-odus**]")
    drop_line(bundled / "initiatives.toml", 'source = "')
    before = snapshot(bundled)
    assert run(site, "--data-dir", bundled).exit_code == 0
    dataset = load_dataset(bundled)
    assert dataset.by_id["x-odus"].active and dataset.by_id["x-odus"].source is None
    assert dataset.by_id["11-11-11"].active
    assert "x-odus" not in "".join(line_diff(before, snapshot(bundled)))


def test_partial_import_reports_but_does_not_deactivate(site: Path, data: Path) -> None:
    """Without the pages of every language the site's items have texts in, a missing item is
    reported but left active (it may still be on a page that was not imported)."""
    assert run(site, "--data-dir", data).exit_code == 0
    drop_line(site / "index.en.md", "[**X-odus**]")
    result = run(site / "index.en.md", "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert "left active because the de, fr page was not imported" in result.output
    assert load_dataset(data).by_id["x-odus"].active


def test_reappearing_item_is_reported_not_reactivated(site: Path, data: Path) -> None:
    """An inactive site item that is listed again keeps active = false and gets a note."""
    assert run(site, "--data-dir", data).exit_code == 0
    edit(
        data / "initiatives.toml",
        '[x-odus]\nkind = "initiative"',
        '[x-odus]\nactive = false\nkind = "initiative"',
    )
    result = run(site, "--data-dir", data)
    assert "on the site again but inactive" in result.output
    assert not load_dataset(data).by_id["x-odus"].active


def test_manual_item_is_left_alone(site: Path, data: Path) -> None:
    """An item with source = "manual" is not changed even when its link is on the site."""
    (data / "own.toml").write_text(
        '[elon]\nkind = "initiative"\nname = "Elon bye"\nurls = ["https://byebyeelon.de/"]\n'
        'source = "manual"\n\n[elon.description]\nen = "Our own words."\n',
        encoding="utf-8",
    )
    before = (data / "own.toml").read_text(encoding="utf-8")
    result = run(site, "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert 'source = "manual": left as it is' in result.output
    assert (data / "own.toml").read_text(encoding="utf-8") == before
    assert "bye-bye-elon" not in load_dataset(data).by_id


# -- merging details --------------------------------------------------------------------------


def test_new_language_text_is_inserted_in_place_keeping_comments(site: Path, bundled: Path) -> None:
    """A text in a new language goes into the item's description in language order, and the
    comment that introduces the next item stays above it."""
    en = (site / "index.en.md").read_text(encoding="utf-8")
    juntas = next(line for line in en.splitlines() if "[**#juntas**]" in line)
    edit(
        site / "index.de.md",
        "* [**LeaveX**]",
        juntas.replace("VÃ¡monos", "Vámonos").replace("(Spain)", "(Spanien)") + "\n* [**LeaveX**]",
    )
    before = snapshot(bundled)
    assert run(site, "--data-dir", bundled).exit_code == 0
    text = (bundled / "initiatives.toml").read_text(encoding="utf-8")
    assert "[juntas.description]\nde = " in text
    assert "# Not on the German page: no German text. The pages give no country.\n[x-odus]" in text
    juntas_item = load_dataset(bundled).by_id["juntas"]
    assert list(juntas_item.description) == ["de", "en", "fr"]
    assert juntas_item.country == "ES"
    changed = line_diff(before, snapshot(bundled))
    assert [c for c in changed if c != '+source = "site"'] == [
        f"+de = {juntas_item.description['de']!r}".replace("'", '"')
    ]


def test_name_changed_on_one_page_becomes_a_language_name(site: Path, data: Path) -> None:
    """A link text changed on one page only is recorded in names for that language; the name
    stays what the other pages write."""
    assert run(site, "--data-dir", data).exit_code == 0
    edit(site / "index.fr.md", "[**Bye Bye, Elon**]", "[**Adieu, Elon**]")
    result = run(site, "--data-dir", data, "--dry-run")
    assert "    names.fr: + Adieu, Elon" in result.output
    assert run(site, "--data-dir", data).exit_code == 0
    item = load_dataset(data).by_id["bye-bye-elon"]
    assert item.name == "Bye Bye, Elon"
    assert item.names == {"fr": "Adieu, Elon"}
    assert 'names = { fr = "Adieu, Elon" }' in (data / "initiatives.toml").read_text("utf-8")


def test_entry_parsing_of_a_custom_page(tmp_path: Path, data: Path) -> None:
    """Bold and inline links are removed from texts (link text kept), " : " after the link is
    accepted, countries map back from the page language, and petitions keep all their links."""
    page = write_page(
        tmp_path / "site",
        "index.fr.md",
        "Intro [lien](https://intro.example).\n\n"
        "## Initiatives\n\n"
        "* [**Un _Nom_**](https://un.example) : Texte **gras** avec [un lien](https://x.example)"
        "\n  sur deux lignes. (Belgique)\n"
        "* [Sans pays](https://deux.example): Fin (bêta)\n\n"
        "## Pétitions\n\n"
        "* [Titre](https://p.example/1) aussi [ici](https://p.example/2) (Europe)\n",
    )
    result = run(page, "--data-dir", data)
    assert result.exit_code == 0, result.output
    items = by_url(load_dataset(data))
    one = items["https://un.example"]
    assert (one.name, one.country) == ("Un Nom", "BE")
    assert one.description == {"fr": "Texte gras avec un lien sur deux lignes."}
    two = items["https://deux.example"]
    assert two.country is None and two.description == {"fr": "Fin (bêta)"}
    assert "'(bêta)' is not a country name in 'fr'" in result.stderr
    petition = items["https://p.example/1"]
    assert petition.kind == "petition"
    assert petition.urls == ["https://p.example/1", "https://p.example/2"]
    assert petition.country == "Europe" and not petition.description


def test_new_items_go_to_the_chosen_file_with_unique_ids(site: Path, bundled: Path) -> None:
    """--initiatives picks the file new initiatives go to; an id already taken gets a suffix."""
    edit(
        site / "index.en.md",
        "* [**LeaveX**]",
        "* [**Bye Bye, Elon**](https://other.example): Another one. (Austria)\n* [**LeaveX**]",
    )
    result = run(site, "--data-dir", bundled, "--initiatives", "new.toml")
    assert result.exit_code == 0, result.output
    dataset = load_dataset(bundled)
    assert dataset.by_id["bye-bye-elon-2"].url == "https://other.example"
    assert dataset.by_id["bye-bye-elon-2"].country == "AT"
    assert dataset.sources["bye-bye-elon-2"].name == "new.toml"
    assert dataset.by_id["bye-bye-elon"].url == "https://byebyeelon.de"


def test_new_ids_are_transliterated_and_cut_between_words(tmp_path: Path, data: Path) -> None:
    """A new id spells letters of other scripts in ASCII ("ß" → "ss", Greek → Latin) and is cut
    to 32 characters after a whole word, keeping the words' order."""
    page = write_page(
        tmp_path,
        "index.de.md",
        "* [Straße frei für Œuvre](https://s.example): Text.\n"
        "* [Ελληνικά](https://g.example): Text.\n"
        "* [Offener Brief an alle europäischen Politiker zu X](https://o.example): Text.\n",
    )
    result = run(page, "--data-dir", data)
    assert result.exit_code == 0, result.output
    ids = {item.url: item.id for item in load_dataset(data)}
    assert ids == {
        "https://s.example": "strasse-frei-fur-oeuvre",
        "https://g.example": "ellenika",
        "https://o.example": "offener-brief-an-alle",
    }


def test_seed_files_named_explicitly_with_lang(data: Path) -> None:
    """Files whose name does not tell the language are given with --lang LANGUAGE=FILE."""
    args: list[str | Path] = []
    for language in SEED_PAGES:
        args += ["--lang", f"{language}={seed(language)}"]
    result = run(*args, "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert len(load_dataset(data)) == 10


def test_language_from_front_matter(tmp_path: Path, data: Path) -> None:
    """A page's language may come from its front matter (YAML lang: or TOML language =)."""
    yaml_page = write_page(
        tmp_path, "network.md", "* [A](https://a.example): Texte.\n", '---\nlang: "fr"\n---\n'
    )
    toml_page = write_page(
        tmp_path, "other.md", "* [A](https://a.example): Text.\n", '+++\nlanguage = "de"\n+++\n'
    )
    assert run(yaml_page, toml_page, "--data-dir", data).exit_code == 0
    assert load_dataset(data).by_id["a"].description == {"de": "Text.", "fr": "Texte."}


def test_language_comes_from_the_top_level_of_a_yaml_front_matter(
    tmp_path: Path, data: Path
) -> None:
    """The YAML front matter is parsed as YAML: only a top-level 'lang' counts (not one under
    cascade or inside a folded text), and a trailing comment is not part of the value."""
    front = (
        "---\ndescription: >-\n  Un réseau\n  lang: xx\n"
        "cascade:\n  lang: yy\nlang: fr  # the page's language\n---\n"
    )
    page = write_page(tmp_path, "network.md", "* [A](https://a.example): Texte.\n", front)
    result = run(page, "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert load_dataset(data).by_id["a"].description == {"fr": "Texte."}


def test_dry_run_writes_nothing(site: Path, data: Path) -> None:
    """--dry-run prints the new items but creates no file."""
    result = run(site, "--data-dir", data, "--dry-run")
    assert result.exit_code == 0
    assert "+ [helloquitx]  new initiative in initiatives.toml" in result.output
    assert "    description.de: Die Bewegung #HelloQuitX" in result.output
    assert list(data.iterdir()) == []


# -- malformed pages ----------------------------------------------------------------------------

MALFORMED = [
    pytest.param(
        "index.de.md",
        "",
        "* [A](https://a.example): Text.\n",
        ":1",
        "no front matter",
        id="no-front",
    ),
    pytest.param(
        "index.de.md",
        FRONT,
        "* [A](https://a.example): Text.\n* **B** without a link.\n",
        ":6",
        "an entry without a link",
        id="no-link",
    ),
    pytest.param(
        "index.de.md",
        FRONT,
        "* [A](https://a.example): Text.\n\n### Petitions\n\n* [B](https://a.example/) (Europa)\n",
        ":9",
        "two entries with the link https://a.example/ (lines 5 and 9)",
        id="duplicate-link",
    ),
    pytest.param(
        "index.xx.md",
        FRONT,
        "* [A](https://a.example): Text.\n",
        "index.xx.md",
        "unknown language 'xx'",
        id="unknown-language-name",
    ),
    pytest.param(
        "page.md",
        '---\ntitle: "x"\nlang: klingon\n---\n',
        "* [A](https://a.example): Text.\n",
        ":3",
        "unknown language 'klingon'",
        id="unknown-language-front-matter",
    ),
    pytest.param(
        "page.md",
        FRONT,
        "* [A](https://a.example): Text.\n",
        ":1",
        "cannot tell the page's language",
        id="no-language",
    ),
    pytest.param(
        "index.de.md",
        '---\ntitle: "Netzwerk\nlang: de\n---\n',
        "* [A](https://a.example): Text.\n",
        ":3",
        "the front matter is not valid YAML: while scanning a quoted scalar (line 2)",
        id="invalid-yaml-front-matter",
    ),
    pytest.param(
        "page.md",
        "---\ntitle: x\nlang: [de, fr]\n---\n",
        "* [A](https://a.example): Text.\n",
        ":3",
        "'lang' must be a language code such as 'de'",
        id="yaml-language-not-a-code",
    ),
    pytest.param(
        "index.de.md",
        '+++\ntitle = "Netzwerk"\nlang = de\n+++\n',
        "* [A](https://a.example): Text.\n",
        ":3",
        "the front matter is not valid TOML: Invalid value",
        id="invalid-toml-front-matter",
    ),
    pytest.param(
        "index.en.md",
        FRONT,
        "## Resources\n\n* [A](https://a.example): Text.\n",
        ":7",
        "entries under the heading 'Resources'",
        id="unknown-section",
    ),
    pytest.param(
        "index.en.md", FRONT, "* [A](about): Text.\n", ":5", "bad link", id="relative-link"
    ),
]


@pytest.mark.parametrize(("name", "front", "body", "where", "message"), MALFORMED)
def test_malformed_page_is_an_error_naming_file_and_line(
    tmp_path: Path, bundled: Path, name: str, front: str, body: str, where: str, message: str
) -> None:
    """A malformed page exits with code 2 and a message naming the file and line; no data
    file is written."""
    page = write_page(tmp_path / "site", name, body, front)
    before = snapshot(bundled)
    result = run(page, "--data-dir", bundled)
    assert result.exit_code == 2, result.output
    assert "cannot import site" in result.stderr
    assert f"{page}{where}" in result.stderr or (where == name and str(page) in result.stderr)
    assert message in result.stderr
    assert snapshot(bundled) == before


def test_every_problem_of_every_page_is_reported_at_once(tmp_path: Path, data: Path) -> None:
    """Problems in several pages come in one error, and nothing is written."""
    bad_de = write_page(tmp_path, "index.de.md", "* no link\n")
    bad_fr = write_page(tmp_path, "index.fr.md", "* [A](https://a.example)\n", front="")
    result = run(bad_de, bad_fr, "--data-dir", data)
    assert result.exit_code == 2
    assert f"{bad_de}:5" in result.stderr and f"{bad_fr}:1" in result.stderr
    assert list(data.iterdir()) == []


def test_conflicting_kind_or_country_across_languages_is_an_error(
    tmp_path: Path, data: Path
) -> None:
    """One link listed with different countries on two pages is refused, naming both places."""
    de = write_page(tmp_path, "index.de.md", "* [A](https://a.example): Text. (Deutschland)\n")
    en = write_page(tmp_path, "index.en.md", "* [A](https://a.example): Text. (France)\n")
    result = run(de, en, "--data-dir", data)
    assert result.exit_code == 2
    assert f"{en}:5: country 'FR' here but 'DE' at {de}:5" in result.stderr


def test_two_pages_in_one_language_is_an_error(tmp_path: Path, data: Path) -> None:
    """Two pages in the same language are refused."""
    one = write_page(tmp_path / "a", "index.de.md", "* [A](https://a.example): Text.\n")
    two = write_page(tmp_path / "b", "index.de.md", "* [B](https://b.example): Text.\n")
    result = run(one, two, "--data-dir", data)
    assert result.exit_code == 2
    assert "a second page in 'de'" in result.stderr


def test_invalid_data_folder_is_reported_before_anything_is_read(site: Path, data: Path) -> None:
    """A data folder that does not load is an error (exit 2) and is left as it is."""
    (data / "bad.toml").write_text("[x]\nkind = 'campaign'\n", encoding="utf-8")
    result = run(site, "--data-dir", data)
    assert result.exit_code == 2
    assert "invalid dataset" in result.stderr
    assert [p.name for p in data.iterdir()] == ["bad.toml"]


# -- the command ----------------------------------------------------------------------------------


def test_help_documents_the_interface() -> None:
    """--help shows the page argument, --lang, --data-dir and --dry-run, and the README
    documents the command."""
    result = run("--help")
    assert result.exit_code == 0
    for option in ("[PATH]...", "--lang LANGUAGE=FILE", "--data-dir", "--dry-run", "--initiatives"):
        assert option in result.output
    assert "leavex-bot import-site" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_bad_lang_option_is_refused(data: Path) -> None:
    """--lang without LANGUAGE=FILE is a usage error."""
    result = run("--lang", "de", "--data-dir", data)
    assert result.exit_code == 2
    assert "expected LANGUAGE=FILE" in result.stderr


def test_loading_the_command_does_not_import_the_parsers() -> None:
    """Importing the command (as the CLI does at start-up) loads neither markdown-it, ftfy nor
    tomlkit."""
    code = (
        "import sys\nimport bot.cli, bot.importer.command\n"
        "print('LOADED', [m for m in ('markdown_it', 'ftfy', 'tomlkit') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert "LOADED []" in out
