"""What each intent and host action does to the book (the resolver decides whether to run them).

A line the rules cannot settle without guessing becomes a review item for the host.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from chotdon.catalog import VARIANT_JOIN, Product
from chotdon.records import AdjustStock, Approve, Comment, Intent, Item, Reject

from .actions import Action, ActionError
from .order_book import Line, Missing, Order, Review, customer_key, pool, review_id
from .quantities import Qty, qty
from .step import Step
from .stock import add, adjust, find_line, set_qty, set_variant


def apply_intent(step: Step, intent: Intent, comment: Comment) -> None:
    order = step.order(customer_key(comment), comment.user_name)
    if intent.phone:  # a phone in any comment is the customer's contact
        order.phone = intent.phone
    if intent.intent == "order":
        _order(step, order, comment, intent.items)
    elif intent.intent == "change":
        _change(step, order, comment, intent.items)
    elif intent.intent == "cancel":
        _cancel(step, order, intent.items)


def apply_action(step: Step, action: Action) -> None:
    """Run a host action; raises ActionError, before changing anything, if it cannot apply."""
    if isinstance(action, AdjustStock):
        _adjust(step, action)
        return
    review = step.book.reviews.get(action.review_id)
    if review is None:
        raise ActionError(f"no pending review item {action.review_id!r}")
    if isinstance(action, Reject):
        _drop_review(step, step.order(review.customer), review.review_id)
    else:
        _approve(step, review, action)


def settle(
    product: Product | None, variant: str | None, amount: Qty | None
) -> tuple[Product, Qty] | Missing:
    """The product and quantity of a line to add, or what stops it from being one."""
    if product is None:
        return "sku"
    if variant not in (product.variants or (None,)):  # one of its variants, or none if it has none
        return "variant"
    if amount is None or not math.isfinite(amount) or qty(amount) <= 0:
        return "qty"
    return product, qty(amount)


def _order(step: Step, order: Order, comment: Comment, items: list[Item]) -> None:
    if not items:  # the parser names the current product when there is one
        _review(step, order, comment, 0, "order", "product", None)
    for index, item in enumerate(items):
        _order_item(step, order, comment, index, item, "order")


def _order_item(
    step: Step,
    order: Order,
    comment: Comment,
    index: int,
    item: Item,
    intent: Literal["order", "change"],
) -> None:
    settled = settle(step.product(item.sku), item.variant, item.qty)
    if isinstance(settled, str):
        _review(step, order, comment, index, intent, settled, item)
    else:
        add(step, order, settled[0], item.variant, settled[1])


def _change(step: Step, order: Order, comment: Comment, items: list[Item]) -> None:
    """Set the quantity and/or variant of the customer's one line of the sku. With no such line a
    change stating a quantity is an order of it; with several, which one is for the host."""
    if not items:
        _review(step, order, comment, 0, "change", "product", None)
    for index, item in enumerate(items):
        product = step.product(item.sku)
        lines = [x for x in order.lines if x.sku == item.sku]
        if product is not None and not lines and item.qty is not None:
            _order_item(step, order, comment, index, item, "change")
            continue
        if product is not None and len(lines) == 1 and item.variant is not None:
            variant = completed(product, lines[0].variant, item.variant)
            item = msgspec.structs.replace(item, variant=variant)
        missing = _unsettled_change(product, lines, item) if product is not None else "sku"
        if missing is not None:
            _review(step, order, comment, index, "change", missing, item)
            continue
        assert product is not None  # a change of an unknown sku is reviewed above
        line = lines[0]
        if item.variant is not None:
            set_variant(step, order, line, product, item.variant)
        if item.qty is not None:
            set_qty(step, order, line, qty(item.qty))


def completed(product: Product, label: str | None, value: str) -> str:
    """The variant a change means: naming one axis's value ("L", "đen") of a line in
    "M / trắng" keeps the line's other values ("L / trắng", "M / đen"). Anything else (a whole
    label, a value of no axis or of several) is taken as named."""
    if value in product.variants or label is None or len(product.axes) < 2:
        return value
    values = label.split(VARIANT_JOIN)
    named = [i for i, axis in enumerate(product.axes) if value in axis.values]
    if len(named) != 1 or len(values) != len(product.axes):
        return value
    values[named[0]] = value
    return VARIANT_JOIN.join(values)


def _unsettled_change(product: Product, lines: list[Line], item: Item) -> Missing | None:
    if len(lines) != 1:
        return "line"
    if item.variant is not None and item.variant not in product.variants:
        return "variant"
    if item.qty is None:
        return None if item.variant is not None else "qty"
    return None if math.isfinite(item.qty) and item.qty >= 0 else "qty"  # 0 removes the line


def _cancel(step: Step, order: Order, items: list[Item]) -> None:
    """Remove the named lines (every variant unless one is named), or with none named the whole
    order; pending review items for what is cancelled go too."""
    for line in list(order.lines):
        if not items or any(i.sku == line.sku and i.variant in (None, line.variant) for i in items):
            set_qty(step, order, line, 0)
    skus = {i.sku for i in items}
    for rid in list(order.reviews):
        if not items or step.book.reviews[rid].sku in skus:
            _drop_review(step, order, rid)


def _review(
    step: Step,
    order: Order,
    comment: Comment,
    index: int,
    intent: Literal["order", "change"],
    missing: Missing,
    item: Item | None,
) -> None:
    rid = review_id(comment.comment_id, index)
    product = step.product(item.sku if item else None)
    step.book.reviews[rid] = Review(
        review_id=rid,
        comment_id=comment.comment_id,
        customer=order.customer,
        customer_name=order.customer_name,
        text=comment.text,
        ts=comment.ts,
        intent=intent,
        missing=missing,
        sku=item.sku if item else None,
        variant=item.variant if item else None,
        qty=item.qty if item else None,
        unit_price=product.price_of(item.variant if item else None) if product else 0,
    )
    order.reviews.append(rid)


def _drop_review(step: Step, order: Order, rid: str) -> None:
    del step.book.reviews[rid]
    order.reviews.remove(rid)


def _approve(step: Step, review: Review, action: Approve) -> None:
    settled = settle(step.product(action.sku), action.variant, action.qty)
    if isinstance(settled, str):
        raise ActionError(f"cannot approve {review.review_id!r}: the {settled} is not valid")
    product, amount = settled
    order = step.order(review.customer)
    _drop_review(step, order, review.review_id)
    line = find_line(order, product.sku, action.variant)
    if review.intent == "change" and line is not None:
        set_qty(step, order, line, amount)
    else:
        add(step, order, product, action.variant, amount)


def _adjust(step: Step, action: AdjustStock) -> None:
    """Change a product's shared stock, or with `variant` the stock that variant owns."""
    product = step.product(action.sku)
    if product is None:
        raise ActionError(f"unknown sku {action.sku!r}")
    key = action.sku
    if action.variant is not None:
        key = pool(step.book, action.sku, action.variant)
        if key == action.sku:
            raise ActionError(
                f"{action.sku} {action.variant!r} has no stock of its own: change the product's"
            )
    if not math.isfinite(action.delta):
        raise ActionError(f"stock change for {key} is not a number")
    if qty(step.book.remaining[key] + action.delta) < 0:
        raise ActionError(f"only {step.book.remaining[key]} of {key} is unreserved to remove")
    adjust(step, key, qty(action.delta))
