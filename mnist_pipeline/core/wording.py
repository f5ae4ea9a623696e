"""Counts in messages, as a reader says them."""


def plural(count: float, noun: str, nouns: str = "") -> str:
    """`1 epoch`, `2 epochs`, `1.5 epochs`; nouns where the plural is not noun + s (`batch`, `batches`)."""
    number = f"{count:,}" if float(count).is_integer() else f"{count:g}"
    return f"{number.removesuffix('.0')} {noun if count == 1 else nouns or noun + 's'}"
