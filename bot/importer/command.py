"""The ``leavex-bot import-site`` command.

Registered on the CLI with ``cli.add_command(import_site)``. The markdown parser, ftfy and tomlkit
are imported only when the command runs, so the CLI starts as fast without them.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click

from bot.errors import BotError


def _language_files(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, Path]]:
    pairs: list[tuple[str, Path]] = []
    for value in values:
        language, separator, path = value.partition("=")
        if not separator or not language.strip() or not path.strip():
            raise click.BadParameter(
                f"{value!r}: expected LANGUAGE=FILE, e.g. de=network.de.txt", ctx, param
            )
        pairs.append((language.strip(), Path(path.strip())))
    return pairs


def _data_file_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if "/" in value or "\\" in value or value.startswith(".") or not value.endswith(".toml"):
        raise click.BadParameter(
            f"{value!r}: expected a file name in the data folder ending in .toml", ctx, param
        )
    return value


@click.command("import-site")
@click.argument(
    "paths", nargs=-1, metavar="[PATH]...", type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--lang",
    "language_files",
    multiple=True,
    metavar="LANGUAGE=FILE",
    callback=_language_files,
    help=(
        "A page in LANGUAGE, for a file whose name (index.LANGUAGE.md) and front matter"
        " (lang:) do not tell; repeatable, e.g. --lang de=000_network.txt."
    ),
)
@click.option(
    "--data-dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data folder to update (default: DATA_DIR from the configuration, i.e. data/).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the changes as a diff per item and language; write nothing.",
)
@click.option(
    "--initiatives",
    "initiatives_file",
    metavar="FILE",
    default="initiatives.toml",
    show_default=True,
    callback=_data_file_name,
    help="Data file (in the data folder) that new initiatives are added to.",
)
@click.option(
    "--petitions",
    "petitions_file",
    metavar="FILE",
    default="petitions.toml",
    show_default=True,
    callback=_data_file_name,
    help="Data file (in the data folder) that new petitions are added to.",
)
@click.pass_context
def import_site(
    ctx: click.Context,
    paths: tuple[Path, ...],
    language_files: list[tuple[str, Path]],
    data_dir: Path | None,
    dry_run: bool,
    initiatives_file: str,
    petitions_file: str,
) -> None:
    """Update the dataset from the website's network pages.

    PATH is a Hugo content folder such as content/network/ (its index.LANGUAGE.md files are
    read) or a page file; a page's language comes from its name (index.de.md, page.fr.md) or
    its front matter (lang: or language:). Entries are matched across languages and with the
    dataset by their link. New entries are added (initiatives to initiatives.toml, petitions to
    petitions.toml); names, texts per language, links, country and kind follow the site;
    broken encodings are repaired. Ids, hashtags, dates, images, alt texts and comments in the
    data files are kept. Items with source = "site" that vanished from the site are marked
    inactive (active = false), never deleted. A malformed page is reported with its file and
    line, and nothing is written. Read the --dry-run diff first; see data/README.md.
    """
    try:
        _import_site(
            ctx,
            paths,
            language_files,
            data_dir,
            dry_run=dry_run,
            targets={"initiative": initiatives_file, "petition": petitions_file},
        )
    except BotError as exc:
        from bot.logs import mask

        click.echo(f"Error: {mask(str(exc))}", err=True)
        sys.exit(exc.exit_code)


@contextlib.contextmanager
def _heartbeat(label: str, every: float = 2.0) -> Iterator[None]:
    """Say what a long step is doing, then how long it has been at it, every few seconds
    (one tomlkit call on a large data file can take several seconds)."""
    click.echo(f"{label}…", err=True)
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(every):
            click.echo(f"  … {label} ({time.monotonic() - started:.0f} s)", err=True)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=every)


def _import_site(
    ctx: click.Context,
    paths: tuple[Path, ...],
    language_files: list[tuple[str, Path]],
    data_dir: Path | None,
    *,
    dry_run: bool,
    targets: dict[str, str],
) -> None:
    from bot.importer.hugo import read_pages
    from bot.importer.pages import find_sources
    from bot.importer.plan import plan_import

    if data_dir is None:
        from bot.config import load_settings

        data_dir = load_settings(ctx.find_root().params.get("env_file")).data_dir
    sources = find_sources(paths, language_files)
    with _heartbeat(f"reading {len(sources)} page(s)"):
        pages = read_pages(sources)
    for page in pages:
        click.echo(f"read {page.path} ({page.language}): {len(page.entries)} entries", err=True)
        for note in page.notes:
            click.echo(f"note: {note}", err=True)
    with _heartbeat(f"matching the entries with the items in {data_dir}"):
        plan = plan_import(pages, data_dir, targets)
    with _heartbeat("preparing the diff"):
        diff = plan.render()
    if diff:
        click.echo(diff)
    click.echo(f"import-site: {plan.summary()}")
    if dry_run:
        click.echo("dry run: nothing written" if plan.changed else "nothing to write")
        return
    if not plan.changed:
        click.echo(f"{data_dir} is in step with the site: nothing written")
        return
    with _heartbeat("checking the new data files and writing them"):
        written = plan.write()
    for path in written:
        click.echo(f"wrote {path}")
