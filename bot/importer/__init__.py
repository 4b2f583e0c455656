"""``import-site``: keep ``data/`` in step with the website's network pages.

One way, each module using only those above it:

* :mod:`bot.importer.pages`: the plain data (page files, pages, entries) and ``url_key``;
* :mod:`bot.importer.front_matter`: a page's front matter (PyYAML or tomllib) and language;
* :mod:`bot.importer.countries`: country names as the pages write them → the dataset's codes;
* :mod:`bot.importer.hugo`: reads the Hugo content files (markdown) into entries;
* :mod:`bot.importer.matching`: matches the entries across languages and with the dataset, by
  link;
* :mod:`bot.importer.changes`: the change per item and language, and new items' ids;
* :mod:`bot.importer.editing`: applies the changes to the data files with tomlkit, keeping
  everything else;
* :mod:`bot.importer.diff`: renders the change for the operator;
* :mod:`bot.importer.plan`: puts it together, verifies the result and writes it;
* :mod:`bot.importer.command`: the click command.

Nothing here is imported when the CLI starts: the command imports the parsers, ftfy and tomlkit
only when it runs.
"""
