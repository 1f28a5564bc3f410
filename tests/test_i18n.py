"""The message catalogues: every message translated into Vietnamese, and the locale's numbers."""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd
import pytest
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from cjml import i18n
from cjml.i18n import (
    fill,
    format_currency,
    format_points,
    format_probabilities,
    format_probability,
    gettext,
    language,
    ngettext,
    rounded_change,
)


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


@pytest.fixture(scope="module")
def extracted():
    return i18n._extract()


@pytest.fixture(scope="module")
def vi():
    with i18n.catalogue_path("vi").open("rb") as fh:
        return read_po(fh, locale="vi", domain=i18n.DOMAIN)


def test_every_message_of_the_package_is_translated_into_vietnamese(extracted, vi):
    problems = []
    for message in extracted:
        if not message.id:
            continue
        where = ", ".join(f"{f}:{n}" for f, n in message.locations[:1])
        found = vi.get(message.id)
        if found is None or found in i18n.untranslated(vi):
            problems.append(f"untranslated ({where}): {message.id!r}")
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        wanted = set().union(*(_fields(x) for x in ids))
        for text in strings:
            if _fields(text) != wanted:
                problems.append(
                    f"placeholders differ ({where}): {message.id!r} has {sorted(wanted)}, "
                    f"the translation {text!r} has {sorted(_fields(text))}"
                )
    assert not problems, (
        "Messages without a Vietnamese translation; run `python -m cjml.i18n update` and fill "
        "their msgstr in cjml/locale/vi/LC_MESSAGES/cjml.po:\n" + "\n".join(problems)
    )


def test_the_catalogue_has_no_message_that_no_code_uses(extracted, vi):
    used = {m.id for m in extracted if m.id}
    unused = [m.id for m in vi if m.id and m.id not in used]
    assert not unused, (
        "Entries of the vi catalogue that no code uses; run `python -m cjml.i18n update`:\n"
        + "\n".join(map(repr, unused))
    )
    assert not vi.obsolete


def test_the_extractor_finds_messages_in_private_folders(extracted):
    files = {f for m in extracted for f, _ in m.locations}
    assert "cjml/panel/_data/_common.py" in files
    assert "cjml/explanations.py" in files


def test_the_extractor_finds_messages_inside_f_strings():
    """Before Python 3.12 an f-string is one token: Babel's own extractor missed these."""
    import io

    from babel.messages.extract import extract

    source = (
        b"x = f\"<h4>{_esc(_('Churn risk distribution'))}</h4>\"\n"
        b"y = f\"{ngettext('{n} day', '{n} days', n)} and {_(f'not {a} message')}\"\n"
        b"z = obj.gettext('Overview')\n"
    )
    found = [m for _, m, _, _ in extract(i18n._messages_in, io.BytesIO(source), i18n.KEYWORDS)]
    assert found == ["Churn risk distribution", ("{n} day", "{n} days"), "Overview"]


def test_gettext_speaks_the_current_language_and_english_is_the_source():
    assert gettext("Live chat") == "Live chat"
    with language("vi"):
        assert gettext("Live chat") == "Chat trực tuyến"
        assert ngettext("{n} day", "{n} days", 1) == ngettext("{n} day", "{n} days", 5)
        assert gettext("a message nobody wrote") == "a message nobody wrote"
    assert i18n.current().language == "en"
    assert ngettext("{n} day", "{n} days", 1) == "{n} day"
    assert ngettext("{n} day", "{n} days", 2) == "{n} days"


def test_language_block_restores_the_setting_even_on_error():
    with pytest.raises(RuntimeError):
        with language("vi", currency="EUR"):
            assert i18n.current().currency == "EUR"
            raise RuntimeError
    assert i18n.current() == i18n._Setting("en", "USD")
    with pytest.raises(ValueError, match="language='fr' is not known"):
        i18n.set_language("fr")
    with pytest.raises(ValueError, match="not an ISO 4217 currency code"):
        i18n.set_language("en", currency="DOLLARS")


def test_numbers_money_and_dates_follow_the_locale():
    assert format_currency(20) == "$20.00"
    with language("vi"):
        assert format_probability(0.624) == "62,4%"
        assert format_currency(20000) == "20.000\xa0₫"
        assert i18n.format_date("2026-03-04") != i18n.format_date("2026-04-03")
        assert "2026" in i18n.format_date("2026-03-04")
    with language("en", currency="EUR"):
        assert format_currency(20) == "€20.00"
    assert i18n.format_date("2026-03-04") == "Mar 4, 2026"


def test_one_rounding_rule_for_probabilities():
    got = format_probabilities([0.6244, 0.99951, 0.9999999, 0.0004, 0.00051, 0.0, 1.0, np.nan])
    assert got.tolist() == [
        "62.4%",
        ">99.9%",
        ">99.9%",
        "<0.1%",
        "0.1%",
        "0.0%",
        "100.0%",
        "\u2013",
    ]
    assert format_probability(None) == "\u2013"


@pytest.mark.parametrize(
    ("d", "text"),
    [
        (0.039, "3.9 points"),
        (0.0049, "under 0.5 points"),
        (-0.0049, "under 0.5 points"),
        (0.005, "0.5 points"),
        (-0.039, "3.9 points"),
        (np.nan, "\u2013"),
    ],
)
def test_points_under_half_a_point_say_so(d, text):
    assert format_points(d) == text


def test_points_keep_the_sign_when_asked():
    assert format_points(-0.039, signed=True) == "-3.9 points"
    assert format_points(-0.001, signed=True) == "under 0.5 points"


def test_a_change_is_shown_from_one_rounding():
    before, after, size, shown = rounded_change([0.62449, 0.06], [0.58451, 0.058])
    assert before.tolist() == ["62.4%", "6.0%"]
    assert after.tolist() == ["58.5%", "5.8%"]
    assert size.tolist() == ["3.9 points", "under 0.5 points"]  # 62.4 - 58.5, not 4.0
    assert np.allclose(shown, [0.039, 0.002])


def test_fill_fills_by_name_elementwise_and_in_any_order():
    n = np.array(["1", "2"], dtype=object)
    assert fill("{b} then {a}", a=n, b="x").tolist() == ["x then 1", "x then 2"]
    assert fill("{a}!", a="y") == "y!"


def test_the_catalogue_ships_inside_the_package():
    path = i18n.catalogue_path("vi")
    assert path.is_file() and path.is_relative_to(i18n.LOCALE_DIR)
    assert re.search(r"Plural-Forms: nplurals=1", path.read_text(encoding="utf-8"))


_TIES = [2.675, 0.005, 0.015, 9.995, 2.5, 3.5, 10.5, 0.125, 1.005, -2.675, 1234.565]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from(_TIES),
            st.integers(-50, 5000).map(lambda k: k / 100),  # repeated cents: shared texts
            st.just(float("nan")),
            st.just(float("inf")),
        ),
        max_size=60,
    ),
    st.sampled_from(["USD", "VND", "EUR"]),
    st.sampled_from(["en", "vi"]),
)
def test_format_rounded_gives_what_formatting_each_value_gives(values, currency, lang):
    from babel.numbers import get_currency_precision

    from cjml.i18n import format_rounded
    from cjml.recommend import _amount, _amounts

    finite = [v for v in values if np.isfinite(v)]
    with language(lang):
        each = [format_currency(v, currency) for v in values]
        assert (
            list(
                format_rounded(
                    values, get_currency_precision(currency), lambda v: format_currency(v, currency)
                )
            )
            == each
        )
        assert list(_amounts(finite, currency)) == [format_currency(v, currency) for v in finite]
        assert list(_amounts(finite, None)) == [_amount(v) for v in finite]


def test_format_rounded_formats_each_shown_value_once():
    from cjml.i18n import format_rounded

    calls = []

    def one(v):
        calls.append(v)
        return f"{v:.1f}"

    out = format_rounded([1.04, 1.01, 0.96, 2.0, 2.049, 2.251, 2.25], 1, one)
    assert list(out) == ["1.0", "1.0", "1.0", "2.0", "2.0", "2.3", "2.2"]
    assert len(calls) == 4  # 1.0, 2.0 and 2.3 once each; 2.25, a tie, on its own


@pytest.mark.parametrize(
    "days, text, vi",
    [
        (0.0, "0 seconds", "0 giây"),
        (24 / 86400, "24 seconds", "24 giây"),
        (0.3 / 24, "18 minutes", "18 phút"),
        (59.6 / 1440, "1 hour", "1 giờ"),
        (5.55 / 24, "5.5 hours", "5,5 giờ"),
        (23.7 / 24, "1 day", "1 ngày"),
        (4.5, "4.5 days", "4,5 ngày"),
        (12.34, "12 days", "12 ngày"),
    ],
)
def test_a_time_spent_reads_in_its_own_unit(days, text, vi):
    """Stages of a clickstream last seconds: the journey map said "median 0.0 days"."""
    from cjml.i18n import format_duration

    assert format_duration(days) == text
    assert format_duration(pd.Timedelta(days=days)) == text
    with i18n.language("vi"):
        assert format_duration(days) == vi
    # support times stay in hours up to two days
    assert format_duration(pd.Timedelta(hours=36), hours_until=pd.Timedelta(hours=48)) == "36 hours"


def test_a_cutoff_at_midnight_names_the_last_day_it_holds():
    """Events at or before the cutoff count: a cutoff at midnight closes the day before, and
    "up to Apr 30" read as if Apr 30 were in."""
    from cjml.i18n import format_moment

    assert format_moment("2024-04-30") == "the end of Apr 29, 2024"
    assert format_moment(pd.Timestamp("2024-03-01", tz="UTC")) == "the end of Feb 29, 2024"
    assert format_moment("2024-04-30 09:30") == "Apr 30, 2024, 9:30\u202fAM"
    with i18n.language("vi"):
        assert format_moment("2024-04-30") == "cuối ngày 29 thg 4, 2024"
