"""The livestream catalog: what the host sells in one session, and its loader.

The loader checks every field and fails with a `CatalogError` naming the field and the product,
so a host who mistyped a unit learns which product to fix.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

COUNT_UNITS = frozenset(
    "cái chiếc đôi bộ hộp chai gói bó con quả trái hũ lọ túi bịch thùng lốc set cây miếng phần "
    "cuốn quyển tấm viên cặp tuýp bao khay vỉ".split()
)
WEIGHT_UNITS = frozenset({"kg", "g"})
VOLUME_UNITS = frozenset({"lít", "ml"})
UNITS = COUNT_UNITS | WEIGHT_UNITS | VOLUME_UNITS


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names the product and the field."""


PINNING_PLATFORMS = frozenset({"shopee"})  # whose API says which product is pinned on screen
MAX_PLATFORM_ID = 20  # digits: Shopee item ids are 64-bit integers
VARIANT_JOIN = " / "  # an order line's variant: the axes' values joined in the catalog's axis order
MAX_VARIANTS = 1000  # combinations of a product's axes: a bounded catalog, a bounded parser index


class VariantAxis(msgspec.Struct, frozen=True):
    """One way a product varies (size, colour, weight...); `name` is "" for a plain variant list."""

    name: str
    values: tuple[str, ...]


class VariantOption(msgspec.Struct, frozen=True):
    """A variant with its own price and/or its own stock (None: the product's)."""

    variant: str  # one of the product's `variants` labels
    price: int | None = None
    stock: int | float | None = None


class Product(msgspec.Struct, frozen=True):
    sku: str
    code: str
    name: str
    unit: str
    price: int  # VND per unit
    stock: int | float  # shared by every variant that has no stock of its own
    aliases: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()  # every valid variant label (a combination of the axes' values)
    axes: tuple[VariantAxis, ...] = ()
    options: tuple[VariantOption, ...] = ()
    # the product's own id on a platform that pins products on screen: {"shopee": "<item_id>"}
    platform_ids: dict[str, str] = msgspec.field(default_factory=dict)

    def option(self, variant: str | None) -> VariantOption | None:
        return next((o for o in self.options if o.variant == variant), None) if variant else None

    def price_of(self, variant: str | None) -> int:
        """VND per unit of this variant: its own price, or the product's."""
        own = self.option(variant)
        return self.price if own is None or own.price is None else own.price

    def owns_stock(self, variant: str | None) -> bool:
        """True when this variant has a stock of its own rather than the product's shared one."""
        own = self.option(variant)
        return own is not None and own.stock is not None

    def label(self, values: Mapping[str, str]) -> str:
        """The variant label of one value per axis (by axis name), in the catalog's axis order."""
        return VARIANT_JOIN.join(values[a.name] for a in self.axes if a.name in values)


class Catalog(msgspec.Struct, frozen=True):
    stream: str
    title: str
    products: tuple[Product, ...]
    currency: str = "VND"
    target_revenue: int = 0

    def by_code(self, code: str | None) -> Product | None:
        if not code:
            return None
        code = code.strip().upper()
        return next((p for p in self.products if p.code.upper() == code), None)

    def by_sku(self, sku: str) -> Product | None:
        return next((p for p in self.products if p.sku == sku), None)

    def platform_codes(self, platform: str) -> dict[str, str]:
        """The platform's item id -> the product's code, for the products that name one."""
        return {
            p.platform_ids[platform]: p.code for p in self.products if platform in p.platform_ids
        }


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _product(raw: Any, index: int) -> Product:
    if not isinstance(raw, dict):
        raise CatalogError(f"products[{index}]: expected an object, got {type(raw).__name__}")
    label = raw.get("sku") or raw.get("code") or raw.get("name")
    where = f"products[{index}]" + (f" ({label})" if isinstance(label, str) and label else "")

    def text(field: str, required: bool = True) -> str:
        value = raw.get(field)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(f"{where}: field '{field}' is missing or not a non-empty string")
        return _nfc(value)

    def number(field: str, integral: bool) -> int | float:
        value = raw.get(field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CatalogError(f"{where}: field '{field}' is missing or not a number")
        if value < 0:
            raise CatalogError(f"{where}: field '{field}' is negative ({value})")
        if integral and value != int(value):
            raise CatalogError(f"{where}: field '{field}' must be a whole number of VND")
        return int(value) if value == int(value) else float(value)

    def strings(field: str, value: Any = None) -> tuple[str, ...]:
        value = raw.get(field, []) if value is None else value
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CatalogError(f"{where}: field '{field}' must be a list of non-empty strings")
        return tuple(_nfc(v) for v in value)

    def axes() -> tuple[VariantAxis, ...]:
        value = raw.get("variants", [])
        encoded = raw.get("axes")
        if encoded is not None:  # the model as encoded (a catalog record): its axes as they were
            if not isinstance(encoded, list) or not all(isinstance(a, dict) for a in encoded):
                raise CatalogError(f"{where}: field 'axes' must be a list of {{name, values}}")
            value = {str(a.get("name", "")): a.get("values") for a in encoded}
        if isinstance(value, dict):  # several axes: {"size": [...], "màu": [...]}, in this order
            found = (VariantAxis(_nfc(k), strings(f"variants.{k}", v)) for k, v in value.items())
            return tuple(axis for axis in found if axis.values)
        values = strings("variants")
        return (VariantAxis("", values),) if values else ()

    def options(labels: tuple[str, ...]) -> tuple[VariantOption, ...]:
        value = raw.get("options", [])
        if not isinstance(value, list):
            raise CatalogError(f"{where}: field 'options' must be a list")
        found: list[VariantOption] = []
        for i, opt in enumerate(value):
            at = f"{where}: options[{i}]"
            label = opt.get("variant") if isinstance(opt, dict) else None
            if not isinstance(label, str) or _nfc(label) not in labels:
                raise CatalogError(
                    f"{at}: field 'variant' must be one of the product's variants"
                    f" ({', '.join(labels[:8]) or 'it has none'}{'…' if len(labels) > 8 else ''})"
                )
            if any(o.variant == _nfc(label) for o in found):
                raise CatalogError(f"{at}: variant '{label}' is listed twice")
            price, stock = opt.get("price"), opt.get("stock")
            for name, v in (("price", price), ("stock", stock)):
                if v is not None and (
                    isinstance(v, bool) or not isinstance(v, int | float) or v < 0
                ):
                    raise CatalogError(f"{at}: field '{name}' must be a number >= 0")
            if price is not None and price != int(price):
                raise CatalogError(f"{at}: field 'price' must be a whole number of VND")
            found.append(
                VariantOption(
                    _nfc(label),
                    None if price is None else int(price),
                    None if stock is None else (int(stock) if stock == int(stock) else stock),
                )
            )
        return tuple(found)

    def platform_ids() -> dict[str, str]:
        value = raw.get("platform_ids", {})
        if not isinstance(value, dict):
            raise CatalogError(
                f'{where}: field \'platform_ids\' must be an object, e.g. {{"shopee": "123456789"}}'
            )
        ids: dict[str, str] = {}
        for platform, item in value.items():
            if platform not in PINNING_PLATFORMS:
                raise CatalogError(
                    f"{where}: platform_ids: unknown platform {platform!r} "
                    f"(known: {', '.join(sorted(PINNING_PLATFORMS))})"
                )
            text_id = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
            if not (
                isinstance(text_id, str)
                and text_id.isascii()
                and text_id.isdigit()
                and len(text_id) <= MAX_PLATFORM_ID
            ):
                raise CatalogError(
                    f"{where}: platform_ids.{platform} must be the item's id, a number of at most"
                    f" {MAX_PLATFORM_ID} digits"
                )
            ids[platform] = text_id
        return ids

    unit = text("unit").lower()
    if unit not in UNITS:
        raise CatalogError(
            f"{where}: field 'unit' has unknown unit '{unit}' (known: {', '.join(sorted(UNITS))})"
        )
    product_axes = axes()
    labels = [""]
    for axis in product_axes:
        labels = [
            f"{label}{VARIANT_JOIN if label else ''}{v}" for label in labels for v in axis.values
        ]
        if len(labels) > MAX_VARIANTS:
            raise CatalogError(f"{where}: field 'variants' makes over {MAX_VARIANTS} combinations")
    variants = tuple(labels) if product_axes else ()
    sku = text("sku")
    if VARIANT_JOIN in sku:  # "SKU / variant" names the stock a variant owns
        raise CatalogError(f"{where}: field 'sku' must not contain '{VARIANT_JOIN}'")
    return Product(
        sku=sku,
        code=text("code"),
        name=text("name"),
        unit=unit,
        price=int(number("price", integral=True)),
        stock=number("stock", integral=False),
        aliases=strings("aliases"),
        variants=variants,
        axes=product_axes,
        options=options(variants),
        platform_ids=platform_ids(),
    )


def _unique(
    products: tuple[Product, ...], claims: Callable[[Product], Iterable[tuple[Hashable, str]]]
) -> None:
    """Each key a product claims (with how to name it) is claimed by one product only: the
    second to claim one is a CatalogError naming both."""
    owners: dict[Hashable, int] = {}
    for i, product in enumerate(products):
        for key, named in claims(product):
            if key in owners:
                raise CatalogError(
                    f"products[{i}] ({product.sku}): duplicate {named} "
                    f"(also products[{owners[key]}])"
                )
            owners[key] = i


def parse_catalog(data: Any) -> Catalog:
    """Validate a decoded catalog document (a dict) and build the model."""
    if not isinstance(data, dict):
        raise CatalogError("catalog: expected a JSON object at the top level")
    stream = data.get("stream")
    if not isinstance(stream, str) or not stream.strip():
        raise CatalogError("catalog: field 'stream' is missing or not a non-empty string")
    raw_products = data.get("products")
    if not isinstance(raw_products, list) or not raw_products:
        raise CatalogError("catalog: field 'products' must be a non-empty list")
    products = tuple(_product(raw, i) for i, raw in enumerate(raw_products))
    _unique(
        products, lambda p: ((o, f"platform_ids.{o[0]} '{o[1]}'") for o in p.platform_ids.items())
    )
    _unique(products, lambda p: [(p.sku.upper(), f"sku '{p.sku}'")])
    _unique(products, lambda p: [(p.code.upper(), f"code '{p.code}'")])
    target = data.get("target_revenue", 0)
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise CatalogError("catalog: field 'target_revenue' must be a whole number >= 0")
    return Catalog(
        stream=_nfc(stream),
        title=_nfc(str(data.get("title") or stream)),
        currency=str(data.get("currency") or "VND"),
        target_revenue=target,
        products=products,
    )


def read_catalog_document(path: str | Path) -> Any:
    """The decoded JSON of a catalog file, or of a bundled one by name (`kim-an`, `phu-xuyen`)."""
    p = Path(path)
    if not p.exists() and p.suffix == "" and p.name == str(path):
        bundled = resources.files("chotdon") / "data" / f"{path}.json"
        if bundled.is_file():
            return json.loads(bundled.read_text(encoding="utf-8"))
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"catalog {path}: cannot read ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"catalog {path}: not valid JSON ({exc})") from exc


def load_catalog(path: str | Path) -> Catalog:
    """Load a catalog file (JSON), or a bundled one by name (`kim-an`, `phu-xuyen`)."""
    data = read_catalog_document(path)
    try:
        return parse_catalog(data)
    except CatalogError as exc:
        if Path(path).exists():
            raise CatalogError(f"catalog {path}: {exc}") from exc
        raise
