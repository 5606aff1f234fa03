"""Code strings: generation and normalisation of what people type.

The alphabet leaves out 0/O, 1/I/L so a code read aloud or retyped from a screenshot
survives; with 31 symbols and 10 characters the space is 8·10^14, so guessing is
hopeless under the API's rate limit.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
DEFAULT_LENGTH = 10
MIN_LENGTH = 6
MAX_CODE_LENGTH = 40
_PREFIX = re.compile(r"^[A-Z0-9]{1,12}$")
_SEPARATORS = re.compile(r"[\s\-_]+")


class CodeSpaceTooSmall(ValueError):
    """More codes asked for than the space can give without endless collisions."""


def normalize(raw: str) -> str:
    """What a person typed → the stored form: upper case, no spaces, hyphens or underscores."""
    return _SEPARATORS.sub("", raw).upper()


def normalize_prefix(prefix: str | None) -> str:
    if not prefix:
        return ""
    prefix = normalize(prefix)
    if not _PREFIX.match(prefix):
        raise ValueError("a code prefix is 1 to 12 latin letters or digits")
    return prefix


# Bytes below 248 (= 8 × 31) map evenly onto the alphabet; the rest are dropped,
# which keeps every symbol equally likely while doing the work in C.
_UNBIASED_LIMIT = 256 - 256 % len(ALPHABET)
_TABLE = bytes(
    (ALPHABET[b % len(ALPHABET)] if b < _UNBIASED_LIMIT else "?").encode()[0] for b in range(256)
)
_DROP = bytes(range(_UNBIASED_LIMIT, 256))


def _random_symbols(n: int) -> str:
    out = b""
    while len(out) < n:
        out += secrets.token_bytes(n - len(out) + n // 16 + 8).translate(_TABLE, _DROP)
    return out[:n].decode()


def generate(length: int = DEFAULT_LENGTH, prefix: str | None = None) -> str:
    if length < MIN_LENGTH:
        raise ValueError(f"codes are at least {MIN_LENGTH} characters long")
    return normalize_prefix(prefix) + _random_symbols(length)


def generate_many(count: int, length: int = DEFAULT_LENGTH, prefix: str | None = None) -> list[str]:
    """`count` distinct codes. Refuses more than half the code space, like Sylius does,
    instead of looping forever on collisions."""
    if count < 0:
        raise ValueError("count must not be negative")
    if count > len(ALPHABET) ** length // 2:
        raise CodeSpaceTooSmall(f"{count} codes do not fit in {length} characters")
    if length < MIN_LENGTH:
        raise ValueError(f"codes are at least {MIN_LENGTH} characters long")
    head = normalize_prefix(prefix)
    seen: set[str] = set()
    while len(seen) < count:
        missing = count - len(seen)
        symbols = _random_symbols(missing * length)
        seen.update(head + symbols[i : i + length] for i in range(0, len(symbols), length))
    return list(seen)


def looks_like_code(raw: str) -> bool:
    code = normalize(raw)
    return 0 < len(code) <= MAX_CODE_LENGTH and code.isascii() and code.isalnum()
