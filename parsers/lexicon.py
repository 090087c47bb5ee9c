"""The Vietnamese vocabulary the grammar reads: teencode, number words, units and cue words.

Words are written here with their diacritics. A token typed with diacritics must match a word
exactly; a token typed without any ("chot", "tui") matches by its folded form, which may fit
several words ("tui": I / "túi": bag): the grammar then decides by context.
"""

from __future__ import annotations

from chotdon.catalog import UNITS

# Teencode and abbreviations -> the canonical word (possibly several words).
TEENCODE: dict[str, str] = {
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
    "số điện thoại": "sđt",
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
NUMBER_WORDS: dict[str, int] = {
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
COMPOUND_DIGITS: dict[str, int] = {"mốt": 1, "tư": 4, "lăm": 5, "nhăm": 5}
TENS_WORD = "mươi"
HALF = "nửa"
AND_A_HALF = "rưỡi"

# Units viewers type, as (canonical unit, factor to the canonical unit).
UNIT_WORDS: dict[str, tuple[str, float]] = {
    **{u: (u, 1.0) for u in sorted(UNITS)},  # the catalog's selling units, as written
    "hủ": ("hũ", 1.0),
    "lạng": ("kg", 0.1),
    "bịt": ("bịch", 1.0),
    "hôp": ("hộp", 1.0),
    "chiêc": ("chiếc", 1.0),
}
GENERIC_COUNT_UNITS = frozenset({"cái", "chiếc", "con", "quả", "trái"})
# Count units viewers use for one another ("3 lọ" of a product sold by the hũ).
UNIT_SYNONYMS = (
    frozenset({"hũ", "lọ"}),
    frozenset({"túi", "bịch"}),
    frozenset({"đôi", "cặp"}),
    frozenset({"bộ", "set"}),
)
LITRE_LETTER = "l"  # "1l": a litre, unless the catalog sells size L
WEIGHT_FACTORS = {"kg": 1.0, "g": 0.001}
VOLUME_FACTORS = {"lít": 1.0, "ml": 0.001}

# Cue words. Phrases are space-separated canonical words.
ORDER_VERBS = frozenset({"chốt", "lấy", "mua", "đặt", "gửi", "ship", "để", "ủng"})
# Weak verbs need a self-reference or a request; "ủng" is "ủng hộ": buying to support sellers.
WEAK_ORDER_VERBS = frozenset({"mua", "đặt", "gửi", "ship", "để", "ủng"})
CHANGE_VERBS = frozenset({"sửa", "đổi", "thay", "chỉnh"})
CHANGE_SHIFT_VERBS = frozenset({"tăng", "giảm", "bớt", "chuyển"})  # with lên/xuống/thành/còn/sang
CHANGE_TARGETS = frozenset({"thành", "sang", "lên", "xuống", "còn", "qua"})
CANCEL_VERBS = frozenset({"huỷ", "bỏ", "cancel", "cancle"})
NEGATIONS = frozenset({"không", "chẳng", "chả", "đừng"})
MORE = frozenset({"thêm", "nữa", "tiếp"})
REQUEST_PARTICLES = frozenset({"nhé", "ạ", "luôn", "nào", "giúp", "với", "hộ", "đi"})
SELF = frozenset(
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
        "tớ",
    }
)
ADDRESSEES = frozenset(
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
        "ad",
    }
)
PAST_ADVERBS = frozenset({"đã", "vừa", "mới", "từng"})  # before a verb
PAST_AFTER = frozenset({"rồi", "xong"})  # after the verb, same clause
PAST_PHRASES = (
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
IRREALIS = frozenset({"sẽ", "nếu", "định", "tính", "chắc"})
IRREALIS_PHRASES = (
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
PRESENT = frozenset({"đang", "giờ"})
PRESENT_PHRASES = ("bây giờ", "giờ mua", "giờ lấy", "giờ đặt")
NARRATIVE = frozenset({"nên"})  # "… nên mua thêm": a consequence told, not a request
REPORT_VERBS = frozenset({"dặn", "bảo", "ghi", "nói", "kêu", "hỏi"})
DELIVERY_VERBS = frozenset({"giao", "gửi", "gủi", "ship", "nhận", "chuyển", "tặng", "đưa", "được"})
COMPLAINT_WORDS = frozenset({"nhầm", "thiếu", "sai", "lỗi", "hỏng", "rách", "hư"})
EVALUATIONS = frozenset(
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
OPTION_WORDS = frozenset({"hay", "hoặc"})
NOT_OPTION_AFTER = frozenset(
    {"quá", "lắm", "ghê", "thế", "thật", "nhỉ", "đấy", "vậy", "ạ", "nhé", "là"}
)
NOT_OPTION_BEFORE = frozenset({"rất", "khá", "cũng", "quá", "nói", "hát", "nghe", "xem"})
OPTION_QUESTION_TAIL = frozenset({"vậy", "thế", "ạ", "nhỉ", "hả", "à", "được"})
CONDITIONAL = "nếu"  # "nếu còn thì e lấy": an order on the stock being there asks whether it is
AVAILABILITY = frozenset({"còn", "có"})
SEPARATORS = frozenset({"và", "với", "+", "&", "cùng", "thêm"})
SIZE_MARKERS = frozenset({"size", "cỡ", "số", "sai"})  # "sai M"; "giao sai" stays a complaint
COLOUR_MARKERS = frozenset({"màu"})
NOT_QUANTITY_AFTER = frozenset(
    {
        "số",
        "thứ",
        "lần",
        "top",
        "tầng",
        "phòng",
        "thôn",
        "xóm",
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
DIRECTIONS = frozenset(
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
        "nha",
        "nhé",
    }
)
VOCATIVE_PARTICLE = "ơi"

# Question cues. Strong ones ask; weak ones ("?", "vậy") only ask when nothing else is said.
WHICH_NOUNS = frozenset(
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
QUESTION_PHRASES = (
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
WEAK_QUESTION_PHRASES = ("là sao", "tại sao", "vì sao", "làm sao", "sao")
WEAK_QUESTION_END = frozenset({"vậy", "thế", "à", "hả"})
