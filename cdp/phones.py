"""Phone numbers to E.164 with Google's libphonenumber (the phonenumbers package)."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=200_000)
def to_e164(text: str | None, region: str | None) -> str | None:
    """The number in E.164, or None when it is absent or not a valid number.

    ``region`` (ISO 3166 alpha-2) says how to read a number written in national format;
    numbers written with a + or an international prefix ignore it. Validity is
    libphonenumber's: the number must belong to an allocated range of its country.
    """
    if text is None or not text.strip():
        return None
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
