"""Realistic Vietnamese livestream comment text, generated from a catalog.

Used by the simulator (demos, load tests) and the parser benchmark. The mix of intents follows
what hosts see: orders, questions and chatter, some changes, cancels and phone numbers, typed
with and without diacritics, in teencode, with emoji and elongations.
"""

from __future__ import annotations

import random
import re
import unicodedata

from chotdon.catalog import VARIANT_JOIN, Catalog, Product
from chotdon.records import IntentKind

INTENT_MIX: dict[IntentKind, float] = {
    "order": 0.38,
    "question": 0.2,
    "other": 0.28,
    "contact": 0.04,
    "change": 0.05,
    "cancel": 0.05,
}
NUMBER_WORDS = ["một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười"]
ORDER_OPENERS = [
    "chốt",
    "lấy",
    "cho e",
    "cho chị",
    "e lấy",
    "mình lấy",
    "mk lấy",
    "c lấy",
    "bác lấy",
    "em chốt",
    "chốt đơn",
    "cho mình",
    "để c",
    "thêm",
    "",
]
ORDER_QTY_WEIGHTS = [40, 28, 14, 8, 6, 4]  # of 1..6: most people take one or two
BARE_OPENERS = ["chốt", "lấy", "e lấy", "c lấy", "chốt đơn", "cho e"]
PARTICLES = ["", "", "nhé", "nha", "ạ", "nha shop", "nhé shop", "shop ơi", "luôn", "nhé em"]
EMOJI = ["", "", "", "😍", "🔥🔥", "❤️", "👍", "🥰", "😂", "🙏"]
PLACES = ["Hà Đông", "Thường Tín", "Ứng Hoà", "Sài Gòn", "Bắc Ninh", "Huế", "Đà Nẵng"]
NAMES = ["Lan", "Hùng", "Mai Anh", "Tuấn", "Ngọc Ánh", "Thu Hà", "Minh", "Hoa"]
CHATTER = [
    "chào cả nhà 👋",
    "{place} đây ạ",
    "hay quá",
    "ổn áp",
    "bạn MC dễ thương quá",
    "đông người xem quá",
    "live nét ghê",
    "ủng hộ đoàn xã 💪",
    "tự hào quê mình",
    "hôm qua mua {n} {unit} rồi, ngon lắm",
    "@{name} mua đi bà ơi",
    "{alias} số 1 ❤️",
    "c ck rồi nhé e",
    "năm ngoái mua ở đây rồi",
    "xem từ đầu đến giờ luôn",
]
QUESTIONS = [
    "{alias} bao nhiêu tiền vậy shop",
    "{alias} còn không shop",
    "{code} giá bn",
    "ship {place} được không ạ",
    "{n} {unit} bao nhiêu tiền",
    "{alias} để được mấy ngày",
    "có ship cod ko shop",
    "bao giờ có phiên sau vậy ad",
    "{alias} có ngon không ạ",
    "{alias} còn size nào",
    "mua {n} {unit} có giảm giá không",
]
CHANGES = [
    "sửa thành {n} {unit} nhé",
    "đổi thành {n} {unit} giúp e",
    "sửa đơn {alias} thành {n} {unit}",
    "giảm xuống {n} {unit} thôi ạ",
    "tăng lên {n} {unit} nha",
]
CANCELS = [
    "hủy đơn giúp e nhé",
    "huỷ đơn ạ",
    "thôi e không lấy {alias} nữa",
    "bỏ {alias} giúp c",
    "huy don nha shop",
    "k lấy nữa, hủy đơn nha",
]


def spoken_name(product: Product) -> str:
    """The name as viewers type it: "Lá dong Kim An (bó 50 lá)" -> "lá dong kim an"."""
    return re.sub(r"\s*\([^)]*\)", "", product.name).strip().lower()


def with_order_share(share: float) -> dict[IntentKind, float]:
    """The intent mix with `share` of orders. Changes, cancels and phone numbers follow orders,
    so they scale with them; questions and chatter fill the rest (a quiet commune stream orders
    far less than the dev set's 55%)."""
    if not 0 <= share <= 1:
        raise ValueError(f"order share must be between 0 and 1, got {share}")
    follow: tuple[IntentKind, ...] = ("change", "cancel", "contact")
    scale = share / INTENT_MIX["order"]
    mix: dict[IntentKind, float] = {k: INTENT_MIX[k] * scale for k in follow}
    mix["order"] = share
    talk: tuple[IntentKind, ...] = ("question", "other")
    left, talk_total = max(0.0, 1 - sum(mix.values())), sum(INTENT_MIX[k] for k in talk)
    for k in talk:
        mix[k] = INTENT_MIX[k] * left / talk_total
    return mix


def strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class CommentTexts:
    """Draws comment texts. Deterministic for a given catalog and seed."""

    def __init__(
        self, catalog: Catalog, rng: random.Random, order_share: float | None = None
    ) -> None:
        self.catalog = catalog
        self.rng = rng
        mix = with_order_share(order_share) if order_share is not None else INTENT_MIX
        self.kinds = list(mix)
        self.weights = list(mix.values())

    def kind(self) -> IntentKind:
        return self.rng.choices(self.kinds, self.weights)[0]

    def text(self, kind: IntentKind, current: Product | None, about: Product | None = None) -> str:
        """A comment of `kind` typed while `current` is on screen. `about` fixes the product
        it talks of (a viewer changing or cancelling what they ordered)."""
        rng = self.rng
        if about is not None:
            product = about
        elif current is not None and rng.random() < 0.6:
            product = current
        else:
            product = rng.choice(self.catalog.products)
        slots = {
            "alias": rng.choice([spoken_name(product), *product.aliases]),
            "code": rng.choice([product.code, product.code.lower()]),
            "n": str(rng.randint(1, 5)),
            "unit": product.unit,
            "place": rng.choice(PLACES),
            "name": rng.choice(NAMES),
        }
        if kind == "order":
            text = self._order(product, current)
        elif kind == "contact":
            text = (
                f"{rng.choice(['sdt', 'sđt', 'zalo', 'đt', 'SĐT'])} {self.phone()} "
                + rng.choice(PARTICLES)
            )
        else:
            pool = {"question": QUESTIONS, "change": CHANGES, "cancel": CANCELS}.get(kind, CHATTER)
            text = rng.choice(pool).format(**slots)
        return self._noise(text.strip())

    def _order(self, product: Product, current: Product | None) -> str:
        rng = self.rng
        n = rng.choices(range(1, 7), ORDER_QTY_WEIGHTS)[0]
        qty = rng.choice([str(n), str(n), NUMBER_WORDS[n - 1], f"{n}"])
        unit = product.unit if product.unit not in ("kg", "g") else rng.choice(["kg", "cân", "ký"])
        if current is None and rng.random() < 0.25:
            # Typed before the host shows anything: no product to resolve, the host reviews it.
            return f"{rng.choice(BARE_OPENERS)} {rng.choice([qty, f'{qty} {unit}', f'+{n}'])}"
        if product is current and rng.random() < 0.3:
            body = rng.choice(["", qty, f"{qty} {unit}", f"+{n}"])
        elif rng.random() < 0.3:
            body = rng.choice(
                [
                    f"{product.code} x{n}",
                    f"{product.code.lower()} {n}{unit[:1]}",
                    f"{product.code} sl {n}",
                ]
            )
        else:
            alias = rng.choice([spoken_name(product), *product.aliases])
            # "2 hộp ổi", not "2 hộp hộp ổi"
            body = f"{qty} {alias}" if alias.startswith(f"{unit} ") else f"{qty} {unit} {alias}"
        if product.variants and rng.random() < 0.8:
            marker = rng.choice(["size", "sz", "màu", ""])
            variant = rng.choice(product.variants).replace(VARIANT_JOIN, " ")  # "M trắng"
            body += f" {marker} {variant}"
        # "nhé em" alone is no order: a bare comment needs its verb.
        parts = [rng.choice(ORDER_OPENERS if body else BARE_OPENERS), body, rng.choice(PARTICLES)]
        if rng.random() < 0.1:
            parts.append(f"sdt {self.phone()}")
        return " ".join(p for p in parts if p)

    def phone(self) -> str:
        rng = self.rng
        digits = rng.choice("35789") + "".join(rng.choice("0123456789") for _ in range(8))
        national = "0" + digits
        style = rng.randrange(4)
        if style == 0:
            return national
        if style == 1:
            return f"{national[:4]} {national[4:7]} {national[7:]}"
        if style == 2:
            return f"{national[:4]}.{national[4:7]}.{national[7:]}"
        return f"+84 {digits[:3]} {digits[3:6]} {digits[6:]}"

    def _noise(self, text: str) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            text = strip_marks(text)
        elif r < 0.35:
            text = text.upper()
        if rng.random() < 0.05 and text:
            i = rng.randrange(len(text))
            if text[i].isalpha():
                text = text[: i + 1] + text[i] * rng.randint(2, 5) + text[i + 1 :]
        return (text + " " + rng.choice(EMOJI)).strip()


# Viewers' names and filler words for `distinct_texts`: none of them is a cue or number word.
SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Vũ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE_NAMES = ["Thị", "Văn", "Thu", "Minh", "Ngọc", "Thanh", "Quốc", "Hải", "Bảo", "Kim"]
GIVEN_NAMES = [
    "Lan", "Hùng", "Tuấn", "Ánh", "Hà", "Hương", "Phúc", "Dũng", "Trang", "Linh", "Nga",
    "Quân", "Thảo", "Vy", "Khánh", "Duyên", "Sơn", "Yến", "Loan", "Nhung",
]  # fmt: skip
FILLERS = ["", "hihi", "haha", "kkk", "hehe", "nè", "đó", "iu shop", "xinh quá", "nhaaa", "ạaa"]


def distinct_texts(
    catalogs: list[Catalog], n: int, seed: int
) -> list[tuple[Catalog, str, str | None]]:
    """`n` different comments (catalog, text, current code), each real-shaped and signed with
    a viewer's name, a filler word and an emoji, so no cache of texts answers any of them: what
    a parser meets in a livestream, where a name, an emoji or a typo makes every comment new."""
    rng = random.Random(seed)
    makers = [CommentTexts(c, rng) for c in catalogs]
    seen: set[tuple[str, str, str | None]] = set()
    out: list[tuple[Catalog, str, str | None]] = []
    while len(out) < n:
        maker = makers[len(out) % len(makers)]
        products = maker.catalog.products
        current = rng.choice(products) if rng.random() < 0.8 else None
        name = " ".join(
            [rng.choice(SURNAMES), rng.choice(MIDDLE_NAMES), rng.choice(GIVEN_NAMES)][
                rng.randrange(3) :
            ]
        )
        text = maker.text(maker.kind(), current)
        text = f"{name}: {text} {rng.choice(FILLERS)} {rng.choice(EMOJI)}".strip()
        code = current.code if current else None
        key = (maker.catalog.stream, text, code)
        if key not in seen:
            seen.add(key)
            out.append((maker.catalog, text, code))
    return out
