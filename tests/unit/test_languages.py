"""resolve_language: BCP 47 tags onto the supported languages."""

from __future__ import annotations

import pytest

from shared.domain.errors import ValidationError
from shared.domain.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, resolve_language


class TestResolveLanguage:
    @pytest.mark.parametrize(
        ("tag", "expected"),
        [
            ("de", "de"),
            ("de-AT", "de"),
            ("DE-at", "de"),
            ("de_CH", "de"),
            ("es-419", "es"),
            ("es-MX", "es"),
            ("en-GB", "en"),
            ("de-DE-u-co-phonebk", "de"),
            ("es-Latn-ES-x-private", "es"),
            (" es ", "es"),
        ],
    )
    def test_maps_regional_tags_to_their_supported_language(self, tag, expected):
        assert resolve_language(tag) == expected

    @pytest.mark.parametrize("tag", ["fr", "fr-CA", "zh-Hant-TW", "qaa", "x-klingon", "iw"])
    def test_falls_back_to_the_default_when_the_language_is_not_supported(self, tag):
        assert resolve_language(tag) == DEFAULT_LANGUAGE

    @pytest.mark.parametrize("tag", [None, "", "   "])
    def test_gives_the_default_when_no_tag_is_sent(self, tag):
        assert resolve_language(tag) == DEFAULT_LANGUAGE

    @pytest.mark.parametrize("tag", ["!!", "d", "de--AT", "de-", "123", "de AT", "ü", "a" * 9, "de-" + "x" * 70])
    def test_raises_validation_error_when_the_tag_is_not_bcp47(self, tag):
        with pytest.raises(ValidationError) as info:
            resolve_language(tag, field="device/language")
        assert info.value.errors[0].location == "device/language"

    def test_supported_languages_include_the_default(self):
        assert DEFAULT_LANGUAGE in SUPPORTED_LANGUAGES
        assert SUPPORTED_LANGUAGES == ("en", "de", "es")
