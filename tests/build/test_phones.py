from cdp.phones import to_e164


def test_national_numbers_are_read_in_the_given_region():
    assert to_e164("020 7946 0123", "GB") == "+442079460123"
    assert to_e164("0151 23456789", "DE") == "+4915123456789"


def test_international_numbers_ignore_the_region():
    assert to_e164("+44 20 7946 0123", "DE") == "+442079460123"
    assert to_e164("0044 20 7946 0018", "GB") == "+442079460018"


def test_invalid_or_absent_numbers_are_none():
    assert to_e164("12345", "GB") is None
    assert to_e164("not a phone", "GB") is None
    assert to_e164("", "GB") is None
    assert to_e164(None, "GB") is None
    # A national number cannot be read without knowing its country.
    assert to_e164("020 7946 0123", None) is None
