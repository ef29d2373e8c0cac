"""The languages notifications are written in, and how a client's BCP 47 tag maps onto one of them."""

from __future__ import annotations

import re

from babel import Locale, UnknownLocaleError

from shared.domain.errors import FieldError, ValidationError

__all__ = ["DEFAULT_LANGUAGE", "SUPPORTED_LANGUAGES", "resolve_language"]

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "de", "es")
DEFAULT_LANGUAGE = "en"

MAX_TAG_LENGTH = 64  # well above any real tag; bounds what we parse and echo back in errors

# RFC 5646 "langtag" and "privateuse" productions (the irregular grandfathered tags are not accepted).
_LANGUAGE = r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"
_LANGTAG = (
    rf"{_LANGUAGE}"
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*"  # extensions
    r"(?:-x(?:-[a-z0-9]{1,8})+)?"  # private use
)
_BCP47 = re.compile(rf"(?:{_LANGTAG}|x(?:-[a-z0-9]{{1,8}})+)", re.IGNORECASE | re.ASCII)


def resolve_language(tag: str | None, *, field: str = "language") -> str:
    """Map a BCP 47 tag to a supported language: its primary language if supported, else ``DEFAULT_LANGUAGE``.

    ``None`` or an empty tag gives the default. ``_`` is accepted as a separator (Android/Java locales send
    ``de_AT``). A well-formed tag for a language we do not write in (``fr``, ``qaa``, ``x-klingon``) is not an
    error: it falls back to the default, so a new device language never blocks registration. Only a tag that
    is not BCP 47 at all raises ``ValidationError`` (naming ``field``), because that is a client bug.
    """
    if tag is None or not tag.strip():
        return DEFAULT_LANGUAGE
    text = tag.strip().replace("_", "-")
    if len(text) > MAX_TAG_LENGTH or not _BCP47.fullmatch(text):
        shown = text if len(text) <= MAX_TAG_LENGTH else text[:MAX_TAG_LENGTH] + "..."
        raise ValidationError(
            f"{shown!r} is not a BCP 47 language tag",
            [FieldError(field, "expected a BCP 47 language tag such as 'en', 'de-AT' or 'es-419'")],
        )
    try:
        # Babel knows the deprecated aliases (iw -> he, no -> nb) and scripts; it does not parse extensions.
        language = Locale.parse(text, sep="-").language
    except (ValueError, UnknownLocaleError):
        language = text.split("-", 1)[0]
    language = language.lower()
    return language if language in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE
