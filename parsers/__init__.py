"""Vietnamese order-pattern parsers: comment text + catalog + current product -> Intent.

Pure and deterministic: nothing here does I/O, reads the clock or the environment — except
`parsers.cli`, the `chotdon parse` command, which nothing else imports, and `parsers.build`,
which chooses on import between the compiled build (`make parsers`) and pure Python.

    >>> from chotdon.catalog import load_catalog
    >>> from parsers import Parser
    >>> Parser(load_catalog("kim-an")).parse("chốt 2 hộp", current="A1").items
    [Item(sku='OI-HOP', qty=2, variant=None)]
"""

from .build import check

BUILD = check()  # before any module of the parser is imported: 'compiled' or 'pure'

from .parser import PARSER_VERSION, Parser  # noqa: E402

__all__ = ["BUILD", "PARSER_VERSION", "Parser"]
