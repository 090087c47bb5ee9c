"""Assemble grammar elements into items and resolve each to a catalog product.

A quantity before a product belongs to it ("2 hộp ổi"); after a product it belongs to that product
if the product has none yet ("A2 3kg", "áo size L 2 cái"); "x2" and "sl 3" always look back.
A quantity with no product means the product named last in the comment, else the one the host is
showing, chosen through the unit when the unit says more ("lấy nửa cân" is the kg product).
"""

from __future__ import annotations

from typing import NamedTuple

from chotdon.catalog import COUNT_UNITS, Catalog, Product
from chotdon.records import Item

from .grammar import MAX_QTY, Element, Qty, Ref, Sep, Variant
from .lexicon import GENERIC_COUNT_UNITS, UNIT_SYNONYMS, VOLUME_FACTORS, WEIGHT_FACTORS


class Draft:
    def __init__(
        self, ref: Ref | None, qty: Qty | None, variants: list[Variant], clause: int = 0
    ) -> None:
        self.ref = ref
        self.qty = qty
        self.variants = variants
        self.clause = clause


def assemble(elements: list[Element], clause_of: dict[int, int]) -> list[Draft]:
    drafts: list[Draft] = []
    pending_q: Qty | None = None
    pending_v: list[Variant] = []
    each = False
    boundary = True  # nothing to look back at across a separator or a clause
    last_clause = -1
    for k, e in enumerate(elements):
        clause = clause_of.get(e.start, 0)
        if clause != last_clause:
            if pending_q is not None or pending_v:
                drafts.append(Draft(None, pending_q, pending_v, last_clause))
                pending_q, pending_v = None, []
            boundary, last_clause = True, clause
        if isinstance(e, Sep):
            each = each or e.each
            boundary = not e.each
            continue
        nxt = elements[k + 1] if k + 1 < len(elements) else None
        last = drafts[-1] if drafts and drafts[-1].clause == clause else None
        if isinstance(e, Qty):
            if each:
                for d in drafts:
                    if d.qty is None and d.clause == clause:
                        d.qty = e
                each = False
                continue
            next_values = (
                isinstance(nxt, Variant) and nxt.start == e.end and axes([nxt]) & axes(pending_v)
            )
            if pending_q is None and pending_v and (e.postfix or next_values):
                if e.postfix or _ends_with_count(elements, k, clause_of):
                    # "L trắng 2 M đen 1", "chai 1 lít x2, chai 500ml x1": the count closes
                    # the values before it
                    drafts.append(Draft(None, e, pending_v, clause))
                    pending_v, boundary = [], False
                    continue
                # "đôi 40 đen 1 đôi 41 nâu": the count starts the next line, not this one
                drafts.append(Draft(None, None, pending_v, clause))
                pending_v, pending_q, boundary = [], e, False
                continue
            before = drafts[-1] if drafts else None
            if (
                last is None
                and before is not None
                and before.qty is None
                and (before.ref is not None or before.variants)
                and pending_q is None
                and not pending_v
                and not e.postfix
                and (nxt is None or clause_of.get(nxt.start, 0) != clause)
            ):
                # "short xám 32, 2 cái": a clause that is only a count counts the line before
                before.qty = e
                boundary = False
                continue
            prefix = (
                isinstance(nxt, Ref)
                and nxt.start == e.end
                and not e.postfix
                and clause_of.get(nxt.start, 0) == clause
            )
            if (
                last is not None
                and last.qty is None
                and pending_q is None
                and not prefix
                and (e.postfix or not boundary)
            ):
                last.qty = e
            else:
                if pending_q is not None:
                    drafts.append(Draft(None, pending_q, pending_v, clause))
                    pending_v = []
                pending_q = e
            boundary = False
        elif isinstance(e, Ref):
            drafts.append(Draft(e, pending_q, pending_v, clause))
            pending_q, pending_v = None, []
            boundary = False
        elif isinstance(e, Variant):
            closed = (  # "mũ trắng 1 đen 1": after its count, a line takes no more of one axis
                last is not None
                and last.qty is not None
                and all(v.end <= last.qty.start for v in last.variants)
                and axes([e]) & axes(last.variants)
            )
            names_next = isinstance(nxt, Ref) and nxt.start == e.end  # "với 10 ký st25"
            if (
                pending_q is None
                and last is not None
                and not closed
                and (
                    not boundary
                    or (last.variants and isinstance(elements[k - 1], Sep) and not names_next)
                )
            ):
                last.variants.append(e)
            else:
                pending_v.append(e)
            boundary = False
    if pending_q is not None or pending_v:
        drafts.append(Draft(None, pending_q, pending_v, last_clause))
    return drafts


def _ends_with_count(elements: list[Element], k: int, clause_of: dict[int, int]) -> bool:
    """The clause of elements[k] ends with a count: its counts follow their values."""
    clause = clause_of.get(elements[k].start, 0)
    tail = [
        e for e in elements[k:] if clause_of.get(e.start, 0) == clause and not isinstance(e, Sep)
    ]
    return isinstance(tail[-1], Qty)


def axes(variants: list[Variant]) -> set[tuple[str, str]]:
    """The (product, axis) pairs the values can fill."""
    return {(o.product.sku, o.axis) for v in variants for o in v.options}


def compatible(unit: str | None, product: Product) -> bool:
    if unit is None or unit == product.unit:
        return True
    if unit in WEIGHT_FACTORS and product.unit in WEIGHT_FACTORS:
        return True
    if unit in VOLUME_FACTORS and product.unit in VOLUME_FACTORS:
        return True
    if any(unit in group and product.unit in group for group in UNIT_SYNONYMS):
        return True
    counted = product.unit in COUNT_UNITS
    return counted and (unit in GENERIC_COUNT_UNITS or product.unit in GENERIC_COUNT_UNITS)


def measured_as_counted(unit: str | None, product: Product) -> bool:
    measures = WEIGHT_FACTORS.keys() | VOLUME_FACTORS.keys()
    return unit in measures and product.unit not in measures


def convert(value: float, unit: str | None, product: Product) -> float:
    for factors in (WEIGHT_FACTORS, VOLUME_FACTORS):
        if unit in factors and product.unit in factors:
            return value * factors[unit] / factors[product.unit]
    return value


def _values_by_axis(product: Product, variants: list[Variant]) -> dict[str, list[str]]:
    by_axis: dict[str, list[str]] = {}
    for v in variants:
        for o in v.options:
            if o.product.sku == product.sku and o.value not in by_axis.get(o.axis, []):
                by_axis.setdefault(o.axis, []).append(o.value)
    return by_axis


def _values_for(by_axis: dict[str, list[str]]) -> list[dict[str, str]]:
    """The lines the values name, one value per axis each: several values of one axis ("40 và
    42") give one line each."""
    if not by_axis:
        return []
    several = next((axis for axis, values in by_axis.items() if len(values) > 1), None)
    firsts = {axis: values[0] for axis, values in by_axis.items()}
    if several is None:
        return [firsts]
    return [{**firsts, several: value} for value in by_axis[several]]


def _amount(variants: list[Variant], product: Product) -> Qty | None:
    """A weight or volume said for a product sold by weight or volume that has no such variant:
    its quantity ("chốt 500g" of the meat sold by kg)."""
    for v in variants:
        if (
            v.amount is not None
            and compatible(v.amount.unit, product)
            and all(o.product.sku != product.sku for o in v.options)
        ):
            return v.amount
    return None


def _choose(ref: Ref, unit: str | None) -> Product:
    if compatible(unit, ref.product):
        return ref.product
    fitting = [p for p in ref.candidates if compatible(unit, p)]
    return fitting[0] if len(fitting) == 1 else ref.product


def _by_context(draft: Draft, context: list[Product], catalog: Catalog) -> Product | None:
    amounts = [v.amount for v in draft.variants if v.amount is not None]
    if len(amounts) == len(draft.variants) and any(q.elsewhere for q in [draft.qty, *amounts] if q):
        return None  # "1 đôi dép", "3 ký cá khô" of a shop selling neither: for review
    unit = draft.qty.unit if draft.qty else None
    holders = [o.product for v in draft.variants for o in v.options]
    for p in context:
        if p in holders:
            return p
    amount = next((v.amount for v in draft.variants if v.amount is not None), None)
    if amount is not None:
        # "3 lọ 250g": a count for the product on screen, the weight describes it; "chốt 500g":
        # the weight is the quantity of the product on screen sold by weight
        for p in context:
            if compatible(unit if unit is not None else amount.unit, p):
                return p
    if holders:
        unique = {p.sku: p for p in holders}
        return next(iter(unique.values())) if len(unique) == 1 else None
    for p in context:
        if compatible(unit, p):
            return p
    if (
        unit is not None
        and unit not in GENERIC_COUNT_UNITS
        and not (draft.qty and draft.qty.foreign)
    ):
        same_unit = [p for p in catalog.products if compatible(unit, p)]
        if len(same_unit) == 1:
            return same_unit[0]
    return None


def _count(value: float) -> int | float | None:
    """A quantity in the product's unit, after its unit's factor and any "x n"; out of range
    ("chốt 999 tạ x 999", "lấy 11000 ký") it is no count, and the line goes to review."""
    value = round(value, 3)
    if not 0 < value <= MAX_QTY:
        return None
    return int(value) if value == int(value) else value


def resolve(
    drafts: list[Draft],
    catalog: Catalog,
    context: list[Product],
    default_qty: int | None,
) -> list[Item]:
    """Items for the drafts. `context` is what a draft naming no product may mean, best first
    (the product named before, the current one); `default_qty` is the quantity of an item that
    states none (1 for an order, None for a change or a cancel)."""
    lines: list[Line] = []
    last_named: Product | None = None
    said: dict[str, dict[str, str]] = {}  # the values said last for each product, by axis
    for d in drafts:
        unit = d.qty.unit if d.qty else None
        if d.ref is not None:
            loose = _amount(d.variants, d.ref.product) if unit is None else None
            product: Product | None = _choose(d.ref, loose.unit if loose else unit)
            last_named = product
        else:
            near = [last_named, *context] if last_named is not None else context
            product = _by_context(d, near, catalog)
        if product is None:
            continue
        qty: int | float | None = default_qty
        amount = _amount(d.variants, product) if d.qty is None else None
        stated = True
        if amount is not None:
            qty = _count(convert(amount.value, amount.unit, product))
        elif d.qty is not None and measured_as_counted(unit, product):
            stated = False  # "50kg" next to a shirt is the buyer's weight, not how many shirts
        elif d.qty is not None:
            qty = _count(convert(d.qty.value, unit, product))
        else:
            stated = False
        by_axis = _values_by_axis(product, d.variants)
        if by_axis and d.ref is None:
            # "áo trắng 1 M 1 L": the colour said for the first line holds for the next
            for axis, value in said.get(product.sku, {}).items():
                by_axis.setdefault(axis, [value])
        if by_axis:
            said[product.sku] = {axis: values[-1] for axis, values in by_axis.items()}
        values = _values_for(by_axis)
        if len(values) > 1:
            # "2 đôi size 40 và 42": one of each when the count matches
            share = 1 if qty in (None, len(values)) else qty
            lines.extend(Line(Item(product.sku, share, product.label(v)), v, True) for v in values)
        else:
            label = product.label(values[0]) if values else None
            lines.append(Line(Item(product.sku, qty, label), values[0] if values else {}, stated))
    return _merge(_drop_totals(lines))


class Line(NamedTuple):
    item: Item
    values: dict[str, str]  # the value of each axis it names
    stated: bool  # its quantity was said, not the default one


def _drop_totals(lines: list[Line]) -> list[Item]:
    """A line followed by its breakdown is said once: "2 đôi giày, 1 đôi 39 1 đôi 43" (the
    parts add up to it), "trắng: 1 M, 1 L", "10 ký gạo, 2 túi 5kg" (no count of its own)."""
    out = []
    for line in lines:
        parts = [
            p.item.qty
            for p in lines
            if p.item.sku == line.item.sku
            and p.item.qty
            and p.values.items() > line.values.items()  # each names its values, and more
        ]
        total = line.item.qty
        adds_up = len(parts) > 1 and sum(q or 0 for q in parts) == total
        if total is None or not parts or (line.stated and not adds_up):
            out.append(line.item)
    return out


def _merge(items: list[Item]) -> list[Item]:
    merged: dict[tuple[str, str | None], Item] = {}
    for item in items:
        key = (item.sku, item.variant)
        prev = merged.get(key)
        if prev is None:
            merged[key] = item
        elif prev.qty is not None and item.qty is not None:
            merged[key] = Item(item.sku, _count(prev.qty + item.qty), item.variant)
    return list(merged.values())
