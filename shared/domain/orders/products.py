"""The shop's product list, kept as data like the event catalog: sku, name in every supported language, price."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["PRODUCTS", "Product"]


@dataclass(frozen=True)
class Product:
    sku: str
    names: Mapping[str, str]  # language -> name, one per SUPPORTED_LANGUAGES
    price: Decimal
    currency: str

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


def _product(sku: str, price: str, en: str, de: str, es: str) -> Product:
    return Product(sku, {"en": en, "de": de, "es": es}, Decimal(price), "EUR")


_PRODUCTS = (
    _product("MUG-01", "12.50", "Enterprise Push mug", "Enterprise-Push-Tasse", "Taza Enterprise Push"),
    _product("TEE-02", "24.00", "Notification T-shirt", "Benachrichtigungs-T-Shirt", "Camiseta de notificaciones"),
    _product("HOOD-03", "59.90", "Hub hoodie", "Hub-Kapuzenpullover", "Sudadera Hub"),
    _product("BOTTLE-04", "18.75", "Steel water bottle", "Edelstahl-Trinkflasche", "Botella de acero"),
    _product("DESK-05", "899.00", "Standing desk", "Stehschreibtisch", "Escritorio elevable"),
    _product("CHAIR-06", "1499.00", "Ergonomic chair", "Ergonomischer Bürostuhl", "Silla ergonómica"),
)

# Typed read-only; a plain dict underneath, in the order the shop shows them.
PRODUCTS: Mapping[str, Product] = {product.sku: product for product in _PRODUCTS}
