"""The Vietnamese vocabulary the grammar reads: teencode, number words, units and cue words.

Words are written here with their diacritics. A token typed with diacritics must match a word
exactly; a token typed without any ("chot", "tui") matches by its folded form, which may fit
several words ("tui": I / "túi": bag): the grammar then decides by context.
"""

from __future__ import annotations

from typing import Final

from chotdon.catalog import UNITS

# Teencode and abbreviations -> the canonical word (possibly several words).
TEENCODE: Final[dict[str, str]] = {
    "k": "không",
    "ko": "không",
    "kh": "không",
    "hok": "không",
    "hông": "không",
    "hong": "không",
    "khum": "không",
    "hem": "không",
    "khong": "không",
    "e": "em",
    "mk": "mình",
    "mik": "mình",
    "mjk": "mình",
    "m": "mình",
    "t": "tôi",
    "tớ": "tôi",
    "dc": "được",
    "đc": "được",
    "dk": "được",
    "đk": "được",
    "duoc": "được",
    "vs": "với",
    "sz": "size",
    "sìze": "size",
    "ib": "inbox",
    "inb": "inbox",
    "sdt": "sđt",
    "đt": "sđt",
    "dt": "sđt",
    "nc": "nước",
    "c": "chị",
    "a": "anh",
    "j": "gì",
    "v": "vậy",
    "z": "vậy",
    "zậy": "vậy",
    "dzậy": "vậy",
    "r": "rồi",
    "dòi": "rồi",
    "ròi": "rồi",
    "rùi": "rồi",
    "ns": "nói",
    "ad": "admin",
    "sp": "sản phẩm",
    "đag": "đang",
    "dag": "đang",
    "ms": "mới",
    "bjo": "bây giờ",
    "bh": "bây giờ",
    "oder": "đặt",
    "order": "đặt",
    "od": "đặt",
    "nhe": "nhé",
    "nha": "nhé",
    "nhá": "nhé",
    "nhen": "nhé",
    "nghen": "nhé",
    "nhoa": "nhé",
    "wa": "quá",
    "qá": "quá",
    "bít": "biết",
    "cx": "cũng",
    "trc": "trước",
    "ntn": "như thế nào",
    "bnhieu": "bao nhiêu",
    "bnh": "bao nhiêu",
    "nhiu": "nhiêu",
    "lun": "luôn",
    "mn": "mọi người",
    "nx": "nữa",
    "nua": "nữa",
    "tks": "cảm ơn",
    "ak": "à",
    "ạk": "ạ",
    "hủy": "huỷ",
    "huy": "huỷ",
    "giầy": "giày",
    "kí": "kg",
    "ki": "kg",
    "kilo": "kg",
    "kgs": "kg",
    "cân": "kg",
    "ký": "kg",
    "gam": "g",
    "gram": "g",
    "gr": "g",
    "lit": "lít",
    "sl": "số lượng",
}

# Number words; "mươi", "lăm", "mốt", "tư" only inside compounds.
NUMBER_WORDS: Final[dict[str, int]] = {
    "một": 1,
    "hai": 2,
    "ba": 3,
    "bốn": 4,
    "năm": 5,
    "sáu": 6,
    "bảy": 7,
    "bẩy": 7,
    "tám": 8,
    "chín": 9,
    "mười": 10,
    "chục": 10,
}
COMPOUND_DIGITS: Final[dict[str, int]] = {"mốt": 1, "tư": 4, "lăm": 5, "nhăm": 5}
TENS_WORD: Final = "mươi"
HALF: Final = "nửa"
AND_A_HALF: Final = "rưỡi"

# Units viewers type, as (canonical unit, factor to the canonical unit).
UNIT_WORDS: Final[dict[str, tuple[str, float]]] = {
    **{u: (u, 1.0) for u in sorted(UNITS)},  # the catalog's selling units, as written
    "hủ": ("hũ", 1.0),
    "lạng": ("kg", 0.1),
    "yến": ("kg", 10.0),  # "1 yến gạo", "nửa yến": ten kilograms
    "tạ": ("kg", 100.0),
    "bịt": ("bịch", 1.0),
    "hôp": ("hộp", 1.0),
    "chiêc": ("chiếc", 1.0),
}
GENERIC_COUNT_UNITS: Final = frozenset({"cái", "chiếc", "con", "quả", "trái"})
# Count units viewers use for one another ("3 lọ" of a product sold by the hũ).
UNIT_SYNONYMS: Final = (
    frozenset({"hũ", "lọ"}),
    frozenset({"túi", "bịch"}),
    frozenset({"đôi", "cặp"}),
    frozenset({"bộ", "set"}),
)
LITRE_LETTER: Final = "l"  # "1l": a litre, unless the catalog sells size L
COUNT_LETTER: Final = "c"  # "2c": two pieces (cái)
BOX_LETTER: Final = "h"  # "2h ổi": two boxes (hộp), unless a time
TIMES_SIGNS: Final = frozenset({"x", "×", "*"})  # "x2": two of what was just named
PLUS_SIGN: Final = "+"  # "+1" as the whole comment: one more
WEIGHT_FACTORS: Final = {"kg": 1.0, "g": 0.001}
VOLUME_FACTORS: Final = {"lít": 1.0, "ml": 0.001}

# Goods sold live, by their head noun: after a count and unit ("2 ký cá khô", "1 đôi giày"), one
# the catalog does not name is another shop's product, never the one on screen.
GOODS_NOUNS: Final = frozenset(
    {
        "giày",
        "dép",
        "áo",
        "quần",
        "váy",
        "đầm",
        "mũ",
        "nón",
        "túi",
        "ví",
        "balo",
        "kính",
        "tất",
        "khăn",
        "chăn",
        "gối",
        "nồi",
        "chảo",
        "bát",
        "cá",
        "thịt",
        "gà",
        "vịt",
        "heo",
        "lợn",
        "tôm",
        "cua",
        "ghẹ",
        "mực",
        "ốc",
        "gạo",
        "nếp",
        "mì",
        "miến",
        "bún",
        "bánh",
        "kẹo",
        "mứt",
        "sữa",
        "trà",
        "chè",
        "rượu",
        "bia",
        "dầu",
        "mắm",
        "muối",
        "đường",
        "nấm",
        "măng",
        "rau",
        "khoai",
        "ngô",
        "đậu",
        "hạt",
        "táo",
        "xoài",
        "bưởi",
        "chuối",
        "dưa",
        "nho",
        "ổi",
        "vải",
        "nhãn",
        "mận",
        "son",
        "kem",
        "phấn",
    }
)

# Cue words. Phrases are space-separated canonical words.
ORDER_VERBS: Final = frozenset({"chốt", "lấy", "mua", "đặt", "gửi", "ship", "để", "ủng"})
# Weak verbs need a self-reference or a request; "ủng" is "ủng hộ": buying to support sellers.
WEAK_ORDER_VERBS: Final = frozenset({"mua", "đặt", "gửi", "ship", "để", "ủng"})
CHANGE_VERBS: Final = frozenset({"sửa", "đổi", "thay", "chỉnh"})
# with lên/xuống/thành/còn/sang
CHANGE_SHIFT_VERBS: Final = frozenset({"tăng", "giảm", "bớt", "chuyển"})
CHANGE_TARGETS: Final = frozenset({"thành", "sang", "lên", "xuống", "còn", "qua"})
CANCEL_VERBS: Final = frozenset({"huỷ", "bỏ", "cancel", "cancle"})
NEGATIONS: Final = frozenset({"không", "chẳng", "chả", "đừng"})
MORE: Final = frozenset({"thêm", "nữa", "tiếp"})
REQUEST_PARTICLES: Final = frozenset({"nhé", "ạ", "luôn", "nào", "giúp", "với", "hộ", "đi"})
SELF: Final = frozenset(
    {
        "em",
        "mình",
        "tôi",
        "tui",
        "tao",
        "chị",
        "anh",
        "cô",
        "bác",
        "chú",
        "cháu",
        "con",
        "dì",
        "cậu",
        "mợ",
        "thím",
        "ông",
        "bà",
    }
)
ADDRESSEES: Final = frozenset(
    {
        "shop",
        "admin",
        "bạn",
        "b",
        "mọi",
        "người",
        "chủ",
        "ơi",
        "ae",
        "em",
        "chị",
        "anh",
        "cô",
        "bác",
        "chú",
        "cháu",
        "con",
        "dì",
        "cậu",
        "ông",
        "bà",
        "mình",
        "ạ",
        "nhé",
        "vậy",
        "thế",
        "nhỉ",
        "hả",
        "à",
        "đó",
        "đấy",
        "luôn",
    }
)
PAST_ADVERBS: Final = frozenset({"đã", "vừa", "mới", "từng"})  # before a verb
PAST_AFTER: Final = frozenset({"rồi", "xong"})  # after the verb, same clause
PAST_PHRASES: Final = (
    "hôm qua",
    "hôm trước",
    "hôm kia",
    "hôm nọ",
    "lần trước",
    "lần đầu",
    "tuần trước",
    "tháng trước",
    "năm ngoái",
    "năm trước",
    "lúc trước",
    "trước đây",
    "lúc nãy",
    "khi nãy",
    "hồi nãy",
    "ban nãy",
    "biết thế",
    "biết vậy",
)
IRREALIS: Final = frozenset({"sẽ", "nếu", "định", "tính", "chắc"})
IRREALIS_PHRASES: Final = (
    "lần sau",
    "đợt sau",
    "hôm nào",
    "giá như",
    "hôm sau",
    "khi nào",
    "không là",
    "năm sau",
    "tháng sau",
    "tuần sau",
    "bữa sau",
    "dịp sau",
    "sau này",
)
PRESENT: Final = frozenset({"đang", "giờ"})
PRESENT_PHRASES: Final = ("bây giờ", "giờ mua", "giờ lấy", "giờ đặt")
NARRATIVE: Final = frozenset({"nên"})  # "… nên mua thêm": a consequence told, not a request
REPORT_VERBS: Final = frozenset({"dặn", "bảo", "ghi", "nói", "kêu", "hỏi"})
DELIVERY_VERBS: Final = frozenset(
    {"giao", "gửi", "gủi", "ship", "nhận", "chuyển", "tặng", "đưa", "được"}
)
COMPLAINT_WORDS: Final = frozenset({"nhầm", "thiếu", "sai", "lỗi", "hỏng", "rách", "hư"})
EVALUATIONS: Final = frozenset(
    {
        "hài lòng",
        "đẹp",
        "ngon",
        "tốt",
        "bền",
        "rách",
        "lỗi",
        "hỏng",
        "hư",
        "hết",
        "thích",
        "ưng",
        "tuyệt",
        "xấu",
        "dở",
        "chán",
        "ok",
        "rộng",
        "chật",
        "vừa",
        "nhận",
        "điểm",
        "tự hào",
        "khen",
    }
)
# "A hay B": a choice asked about; "hay" is "good" before an intensifier and "often" before a verb.
OPTION_WORDS: Final = frozenset({"hay", "hoặc"})
NOT_OPTION_AFTER: Final = frozenset(
    {"quá", "lắm", "ghê", "thế", "thật", "nhỉ", "đấy", "vậy", "ạ", "nhé", "là"}
)
NOT_OPTION_BEFORE: Final = frozenset({"rất", "khá", "cũng", "quá", "nói", "hát", "nghe", "xem"})
OPTION_QUESTION_TAIL: Final = frozenset({"vậy", "thế", "ạ", "nhỉ", "hả", "à", "được"})
# "nếu còn thì e lấy": an order on the stock being there asks whether it is
CONDITIONAL: Final = "nếu"
THEN: Final = "thì"  # "có thì e lấy": the same condition without "nếu"
# "gà loại 2 cân": a weight that says which kind, not how many
KIND_MARKERS: Final = frozenset({"loại"})
WEAR_VERBS: Final = frozenset({"đi", "mang", "mặc"})  # "e đi 41", "mặc M": the size one wears
# a request only at the end ("mua đi"); "đi êm" is walking
FINAL_PARTICLES: Final = frozenset({"đi"})
AVAILABILITY: Final = frozenset({"còn", "có"})
SEPARATORS: Final = frozenset({"và", "với", "+", "&", "cùng", "thêm"})
# "sai M", "eo 30"; "giao sai": a complaint
SIZE_MARKERS: Final = frozenset({"size", "cỡ", "số", "sai", "eo"})
COLOUR_MARKERS: Final = frozenset({"màu"})
VARIANT_MARKERS: Final = SIZE_MARKERS | COLOUR_MARKERS
NOT_QUANTITY_AFTER: Final = frozenset(
    {
        "số",
        "thứ",
        "lần",
        "top",
        "tầng",
        "phòng",
        "thôn",
        "xóm",
        "ngõ",
        "ngách",
        "hẻm",
        "kiệt",
        "đường",
        "phường",
        "quận",
        "đội",
        "tổ",
        "năm",
        "ngày",
        "tháng",
        "lớp",
        "hạng",
        "=",
        "cô",
        "size",
        "cỡ",
        "màu",
        "mẫu",
        "đi",
        "mang",
        "mặc",
    }
)
DIRECTIONS: Final = frozenset(
    {
        "về",
        "ra",
        "vào",
        "đến",
        "tới",
        "lên",
        "xuống",
        "qua",
        "cho",
        "ship",
        "giao",
        "gửi",
        "biếu",
        "tặng",
        "làm",
        "nhé",
    }
)
VOCATIVE_PARTICLE: Final = "ơi"

# Question cues. Strong ones ask; weak ones ("?", "vậy") only ask when nothing else is said.
WHICH_NOUNS: Final = frozenset(
    {
        "size",
        "màu",
        "loại",
        "cái",
        "mẫu",
        "nơi",
        "chỗ",
        "cách",
        "bạn",
        "người",
        "kiểu",
        "sản",
        "phẩm",
        "bên",
        "shop",
        "cỡ",
        "số",
        "con",
    }
)
QUESTION_PHRASES: Final = (
    "bao nhiêu",
    "bao giờ",
    "khi nào",
    "bao lâu",
    "thế nào",
    "như thế nào",
    "ra sao",
    "ở đâu",
    "chỗ nào",
    "nơi nào",
    "vào đâu",
    "mua đâu",
    "cho hỏi",
    "muốn hỏi",
    "xin giá",
    "inbox giá",
    "hỏi giá",
    "giá sao",
    "tư vấn",
    "xin ý kiến",
    "có thể",
    "là sao",
    "tại sao",
    "vì sao",
    "làm sao",
)
WEAK_QUESTION_PHRASES: Final = ("là sao", "tại sao", "vì sao", "làm sao", "sao")
WEAK_QUESTION_END: Final = frozenset({"vậy", "thế", "à", "hả"})


# Words the grammar and the intent cues read around items.
CHANGE_FROM_TO: Final = frozenset({"từ", "sang", "qua", "thành"})  # "đổi qua L trắng": sang
# what may stand beside sizes and colours in a comment that is only those ("XL trắng nhé")
LONE_VALUE_COMPANY: Final = (
    frozenset({"nhé", "ạ", "shop", "với", "luôn", "ơi", "lấy", "chốt"})
    | SELF  # "mình lấy 38 nhé"
    | SIZE_MARKERS
    | COLOUR_MARKERS
)
TIME_OF_DAY: Final = frozenset({"sáng", "trưa", "chiều", "tối", "đêm", "nay", "mai", "kém", "rưỡi"})
KNOWN_AFTER_UNIT: Final = (
    ADDRESSEES
    | SELF
    | DIRECTIONS
    | MORE
    | SEPARATORS
    | ORDER_VERBS
    | SIZE_MARKERS
    | COLOUR_MARKERS
    | REQUEST_PARTICLES
    | CHANGE_TARGETS
    | NEGATIONS
    | PAST_AFTER
    | frozenset(
        {
            "thôi",
            "nữa",
            "sđt",
            "zalo",
            "inbox",
            "bao",
            "giá",
            "hết",
            "còn",
            "là",
            "thì",
            "mà",
            "đúng",
            "được",
            "có",
            "này",
            "kia",
            "đó",
            "ship",
            "với",
            "rưỡi",
            "loại",
            "mỗi",
            "tổng",
            "tất",
            "cả",
            "hàng",
            "nhà",
            "đơn",
            "liền",
            "ngay",
        }
    )
)
AFTER_BARE_QTY: Final = frozenset(
    {
        "nhé",
        "ạ",
        "luôn",
        "thôi",
        "nữa",
        "shop",
        "admin",
        "em",
        "chị",
        "anh",
        "với",
        "và",
        "cho",
        "về",
        "ship",
        "giao",
        "gửi",
        "đi",
        "nào",
        "được",
        "không",
        "hộ",
        "giúp",
        "ơi",
        "sđt",
        "zalo",
        "bác",
        "cô",
        "chú",
        "cháu",
        "mình",
        "x",
        "thêm",
        "tôi",
        "ta",  # the pronoun, or the Southern final particle: "2 ta nha", never tạ (100 kg)
        "mỗi",
    }
)
# "chốt tui": the bag
PRODUCT_AFTER_VERBS: Final = frozenset({"chốt", "lấy", "bỏ", "huỷ", "đổi", "sửa"})
# also typed without diacritics
PLAIN_PRODUCT_AFTER_VERBS: Final = frozenset({"chốt", "lấy", "huỷ"})
BODY_WEIGHT_BEFORE: Final = frozenset({"nặng"})  # "nặng 55kg": the buyer's weight
BODY_WEIGHT_AFTER: Final = frozenset({"mặc", "mang", "cao", "thì"})
EACH: Final = "mỗi"
EACH_KIND: Final = frozenset({"loại", "thứ", "món"})  # "mỗi loại 2"
NUMBER_NAMES: Final = frozenset(NUMBER_WORDS)
TRAILERS: Final = ADDRESSEES | {
    "ơi",
    "đây",
    "nè",
    "nhé",
    "ạ",
    "vậy",
    "thế",
    "nhỉ",
    "với",
    "luôn",
    "đi",
    "mọi",
    "người",
    "anh",
    "em",
    "hả",
    "à",
    "ta",  # the Southern final particle: "2 ta nha"
}
QUESTION_ENDS: Final = frozenset({"không", "chưa", "hả", "gì", "nhiêu", "mấy"})
QUESTION_WORDS: Final = frozenset({"nhiêu", "mấy", "gì"})
STRONG_ORDER_VERBS: Final = frozenset({"chốt", "lấy"})
MISTAKE_WORDS: Final = frozenset({"nhầm", "lộn", "sai"})
NOT_VERB_AFTER_ADVERB: Final = frozenset({"ý", "lòng", "vặn", "in"})  # "vừa ý", "vừa in": fits
SKIP_BEFORE_COUNT: Final = frozenset(
    {"có", "hẳn", "về", "lại", "chỉ", "đủ", "được", "mỗi", "tới", "đến"}
)
NOT_PRICE_AFTER: Final = frozenset({"như", "rẻ"})  # "giá như", "giá rẻ" ask no price
# "bn ơi": bạn
BN_FRIEND_AFTER: Final = frozenset({"ơi", "nào", "ấy", "kia", "ý", "mình", "em", "à"})
BN_FRIEND_BEFORE: Final = frozenset({"các", "mấy", "với", "cho", "của", "những"})
CANCEL_BO_AFTER: Final = frozenset({"đơn", "giúp", "hộ", "giùm", "đi"})  # unaccented "bo" cancels
BEFORE_SUBJECT: Final = ADDRESSEES | {"ơi", "và", "mà"}
TIME_PREPOSITIONS: Final = frozenset({"đến", "tới", "từ"})
# Someone else closing orders: before an order verb, its subject ("shop chốt đơn nhanh quá", "ai
# chốt nhiều nhất", "mọi người chốt đơn"); in the clause, everyone urged ("chốt đi mọi người ơi");
# after it, praise ("chị chốt đơn giỏi ghê"); and orders counted ("chốt 100 đơn", "đơn thứ 3")
OTHER_SUBJECTS: Final = frozenset({"shop", "ai", "người"})
EVERYONE_PHRASES: Final = ("mọi người", "cả nhà", "các bác", "các bạn", "các chị", "anh em", "ae")
PRAISE: Final = frozenset({"giỏi", "ghê", "khéo", "đỉnh"})
ORDER_NOUN: Final = "đơn"
MANY: Final = frozenset({"nhiều", "mấy", "bao"})
# "lấy" in idioms that take nothing from the shop: "lấy vía/lộc đầu năm" (for luck), "lấy chồng"
# (to marry), "lấy tinh thần", "lấy ý kiến" (matched one by one, "lấy" alone: no tag bit spent)
NOT_ORDER_AFTER_LAY: Final = frozenset(
    {"vía", "lộc", "hên", "may", "chồng", "vợ", "tinh", "ý", "động", "lòng", "le", "đà", "cớ"}
)
# "năm" beside these is the year, not five: "đầu năm", "năm nay", "năm mới", "năm 2020"
YEAR_WORDS: Final = frozenset(
    {"đầu", "cuối", "giữa", "mỗi", "hằng", "nay", "mới", "ngoái", "sau", "trước", "xưa", "học"}
)
# "cho e hỏi", "cho e coi hộp ổi": asks to do something, not for goods
NOT_ORDER_AFTER_CHO: Final = frozenset({"hỏi", "biết", "đổi", "xem", "coi", "sửa", "thử"})
# laughter and praise that follow a count or "xin" without being what is asked for ("cho e 1
# hihi", "cho e 3 xinh quá")
FILLERS: Final = frozenset(
    {"haha", "hihi", "hehe", "kk", "kkk", "hic", "huhu", "iu", "yêu", "xinh", "thương"}
)

# Cue words a one-word product alias must not be mistaken for when typed without diacritics.
CUE_WORDS: Final = (
    ADDRESSEES
    | CANCEL_VERBS
    | CHANGE_TARGETS
    | CHANGE_VERBS
    | DIRECTIONS
    | frozenset(NUMBER_WORDS)
    | ORDER_VERBS
    | PAST_ADVERBS
    | REQUEST_PARTICLES
    | SELF
    | {VOCATIVE_PARTICLE}
)
