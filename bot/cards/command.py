"""The ``leavex-bot cards`` command: write the share cards as PNG files for operators to look at.

Registered on the CLI with ``cli.add_command(cards)``; Pillow is imported only when a card is
drawn.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cards"),
    show_default=True,
    help="Folder to write the PNG files to (created if needed).",
)
@click.option("--item", "item_ids", multiple=True, help="Only this item (repeatable).")
@click.option(
    "--language",
    "languages",
    multiple=True,
    help="Only this language (repeatable; default: the accounts' languages).",
)
@click.pass_context
def cards(
    ctx: click.Context, out: Path, item_ids: tuple[str, ...], languages: tuple[str, ...]
) -> None:
    """Write each item's picture per language (its share card, or its own picture) to a folder.

    Files are named ITEM.LANGUAGE.png; each line shows the file, its size and its alt text.
    """
    from bot.cli import handles_errors

    handles_errors(_write_cards)(ctx, out, item_ids, languages)


def _write_cards(
    ctx: click.Context, out: Path, item_ids: tuple[str, ...], languages: tuple[str, ...]
) -> None:
    from bot.cards import ensure, picture_for
    from bot.cli import load_app
    from bot.errors import ConfigError, Problem

    app = load_app(ctx)
    unknown = [i for i in item_ids if i not in app.dataset.by_id]
    if unknown:
        known = ", ".join(i.id for i in app.dataset)
        raise ConfigError([Problem("--item", f"no item {i!r} (items: {known})") for i in unknown])
    wanted = languages or tuple(dict.fromkeys(lang for a in app.accounts for lang in a.languages))
    items = [app.dataset.by_id[i] for i in item_ids] if item_ids else list(app.dataset)
    out.mkdir(parents=True, exist_ok=True)
    today = app.today()
    written = failed = 0
    for item in items:
        for language in wanted:
            texts = item.languages()
            if texts is not None and language not in texts:
                continue  # never posted in this language (no text)
            picture = picture_for(item, language, today, app.renderer.absolute(item.url))
            if picture is None:
                click.echo(f"{item.id}.{language}: no share-card words for {language!r}")
                continue
            source = ensure(picture)
            if not source.is_absolute():
                source = app.settings.data_dir / source
            target = out / f"{item.id}.{language}{source.suffix or '.png'}"
            try:
                shutil.copyfile(source, target)
            except OSError as exc:
                failed += 1
                click.echo(f"{item.id}.{language}: cannot read {source}: {exc.strerror}")
                continue
            written += 1
            size = target.stat().st_size
            click.echo(f"{target}  {size:,} bytes  alt: {picture.alt or '(none)'}")
    click.echo(f"{written} picture{'' if written == 1 else 's'} in {out}")
    if failed:
        sys.exit(1)
