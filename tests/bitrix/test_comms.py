from __future__ import annotations

import pytest

from b24sync.bitrix.comms import normalise


@pytest.mark.parametrize(
    ("type_id", "left", "right"),
    [
        ("PHONE", "+7 (999) 123-45-67", "79991234567"),
        ("phone", "8-800-555 35 35", "88005553535"),
        ("EMAIL", " Ann@Example.COM", "ann@example.com"),
        ("WEB", " example.com ", "example.com"),
    ],
)
def test_values_the_portal_holds_as_one_communication_normalise_alike(
    type_id: str, left: str, right: str
) -> None:
    assert normalise(type_id, left) == normalise(type_id, right)


@pytest.mark.parametrize(
    ("type_id", "left", "right"),
    [
        ("PHONE", "+7 999", "+8 999"),
        ("EMAIL", "ann@example.com", "ann@example.org"),
        ("WEB", "A.com", "a.com"),
    ],
)
def test_different_communications_stay_different(type_id: str, left: str, right: str) -> None:
    assert normalise(type_id, left) != normalise(type_id, right)


def test_a_phone_of_other_digits_than_ascii_has_none() -> None:
    assert normalise("PHONE", "٣٤٥ and ²") == ""
