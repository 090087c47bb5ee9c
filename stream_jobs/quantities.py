"""Quantities in a product's unit: whole units, or decimals for kg and litres.

Binary floats drift when decimals are summed (0.1 + 0.2 != 0.3), and a drifted stock figure could
read as a sliver left or a hair below zero. Every quantity the book stores goes through `qty`,
which rounds to thousandths (grams, millilitres), so sums and differences stay exact.
"""

from __future__ import annotations

from typing import TypeAlias

Qty: TypeAlias = int | float
PLACES = 3


def qty(value: Qty) -> Qty:
    rounded = round(value, PLACES)
    return int(rounded) if rounded == int(rounded) else rounded
