"""How a number is written, on screen and in the script's placeholders: the one place that decides.

    >>> fmt(-0.314)        # fixed decimals, a true minus sign
    '−0.31'
    >>> count(1048576)     # thin spaces between thousands
    '1 048 576'
"""

from __future__ import annotations

MINUS = "\u2212"  # a real minus sign: same width as the digits in DejaVu Sans Mono
DIGITS = 2  # decimals for activations, scores and weights


def fmt(value: float, digits: int = DIGITS, *, signed: bool = False) -> str:
    """The string a number is shown as: fixed decimals, a true minus sign, no '-0.00'."""
    text = f"{value:.{digits}f}"
    if text.lstrip("-").strip("0.") == "":  # rounds to zero: drop the sign
        text = text.lstrip("-")
    text = text.replace("-", MINUS)
    if signed and not text.startswith(MINUS):
        text = "+" + text
    return text


def parse(text: str) -> float:
    """Inverse of ``fmt`` (tests read displayed strings back)."""
    return float(text.replace(MINUS, "-").replace("%", ""))


def percent(share: float) -> str:
    return f"{round(100 * share)}%"


def count(n: int) -> str:
    """12 345 678 with thin spaces: readable big integers."""
    return f"{n:,}".replace(",", "\u2009")


def value_text(value) -> str:
    """A placeholder's value as the script shows it: a float as ``fmt`` writes it, anything else as ``str``."""
    if isinstance(value, bool):
        raise TypeError("a placeholder's value is a word or a number, not True/False: pick the words instead")
    return fmt(value) if isinstance(value, float) else str(value)
