"""Fake but well-formed Chinese personal data for synthetic customers.

Everything is drawn, vectorised, from small public lists (common surnames and given-name
characters, administrative region codes, mobile prefixes). The values are well-formed so the
import, the encryption and the masking code meet realistic input:

* names: a common surname (weighted roughly by frequency) and one or two given-name characters;
* national IDs: 18 characters per GB 11643-1999 — region code, birth date, sequence number
  whose last digit is odd for men and even for women, and the ISO 7064 MOD 11-2 check digit;
* mobile numbers: 11 digits with a real 3-digit carrier prefix (1[3-9]x);
* e-mail addresses at ``example.com`` / ``example.cn`` (RFC 2606 reserved domains), so no
  message can ever reach a real mailbox.

Random strings are built as fixed-width ASCII byte matrices and wrapped as Arrow strings
without a Python loop, which keeps 10-million-customer runs fast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

IntArray = npt.NDArray[np.int64]
ByteMatrix = npt.NDArray[np.uint8]

# (surname, pinyin, relative weight): the most common surnames in mainland China.
SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("王", "wang", 7.1), ("李", "li", 7.0), ("张", "zhang", 6.6), ("刘", "liu", 5.4),
    ("陈", "chen", 4.5), ("杨", "yang", 3.1), ("黄", "huang", 2.2), ("赵", "zhao", 2.0),
    ("吴", "wu", 1.9), ("周", "zhou", 1.9), ("徐", "xu", 1.3), ("孙", "sun", 1.3),
    ("马", "ma", 1.2), ("朱", "zhu", 1.2), ("胡", "hu", 1.1), ("郭", "guo", 1.1),
    ("何", "he", 1.0), ("林", "lin", 1.0), ("高", "gao", 1.0), ("罗", "luo", 0.9),
    ("郑", "zheng", 0.9), ("梁", "liang", 0.8), ("谢", "xie", 0.7), ("宋", "song", 0.7),
    ("唐", "tang", 0.7), ("许", "xu", 0.6), ("邓", "deng", 0.6), ("韩", "han", 0.6),
    ("冯", "feng", 0.6), ("曹", "cao", 0.6), ("彭", "peng", 0.5), ("曾", "zeng", 0.5),
    ("肖", "xiao", 0.5), ("田", "tian", 0.5), ("董", "dong", 0.5), ("潘", "pan", 0.5),
    ("袁", "yuan", 0.5), ("蔡", "cai", 0.5), ("蒋", "jiang", 0.5), ("余", "yu", 0.5),
    ("于", "yu", 0.5), ("杜", "du", 0.4), ("叶", "ye", 0.4), ("程", "cheng", 0.4),
    ("魏", "wei", 0.4), ("苏", "su", 0.4), ("吕", "lv", 0.4), ("丁", "ding", 0.4),
    ("任", "ren", 0.4), ("卢", "lu", 0.4), ("姚", "yao", 0.4), ("沈", "shen", 0.4),
    ("钟", "zhong", 0.4), ("姜", "jiang", 0.4), ("崔", "cui", 0.3), ("谭", "tan", 0.3),
    ("陆", "lu", 0.3), ("范", "fan", 0.3), ("汪", "wang", 0.3), ("廖", "liao", 0.3),
    ("石", "shi", 0.3), ("金", "jin", 0.3), ("韦", "wei", 0.3), ("贾", "jia", 0.3),
    ("夏", "xia", 0.3), ("付", "fu", 0.3), ("方", "fang", 0.3), ("邹", "zou", 0.2),
    ("欧阳", "ouyang", 0.05), ("司马", "sima", 0.01),
)  # fmt: skip
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉"
    "俊浩宇轩子涵梓欣怡雨晨博文思佳一诺嘉乐天昊晓雪婷琳颖慧鑫建国志坚海波"
)
# County-level administrative division codes (GB/T 2260) across many provinces.
REGION_CODES = (
    "110101", "110105", "110108", "120101", "130102", "140105", "210102", "220102",
    "230103", "310101", "310104", "310115", "320102", "320505", "330102", "330106",
    "340104", "350203", "360102", "370102", "370202", "410105", "420106", "430104",
    "440103", "440106", "440305", "450103", "500103", "510104", "510107", "520102",
    "530102", "610113", "620102", "650102",
)  # fmt: skip
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182",
    "183", "185", "186", "187", "188", "189", "198", "199",
)  # fmt: skip
EMAIL_DOMAINS = ("@example.com", "@example.cn")

# GB 11643-1999 check digit: weights 2^(17-i) mod 11, and the MOD 11-2 residue table.
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
ZERO = ord("0")


def national_id_check_digit(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits (scalar form, for tests/docs)."""
    total = sum(int(d) * int(w) for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def digits(values: IntArray, width: int) -> ByteMatrix:
    """Zero-padded decimal digits of non-negative ints as an ``(n, width)`` ASCII matrix."""
    out = np.empty((values.shape[0], width), dtype=np.uint8)
    rest = values.astype(np.int64).copy()
    for col in range(width - 1, -1, -1):
        out[:, col] = ZERO + rest % 10
        rest //= 10
    return out


def fixed_strings(matrix: ByteMatrix) -> pa.StringArray:
    """Rows of an ASCII byte matrix as an Arrow string array (no Python loop)."""
    n, width = matrix.shape
    offsets = (np.arange(n + 1, dtype=np.int64) * width).astype(np.int32)
    data = np.ascontiguousarray(matrix)
    array = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return array


def prefixed_ids(prefix: str, numbers: IntArray, width: int) -> pa.StringArray:
    """``prefix`` + zero-padded number, e.g. ``C0000000042``."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    matrix = np.hstack([np.broadcast_to(head, (numbers.shape[0], head.shape[0])),
                        digits(numbers, width)])  # fmt: skip
    return fixed_strings(matrix)


def draw_name_parts(rng: np.random.Generator, n: int) -> tuple[IntArray, IntArray, IntArray]:
    """Indexes of surname, first and second given character (-1: one-character given name)."""
    weights = np.array([w for _, _, w in SURNAMES])
    surname = rng.choice(len(SURNAMES), size=n, p=weights / weights.sum())
    first = rng.integers(0, len(GIVEN_CHARS), size=n)
    second = rng.integers(0, len(GIVEN_CHARS), size=n)
    second[rng.random(n) < 0.3] = -1
    return surname.astype(np.int64), first.astype(np.int64), second.astype(np.int64)


def names(surname: IntArray, first: IntArray, second: IntArray) -> pa.Array:
    surnames = pa.array([s for s, _, _ in SURNAMES], type=pa.string())
    chars = pa.array([*GIVEN_CHARS, ""], type=pa.string())
    second_index = np.where(second < 0, len(GIVEN_CHARS), second)
    return pc.binary_join_element_wise(
        surnames.take(pa.array(surname)),
        chars.take(pa.array(first)),
        chars.take(pa.array(second_index)),
        "",
    )


# The provinces of the region codes above (GB/T 2260's first two digits).
PROVINCES = tuple(sorted({code[:2] for code in REGION_CODES}))
SEQUENCES_PER_SEX = 500
AREAS = 10_000


def unique_region_and_sequence(index: IntArray) -> tuple[npt.NDArray[np.uint8], IntArray]:
    """A region code (province + four digits, as ASCII bytes) and an ID sequence for each
    0-based customer number, no two alike below ``len(PROVINCES) × AREAS × 500`` customers
    (130 million): with any birth date, a national id no other customer has."""
    half = index % SEQUENCES_PER_SEX
    area_number = index // SEQUENCES_PER_SEX
    provinces = np.frombuffer("".join(PROVINCES).encode("ascii"), dtype=np.uint8).reshape(-1, 2)
    province = provinces[area_number % len(PROVINCES)]
    area = digits((area_number // len(PROVINCES)) % AREAS, 4)
    return np.hstack([province, area]), half * 2


def national_ids(
    region: npt.NDArray[np.uint8],
    birth_date: npt.NDArray[np.datetime64],
    sequence: IntArray,
    male: npt.NDArray[np.bool_],
) -> pa.StringArray:
    """18-character IDs: region (n × 6 ASCII digits), YYYYMMDD, 3-digit sequence (odd for men),
    check digit."""
    n = region.shape[0]
    day = birth_date.astype("datetime64[D]")
    year = day.astype("datetime64[Y]").astype(np.int64) + 1970
    month = day.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (day - day.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    # Sequence 000-999 with its last digit's parity set by sex (GB 11643 §5.3).
    seq = (sequence // 2) * 2 + np.where(male, 1, 0)
    body = np.hstack([
        region,
        digits(year * 10000 + month * 100 + dom, 8),
        digits(seq, 3),
    ])  # fmt: skip
    total = (body.astype(np.int64) - ZERO) @ ID_WEIGHTS
    check = ID_CHECK[total % 11].reshape(n, 1)
    return fixed_strings(np.hstack([body, check]))


def mobiles(prefix: IntArray, subscriber: IntArray) -> pa.StringArray:
    heads = np.frombuffer("".join(MOBILE_PREFIXES).encode("ascii"), dtype=np.uint8).reshape(-1, 3)
    return fixed_strings(np.hstack([heads[prefix], digits(subscriber, 8)]))


def emails(surname: IntArray, number: IntArray, domain: IntArray) -> pa.Array:
    pinyin = pa.array([p for _, p, _ in SURNAMES], type=pa.string())
    domains = pa.array(list(EMAIL_DOMAINS), type=pa.string())
    return pc.binary_join_element_wise(
        pinyin.take(pa.array(surname)),
        pc.cast(pa.array(number), pa.string()),
        domains.take(pa.array(domain)),
        "",
    )
