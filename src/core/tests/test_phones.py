import pytest

from core.phones import PhoneError, display_phone, normalise_phone


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("(202) 555-0142", "+12025550142"),
        ("+1 202 555 0142", "+12025550142"),
        ("202.555.0142", "+12025550142"),
        ("２０２５５５０１４２", "+12025550142"),  # fullwidth digits
        ("", ""),
    ],
)
def test_numbers_as_people_write_them_are_stored_as_e164(written, stored):
    assert normalise_phone(written) == stored


def test_region_decides_numbers_without_country_code():
    assert normalise_phone("020 7946 0018", region="UK") == "+442079460018"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("(202) 555-0142 x89", "has an extension"),
        ("1-800-FLOWERS-NOW-PLEASE", "not a phone number"),
        ("1234567890123456", "wrong number of digits"),
        ("(555) 123-4567", "not a valid number"),
        ("call me", "not a phone number"),
    ],
)
def test_bad_numbers_say_why(written, reason):
    with pytest.raises(PhoneError, match=reason):
        normalise_phone(written)


def test_display_is_national_format():
    assert display_phone("+12025550142") == "(202) 555-0142"
