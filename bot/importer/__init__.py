"""``import-site``: keep ``data/`` in step with the website's network pages.

* :mod:`bot.importer.hugo` reads the Hugo content files (front matter, markdown) into entries;
* :mod:`bot.importer.merge` matches them with the dataset by link, computes the change per item
  and language, and writes the data files with tomlkit;
* :mod:`bot.importer.command` is the click command.

Nothing here is imported when the CLI starts: the command imports the parser, ftfy and tomlkit
only when it runs.
"""
