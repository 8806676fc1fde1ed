"""How p-values and intervals are written (dashboard and PDF share hitlgov.formats)."""
from hitlgov import formats as fmt


def test_p_values_below_one_in_a_million_are_written_as_a_bound():
    assert fmt.p_value(3.2e-300) == "< 1e-6"
    assert fmt.p_value(9.99e-7) == "< 1e-6"
    assert fmt.p_value(1e-6) == "1.0e-06"
    assert fmt.p_value(0.00042) == "4.2e-04"
    assert fmt.p_value(0.0321) == "0.032"
    assert fmt.p_value(None) == "n/a"


def test_intervals_use_one_unit_and_never_say_none():
    assert fmt.interval([0.4123, 0.4891]) == "41.2% – 48.9%"
    assert fmt.interval([0.52, 0.61], fmt.ratio) == "0.520 – 0.610"
    assert fmt.interval(None) == "n/a" and fmt.interval([None, 0.3]) == "n/a" and fmt.interval([]) == "n/a"
