"""The livestream catalog: what the host sells in one session, and its loader.

The loader checks every field and fails with a `CatalogError` naming the field and the product,
so a host who mistyped a unit learns which product to fix.
"""

from __future__ import annotations

import json
import unicodedata
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


class Product(msgspec.Struct, frozen=True):
    sku: str
    code: str
    name: str
    unit: str
    price: int  # VND per unit
    stock: int | float
    aliases: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()


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

    def strings(field: str) -> tuple[str, ...]:
        value = raw.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CatalogError(f"{where}: field '{field}' must be a list of non-empty strings")
        return tuple(_nfc(v) for v in value)

    unit = text("unit").lower()
    if unit not in UNITS:
        raise CatalogError(
            f"{where}: field 'unit' has unknown unit '{unit}' (known: {', '.join(sorted(UNITS))})"
        )
    return Product(
        sku=text("sku"),
        code=text("code"),
        name=text("name"),
        unit=unit,
        price=int(number("price", integral=True)),
        stock=number("stock", integral=False),
        aliases=strings("aliases"),
        variants=strings("variants"),
    )


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
    for field in ("sku", "code"):
        seen: dict[str, int] = {}
        for i, product in enumerate(products):
            key = getattr(product, field).upper()
            if key in seen:
                raise CatalogError(
                    f"products[{i}] ({product.sku}): duplicate {field} '{getattr(product, field)}'"
                    f" (also products[{seen[key]}])"
                )
            seen[key] = i
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


def load_catalog(path: str | Path) -> Catalog:
    """Load a catalog file (JSON), or a bundled one by name (`kim-an`, `phu-xuyen`)."""
    p = Path(path)
    if not p.exists() and p.suffix == "" and p.name == str(path):
        bundled = resources.files("chotdon") / "data" / f"{path}.json"
        if bundled.is_file():
            return parse_catalog(json.loads(bundled.read_text(encoding="utf-8")))
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"catalog {path}: cannot read ({exc.strerror})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"catalog {path}: not valid JSON ({exc})") from exc
    try:
        return parse_catalog(data)
    except CatalogError as exc:
        raise CatalogError(f"catalog {path}: {exc}") from exc
