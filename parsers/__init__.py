"""Vietnamese order-pattern parsers: comment text + catalog + current product -> Intent.

Pure and deterministic: nothing here does I/O, reads the clock or the environment — except
`parsers.cli`, the `chotdon parse` command, which nothing else imports.

    >>> from chotdon.catalog import load_catalog
    >>> from parsers import Parser
    >>> Parser(load_catalog("kim-an")).parse("chốt 2 hộp", current="A1").items
    [Item(sku='OI-HOP', qty=2, variant=None)]
"""

from .parser import PARSER_VERSION, Parser, parse_failed

__all__ = ["PARSER_VERSION", "Parser", "parse_failed"]
