"""PII and secret detectors: a regex per kind plus a validator where one exists.

Validators turn look-alikes away: Luhn for payment cards, the SSA's rules for
US SSNs, HMRC's prefix rules for UK National Insurance numbers, ISO 13616
mod-97 for IBANs, the ``ipaddress`` module for IP addresses, Shannon entropy
for generic ``api_key=...`` values. Pure standard library.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from typing import Callable

_F = re.IGNORECASE


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_ok(m: re.Match) -> bool:
    digits = re.sub(r"\D", "", m.group(0))
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def ssn_ok(m: re.Match) -> bool:
    """SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    area, group, serial = m.group("area"), m.group("group"), m.group("serial")
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def nino_ok(m: re.Match) -> bool:
    prefix = m.group(0)[:2].upper()
    return prefix not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ")


def iban_ok(m: re.Match) -> bool:
    s = re.sub(r"\s", "", m.group(0)).upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def ipv4_ok(m: re.Match) -> bool:
    try:
        ipaddress.IPv4Address(m.group(0))
    except ValueError:
        return False
    return True


def ipv6_ok(m: re.Match) -> bool:
    text = m.group(0)
    if text.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def secret_value_ok(m: re.Match) -> bool:
    v = m.group("value")
    return len(v) >= 12 and entropy(v) >= 3.0 and not v.lower().startswith(("your", "xxxx", "<"))


def phone_ok(m: re.Match) -> bool:
    digits = re.sub(r"\D", "", m.group(0))
    return 7 <= len(digits) <= 15


#: (kind, pattern, validator or None, group holding the span or 0, confidence).
#: Order is priority: an earlier kind's span wins over an overlapping later one.
DETECTORS: list[tuple[str, re.Pattern[str], Callable[[re.Match], bool] | None, int | str, float]] = [
    ("private_key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                               r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"), None, 0, 0.99),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"), None, 0, 0.97),
    ("github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"), None, 0, 0.98),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b|https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),
     None, 0, 0.97),
    ("openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{20,}\b"), None, 0, 0.95),
    ("api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b|\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b"), None, 0, 0.95),
    ("secret", re.compile(
        r"\b(?:api[_-]?key|apikey|api[_-]?secret|secret(?:[_-]?key)?|access[_-]?key(?:[_-]?id)?|client[_-]?secret"
        r"|auth[_-]?token|access[_-]?token|token|password|passwd|pwd)\b[\"']?\s*[:=]\s*[\"']?"
        r"(?P<value>[A-Za-z0-9_\-/+=.~!@#$%^&*]{12,})", _F), secret_value_ok, "value", 0.85),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), None, 0, 0.97),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), iban_ok, 0, 0.97),
    ("credit_card", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), card_ok, 0, 0.95),
    ("ssn", re.compile(r"(?<![\d-])(?P<area>\d{3})([- ])(?P<group>\d{2})\2(?P<serial>\d{4})(?![\d-])"), ssn_ok, 0, 0.9),
    ("uk_nino", re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", _F), nino_ok, 0, 0.9),
    ("ip_address", re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), ipv4_ok, 0, 0.8),
    ("ip_address", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), ipv6_ok, 0, 0.85),
    ("phone", re.compile(r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}(?![\w-])"),
     phone_ok, 0, 0.85),
    ("phone", re.compile(r"(?<![\w-])(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\w-])"), phone_ok, 0, 0.8),
]

KINDS: tuple[str, ...] = tuple(dict.fromkeys(k for k, *_ in DETECTORS))


def find(text: str, kinds: set[str] | None = None) -> list[tuple[int, int, str, float]]:
    """Non-overlapping ``(start, end, kind, confidence)`` spans, earliest first."""
    taken: list[tuple[int, int, str, float]] = []
    for kind, rx, ok, group, conf in DETECTORS:
        if kinds is not None and kind not in kinds:
            continue
        for m in rx.finditer(text):
            if ok is not None and not ok(m):
                continue
            s, e = m.span(group)
            if any(s < te and ts < e for ts, te, *_ in taken):
                continue
            taken.append((s, e, kind, conf))
    return sorted(taken)
