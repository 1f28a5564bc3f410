"""The language of what people read: message catalogues and locale-aware numbers.

cjml's words for marketers (the app, reasons, drivers, the journey map) are
English in the code and translated through a gettext message catalogue per
language (``cjml/locale/<lang>/LC_MESSAGES/cjml.po``); numbers, percentages,
dates and money are formatted by Babel for the language's locale.

The language is a setting of the process (:func:`set_language`); the app
sets it once at start.

.. note:: Interface first: the catalogue loading is being filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LANGUAGES",
    "current",
    "format_currency",
    "format_date",
    "format_datetime",
    "format_number",
    "format_percent",
    "gettext",
    "ngettext",
    "set_language",
]

#: The languages cjml speaks, and the currency each uses by default.
LANGUAGES: dict[str, str] = {"en": "USD", "vi": "VND"}


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
        raise ValueError(f"language={language!r} is not known; use one of {sorted(LANGUAGES)}.")
    _current = _Setting(language, currency or LANGUAGES[language])


def current() -> _Setting:
    """The language and currency in use."""
    return _current


def gettext(message: str) -> str:
    """``message`` in the current language (English when untranslated)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message for ``n``, in the current language."""
    return singular if n == 1 else plural


def format_number(value, digits: int = 0) -> str:
    """A number in the current locale ("1,234.5"; "1.234,5" in vi)."""
    from babel.numbers import format_decimal

    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=fmt, locale=_current.language)


def format_percent(value, digits: int = 1) -> str:
    """A share as a percentage in the current locale ("62.4%")."""
    from babel.numbers import format_percent as _fp

    fmt = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return _fp(value, format=fmt, locale=_current.language)


def format_currency(value, currency: str | None = None) -> str:
    """Money in the current locale and currency ("$20.00", "20.000 ₫")."""
    from babel.numbers import format_currency as _fc

    return _fc(value, currency or _current.currency, locale=_current.language)


def format_date(value) -> str:
    """A date in the current locale's medium format ("Mar 4, 2024")."""
    import pandas as pd
    from babel.dates import format_date as _fd

    return _fd(pd.Timestamp(value).date(), format="medium", locale=_current.language)


def format_datetime(value) -> str:
    """A moment in the current locale's medium format, to the minute."""
    import pandas as pd
    from babel.dates import format_datetime as _fdt

    ts = pd.Timestamp(value)
    return _fdt(ts.to_pydatetime(), format="short", locale=_current.language)
