"""The language of what people read: message catalogues and locale-aware numbers.

cjml's words for marketers (the app, reasons, drivers, the journey map) are
English in the code and translated through a gettext message catalogue per
language (``cjml/locale/<lang>/LC_MESSAGES/cjml.po``, compiled in memory by
Babel when first needed); numbers, percentages, dates and money are formatted
by Babel for the language's locale.

The language is a setting of the process (:func:`set_language`, or
:func:`language` for a block of code); the app sets it once at start.

One rounding rule for probabilities and risk differences lives here
(:func:`format_probability`, :func:`format_points` and their vectorised
forms), so the panel, the reasons and the exports round alike.

Maintainers: ``python -m cjml.i18n update`` extracts every message of the
package and merges new ones into the catalogues (see CONTRIBUTING.md).
"""

from __future__ import annotations

import contextlib
import functools
import io
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LANGUAGES",
    "NP_",
    "N_",
    "current",
    "fill",
    "format_currency",
    "format_date",
    "format_datetime",
    "format_days",
    "format_duration",
    "format_moment",
    "format_number",
    "format_percent",
    "format_points",
    "format_threshold_points",
    "format_probabilities",
    "format_probability",
    "format_tenths",
    "gettext",
    "label_text",
    "language",
    "ngettext",
    "number_symbols",
    "rounded_change",
    "set_language",
]

#: The languages cjml speaks, and the currency each uses by default.
LANGUAGES: dict[str, str] = {"en": "USD", "vi": "VND"}

#: Where the catalogues live: ``<lang>/LC_MESSAGES/cjml.po``.
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "cjml"
#: The function names whose string arguments are messages (for the extractor).
KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "NP_": (1, 2),
}


@dataclass(frozen=True)
class _Setting:
    language: str = "en"
    currency: str = "USD"


_current = _Setting()


def set_language(language: str = "en", *, currency: str | None = None) -> None:
    """Speak ``language`` ("en" or "vi") from now on, with ``currency`` for money.

    Parameters
    ----------
    language : {"en", "vi"}
        The language of messages and the locale of numbers and dates.
    currency : str, optional
        ISO 4217 code; default the language's (USD for en, VND for vi).
    """
    global _current
    if language not in LANGUAGES:
        raise ValueError(
            f"language={language!r} is not known; use one of {sorted(LANGUAGES)} (--lang)."
        )
    if currency is not None:
        from babel.numbers import get_currency_name

        code = str(currency).upper()
        if get_currency_name(code, locale="en") == code:  # Babel knows no such currency
            raise ValueError(
                f"currency={currency!r} is not an ISO 4217 currency code; use e.g. USD, EUR "
                "or VND (--currency)."
            )
        currency = code
    _current = _Setting(language, currency or LANGUAGES[language])


@contextlib.contextmanager
def language(lang: str, currency: str | None = None) -> Iterator[_Setting]:
    """Speak ``lang`` inside a ``with`` block, then return to the previous setting.

    Parameters
    ----------
    lang : {"en", "vi"}
        The language inside the block.
    currency : str, optional
        ISO 4217 code; default the language's.

    Examples
    --------
    >>> from cjml.i18n import format_percent, language
    >>> with language("vi"):
    ...     format_percent(0.624)
    '62,4%'
    """
    global _current
    before = _current
    set_language(lang, currency=currency)
    try:
        yield _current
    finally:
        _current = before


def current() -> _Setting:
    """The language and currency in use."""
    return _current


# ------------------------------------------------------------------ catalogues
def catalogue_path(lang: str) -> Path:
    """The ``.po`` file of ``lang`` (it may not exist: English needs none)."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def _translations(lang: str):
    """The compiled catalogue of ``lang`` (compiled in memory; only the .po is kept)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    path = catalogue_path(lang)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)  # fuzzy entries are left out: they are not translations yet
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def gettext(message: str) -> str:
    """``message`` in the current language (English when untranslated)."""
    return _translations(_current.language).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message for ``n``, in the current language."""
    return _translations(_current.language).ngettext(singular, plural, int(n))


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (module constants).

    The text is translated where it is shown, with :func:`gettext`.
    """
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular and plural message for the catalogue; :func:`ngettext` picks later."""
    return singular, plural


def label_text(name, *, lower: bool = False) -> str:
    """A stage, touchpoint, channel or band name as a person reads it, translated.

    ``"live_chat"`` reads "Live chat" (in the current language when the
    catalogue has the name: the default journey map's names are in it);
    a missing name reads as an en dash.

    Parameters
    ----------
    name : str or None
    lower : bool, default False
        For the inside of a sentence: lower case first letter ("live chat"),
        unless the name starts with an acronym ("NPS").

    Returns
    -------
    str
    """
    if name is None or (not isinstance(name, str) and name != name):
        return "\u2013"
    text = str(name).replace("_", " ").strip()
    if not text:
        return "\u2013"
    text = text[:1].upper() + text[1:]
    text = gettext(text) if text in _NAMES else text
    if lower and not text[:2].isupper():
        text = text[:1].lower() + text[1:]
    return text


#: The default journey map's names (stages, touchpoints, channels, risk bands),
#: in the catalogue so that :func:`label_text` translates them.
_NAMES = frozenset(
    (
        N_("Awareness"),
        N_("Consideration"),
        N_("Conversion"),
        N_("Retention"),
        N_("Loyalty"),
        N_("Dropped"),
        N_("Paid ad"),
        N_("Online review"),
        N_("Website visit"),
        N_("Store visit"),
        N_("Purchase"),
        N_("Support ticket"),
        N_("Ticket resolved"),
        N_("Email"),
        N_("Live chat"),
        N_("Free trial"),
        N_("Consultation"),
        N_("Follow up call"),
        N_("Renewal reminder"),
        N_("Personalised offer"),
        N_("Loyalty reward"),
        N_("Referral invite"),
        N_("Online"),
        N_("Offline"),
        N_("Low"),
        N_("Medium"),
        N_("High"),
        N_("Very high"),
        N_("Other"),
        N_("Segment"),  # the sample's attribute column
    )
)


def fill(template: str, **values: Any) -> Any:
    """``template``'s ``{named}`` placeholders filled, elementwise when values are arrays.

    Like ``template.format(**values)``, but a value may be an array (one per
    row): the result is then an object array. Translations may reorder the
    placeholders; each is filled by name.

    Parameters
    ----------
    template : str
        A translated message with named placeholders.
    **values : str, number or array
        The placeholders' values (already formatted for people).

    Returns
    -------
    str or ndarray of object

    Examples
    --------
    >>> import numpy as np
    >>> fill("{n} customers in {stage}", n=np.array(["1", "2"], dtype=object), stage="trial")
    array(['1 customers in trial', '2 customers in trial'], dtype=object)
    """
    arrays = [v for v in values.values() if isinstance(v, np.ndarray)]
    if not arrays:
        return template.format(**values)
    out: Any = np.full(len(arrays[0]), "", dtype=object)  # an array even if no field uses one
    for literal, field, spec, conv in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if field is None:
            continue
        value = values[field]
        if isinstance(value, np.ndarray):
            value = value.astype(object) if value.dtype != object else value
        else:
            value = format(value, spec or "") if conv is None else str(value)
        out = out + value
    return out


# ------------------------------------------------------------------ numbers
def format_number(value, digits: int = 0) -> str:
    """A number in the current locale ("1,234.5"; "1.234,5" in vi)."""
    from babel.numbers import format_decimal

    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=fmt, locale=_current.language)


def format_threshold_points(d: float) -> str:
    """A threshold on a risk difference, as exact as it was set: "0.05 points", "0.5 points".

    :func:`format_points` words sizes below half a point "under 0.5 points",
    which suits an estimate but not a floor the user chose ("by more than under
    0.5 points"); a threshold keeps up to two decimals of a point.
    """
    from babel.numbers import format_decimal

    text = format_decimal(round(100 * float(d), 2), format="#,##0.##", locale=_current.language)
    return gettext("{points} points").format(points=text)


def format_rounded(values, places, format_one: Callable[[float], str]) -> np.ndarray:
    """``format_one`` of each value, called once per distinct rounded value.

    Formatting is a call into Babel per number (tens of microseconds); a
    million customers' amounts and counts share far fewer shown values. Values
    that round alike (to ``places`` decimals, half to even) give the same text,
    so one of them is formatted for all. Values within a millionth of a
    rounding tie, and NaN or infinite ones, are each formatted on their own:
    there the exact binary value decides, as it does for ``format_one``.

    Parameters
    ----------
    values : array-like of float
    places : int or array-like of int
        Decimals ``format_one`` rounds each value to (one per value, or one for all).
    format_one : callable
        float -> str, e.g. ``lambda v: format_currency(v, "USD")``.

    Returns
    -------
    ndarray of object
        ``format_one(v)`` for each value, in order.
    """
    values = np.asarray(values, dtype=float).ravel()
    places = np.broadcast_to(np.asarray(places, dtype=np.int64), values.shape)
    out = np.empty(len(values), dtype=object)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * 10.0**places
        alone = ~(np.abs(scaled - np.floor(scaled) - 0.5) > 1e-6)
    for i in np.flatnonzero(alone):
        out[i] = format_one(float(values[i]))
    rest = np.flatnonzero(~alone)
    if len(rest):
        # the sign too: -0.001 rounds to zero, and Babel writes "-0.00" for it
        keys = np.column_stack([np.round(scaled[rest]), places[rest], np.signbit(values[rest])])
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        texts = np.asarray([format_one(float(v)) for v in values[rest[first]]], dtype=object)
        out[rest] = texts[inverse.ravel()]
    return out


def format_percent(value, digits: int = 1) -> str:
    """A share as a percentage in the current locale ("62.4%")."""
    from babel.numbers import format_percent as _fp

    fmt = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return _fp(value, format=fmt, locale=_current.language)


def format_currency(value, currency: str | None = None, *, whole: bool = False) -> str:
    """Money in the current locale and currency ("$20.00", "20.000 ₫").

    ``whole=True`` rounds to whole units ("$120"), for forecasts such as a
    customer's expected value, whose cents would claim a precision they lack.
    """
    from babel import Locale
    from babel.numbers import format_currency as _fc

    code = currency or _current.currency
    if not whole:
        return _fc(value, code, locale=_current.language)
    # the locale's own pattern without decimals: the symbol stays where the locale puts it
    pattern = Locale.parse(_current.language).currency_formats["standard"].pattern
    rounded = float(round(float(value))) + 0.0  # + 0.0: never "-$0"
    return _fc(
        rounded,
        code,
        format=pattern.split(";")[0].replace(".00", ""),
        currency_digits=False,
        locale=_current.language,
    )


def format_date(value) -> str:
    """A date in the current locale's medium format ("Mar 4, 2024")."""
    import pandas as pd
    from babel.dates import format_date as _fd

    return _fd(pd.Timestamp(value).date(), format="medium", locale=_current.language)


def format_datetime(value) -> str:
    """A moment in the current locale's short format, to the minute."""
    import pandas as pd
    from babel.dates import format_datetime as _fdt

    ts = pd.Timestamp(value)
    return _fdt(ts.to_pydatetime(), format="short", locale=_current.language)


def format_days(delta) -> str:
    """A duration in whole or tenths of days, as a person reads it ("12 days", "7.5 days").

    Parameters
    ----------
    delta : Timedelta or str
        The duration.

    Returns
    -------
    str
    """
    import pandas as pd

    days = pd.Timedelta(delta) / pd.Timedelta(days=1)
    whole = float(days).is_integer()
    text = format_number(days, 0 if whole else 1)
    return ngettext("{n} day", "{n} days", int(days) if whole else 2).format(n=text)


def format_duration(delta, hours_until=None) -> str:
    """A time spent, in the unit a person reads it in: seconds under a minute, minutes
    under an hour, hours under ``hours_until``, else days ("40 seconds", "12 minutes",
    "5.5 hours", "7.5 days").

    Clickstreams spend seconds or minutes in a stage: "0.0 days" said nothing there. Hours and
    days keep one decimal under ten and are whole from there (9.96 reads "10").

    Parameters
    ----------
    delta : Timedelta, str or float
        The duration (a float is days).
    hours_until : Timedelta, optional
        From this long, days; default one day (support times use two).

    Returns
    -------
    str
    """
    import pandas as pd

    if not isinstance(delta, pd.Timedelta | str):
        delta = pd.Timedelta(days=float(delta))
    delta = pd.Timedelta(delta)
    limit = pd.Timedelta(days=1) if hours_until is None else pd.Timedelta(hours_until)
    hours = delta / pd.Timedelta(hours=1)
    if round(hours) >= limit / pd.Timedelta(hours=1):
        n, digits = _one_decimal_under_ten(hours / 24)
        return ngettext("{n} day", "{n} days", 1 if n == 1 else 2).format(
            n=format_number(n, digits)
        )
    seconds = round(delta / pd.Timedelta(seconds=1))
    if seconds < 60:
        return ngettext("{n} second", "{n} seconds", seconds).format(n=format_number(seconds))
    minutes = round(delta / pd.Timedelta(minutes=1))
    if minutes < 60:
        return ngettext("{n} minute", "{n} minutes", minutes).format(n=format_number(minutes))
    n, digits = _one_decimal_under_ten(hours)
    return ngettext("{n} hour", "{n} hours", 1 if n == 1 else 2).format(n=format_number(n, digits))


def _one_decimal_under_ten(value: float) -> tuple[float, int]:
    """``value`` with one decimal under ten, whole from there (9.96 reads "10")."""
    one = round(value, 1)
    if one >= 10 or one.is_integer():
        return float(round(value)), 0
    return one, 1


def format_moment(value) -> str:
    """A cutoff: the day it ends at midnight ("the end of Mar 3, 2024"), else the date and
    the minute ("Mar 4, 2024, 12:00 PM").

    A cutoff counts the events at or before it, so one at midnight closes the day before:
    "up to Mar 4" would read as if that day were in.

    Parameters
    ----------
    value : Timestamp or str
        The moment.

    Returns
    -------
    str
    """
    import pandas as pd
    from babel.dates import format_time, get_datetime_format

    ts = pd.Timestamp(value)
    if ts != ts.normalize():  # the date as format_date writes it, and the minute
        time = format_time(ts.to_pydatetime(), format="short", locale=_current.language)
        return str(get_datetime_format("medium", locale=_current.language)).format(
            time, format_date(ts)
        )
    return gettext("the end of {date}").format(date=format_date(ts - pd.Timedelta(days=1)))


@functools.cache
def number_symbols(lang: str) -> tuple[str, str, str]:
    """The locale's decimal and group symbols and its percent pattern ("{}%")."""
    from babel.numbers import format_percent as _fp
    from babel.numbers import get_decimal_symbol, get_group_symbol

    pattern = _fp(0.5, format="#,##0%", locale=lang).replace("50", "{}", 1)
    return get_decimal_symbol(lang), get_group_symbol(lang), pattern


def _tenths_text(tenths: np.ndarray) -> np.ndarray:
    """Integers counting tenths as one-decimal numbers of the locale ("62.4"; "62,4")."""
    decimal, group, _ = number_symbols(_current.language)
    tenths = np.asarray(tenths, dtype=np.int64)
    sign = np.where(tenths < 0, "-", "")
    a = np.abs(tenths)
    whole = a // 10
    out = sign.astype(object) + whole.astype(str).astype(object) + decimal + (a % 10).astype(str)
    for i in np.flatnonzero(whole >= 1000):  # thousands: rare for shares and points
        out[i] = sign[i] + f"{int(whole[i]):,}".replace(",", group) + decimal + str(a[i] % 10)
    return out


def format_tenths(values) -> np.ndarray:
    """Numbers (e.g. points) with one decimal in the current locale, keeping the sign."""
    return _tenths_text(np.round(np.nan_to_num(np.asarray(values, dtype=float)) * 10))


def format_probabilities(p) -> np.ndarray:
    """Probabilities as percentages with one decimal, by the one rounding rule.

    Never "100%" or "0%" for a probability that is not exactly 1 or 0: those
    read ">99.9%" and "<0.1%". Missing values read as an en dash.

    Parameters
    ----------
    p : array-like of float
        Probabilities.

    Returns
    -------
    ndarray of object
    """
    p = np.asarray(p, dtype=float)
    pattern = number_symbols(_current.language)[2]
    tenths = np.round(np.nan_to_num(p) * 1000).astype(np.int64)
    a, b = pattern.split("{}")
    out = a + _tenths_text(tenths) + b
    high = (p > 0.999) & (p < 1)
    low = (p > 0) & (p < 0.0005)
    if high.any():
        out[high] = ">" + a + _tenths_text(np.array([999]))[0] + b
    if low.any():
        out[low] = "<" + a + _tenths_text(np.array([1]))[0] + b
    out[np.isnan(p)] = "\u2013"
    return out


def format_probability(p) -> str:
    """One probability by the rule of :func:`format_probabilities` ("62.4%", ">99.9%")."""
    if p is None:
        return "\u2013"
    return str(format_probabilities(np.array([p], dtype=float))[0])


#: A risk difference smaller than this (half a point) reads "under 0.5 points".
SMALL_POINTS = 0.005


def format_points(d, *, signed: bool = False) -> Any:
    """Risk differences in percentage points: "3.9 points", "under 0.5 points".

    Parameters
    ----------
    d : float or array-like of float
        Differences of probabilities (0.039 is 3.9 points).
    signed : bool, default False
        Keep the sign of negative differences ("-3.9 points"); otherwise the
        size is worded and the sentence around it says up or down.

    Returns
    -------
    str or ndarray of object
        One decimal; "under 0.5 points" when the size is below half a
        point; an en dash when missing.
    """
    scalar = np.ndim(d) == 0
    v = np.atleast_1d(np.asarray(d, dtype=float))
    tenths = np.round(np.nan_to_num(v) * 1000).astype(np.int64)
    small = np.abs(np.nan_to_num(v)) < SMALL_POINTS  # the size itself, before rounding
    shown = np.where(signed, tenths, np.abs(tenths))
    out = fill(gettext("{points} points"), points=_tenths_text(shown))
    out[small] = gettext("under 0.5 points")
    out[np.isnan(v)] = "\u2013"
    return str(out[0]) if scalar else out


def rounded_change(before, after) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A change of probability as shown: both sides and the points from the same rounding.

    "from 62.4% to 58.5% (3.9 points)": the points are the difference of the
    rounded percentages, so the three numbers agree.

    Parameters
    ----------
    before, after : array-like of float
        Probabilities.

    Returns
    -------
    before_text, after_text : ndarray of object
        By :func:`format_probabilities`.
    points_text : ndarray of object
        The size of the shown difference by :func:`format_points` ("under
        0.5 points" when it rounds below half a point).
    shown : ndarray of float
        The shown difference ``before - after`` (0.039 for 3.9 points): its
        sign says down or up, ``abs(shown) < SMALL_POINTS`` says "under 0.5".
    """
    before = np.asarray(before, dtype=float)
    after = np.asarray(after, dtype=float)
    shown = (np.round(np.nan_to_num(before) * 1000) - np.round(np.nan_to_num(after) * 1000)) / 1000
    return (
        format_probabilities(before),
        format_probabilities(after),
        format_points(np.abs(shown)),
        shown,
    )


# ------------------------------------------------------------------ maintenance
def _extract() -> Any:
    """Every message of the package, as a Babel catalogue (the template)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).parent
    template = Catalog(domain=DOMAIN, project="cjml")

    def visit(folder: str) -> bool:  # Babel's default skips "_private" folders: cjml has many
        name = Path(folder).name
        return not name.startswith(".") and name != "__pycache__"

    for filename, lineno, message, comments, _context in extract_from_dir(
        str(root),
        method_map=[("**.py", "cjml.i18n:_messages_in")],
        keywords=KEYWORDS,
        directory_filter=visit,
    ):
        template.add(message, None, [(f"cjml/{filename}", lineno)], auto_comments=comments)
    return template


def _messages_in(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extraction method: the message calls of a Python file, from its syntax tree.

    Babel's own Python extractor reads tokens, and before Python 3.12 an f-string is one
    token: a message inside a replacement field (``f"<h4>{_esc(_('Overview'))}</h4>"``)
    was never extracted, so never translated. The syntax tree has every call.
    """
    import ast

    tree = ast.parse(fileobj.read().decode(options.get("encoding") or "utf-8"))
    found: list[tuple] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in keywords:
            continue
        args = [
            a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
            for a in node.args
        ]
        found.append((node.lineno, name, args[0] if len(args) == 1 else tuple(args), []))
    found.sort(key=lambda x: x[0])
    yield from found


def untranslated(catalog) -> list:
    """The messages of a Babel catalogue without a (non-fuzzy, non-empty) translation."""
    out = []
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy or not all(strings):
            out.append(m)
    return out


def update_catalogues(languages=None) -> dict[str, int]:
    """Re-extract the messages and merge them into each catalogue (new ones untranslated).

    Parameters
    ----------
    languages : iterable of str, optional
        Default every language but English (the source language).

    Returns
    -------
    dict
        Language to the number of messages still without a translation.
    """
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    template = _extract()
    left: dict[str, int] = {}
    for lang in languages or [x for x in LANGUAGES if x != "en"]:
        path = catalogue_path(lang)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=lang, domain=DOMAIN)
        else:
            catalog = Catalog(locale=lang, domain=DOMAIN, project="cjml")
        # the header's date stays put: an update that adds nothing changes nothing
        template.creation_date = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False  # the header: its fields are filled below
        catalog.header_comment = (
            f"# {lang} translations of cjml's messages.\n"
            "# Update with `python -m cjml.i18n update`, then fill the empty msgstr "
            "(see CONTRIBUTING.md)."
        )
        catalog.project, catalog.version = "cjml", ""
        catalog.copyright_holder = "the cjml authors"
        catalog.msgid_bugs_address = ""
        catalog.last_translator = "cjml maintainers"
        catalog.language_team = f"{lang}"
        catalog.obsolete.clear()  # messages no code uses are dropped, not kept as #~
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            # file names without line numbers, messages in msgid order: a code edit elsewhere
            # does not touch the catalogue, and branches merge it without conflicts
            write_po(fh, catalog, width=100, sort_output=True, include_lineno=False)
        left[lang] = len(untranslated(catalog))
        _translations.cache_clear()
    return left


def _main(argv: list[str]) -> int:
    if argv[:1] != ["update"]:
        print("usage: python -m cjml.i18n update   (re-extract messages into cjml/locale/*.po)")
        return 2
    for lang, n in update_catalogues(argv[1:] or None).items():
        print(f"{catalogue_path(lang)}: {n} message(s) to translate")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
