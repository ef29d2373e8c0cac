"""The largest send the OpenAPI document admits renders within every platform's payload limit, so the server's size
check (campaign_content) can never refuse a schema-valid request.

Worst cases are built from the characters that grow most when rendered: a 4-byte UTF-8 character,
``&``/``<``/``"``/``\\`` (XML entities, JSON escapes), U+2028 (3 bytes, blank), a line break (bodies only); deep
links of ``&`` (``&amp;`` in XML attributes) or ``%`` at their full length. A lone surrogate (a 6-byte JSON escape)
is not a valid string to the server (pydantic refuses it), so it cannot reach a payload.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from shared.api.campaign_schemas import NotificationRequest
from shared.domain.campaign_content import campaign_properties, check_content
from shared.domain.campaign_rules import DEEP_LINK_MAX_CHARS
from shared.domain.device_templates import BODY_MAX_CHARS, PAYLOAD_LIMITS, TITLE_MAX_CHARS, templates_for
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.records import Platform
from shared.notification_hubs.expressions import body_format_for
from shared.notification_hubs.rendering import render_template

TEXT_CHARS = ["\U0001f600", "&", "<", '"', "\\", "\u2028", "x"]
BODY_ONLY_CHARS = ["\n"]
LINK_CHARS = ["&", "%", "'", "a"]
LONGEST_ID = "c" + "f" * 32


def text(char: str, length: int) -> str:
    return "x" + char * (length - 1)  # one character that is not blank, as the document requires


def request(title_char: str, body_char: str, link_char: str, *, silent: bool) -> dict[str, Any]:
    link = "https://" + link_char * (DEEP_LINK_MAX_CHARS - len("https://"))
    return {
        "audience": "topic:hr",
        "title": {language: text(title_char, TITLE_MAX_CHARS) for language in SUPPORTED_LANGUAGES},
        "body": {language: text(body_char, BODY_MAX_CHARS) for language in SUPPORTED_LANGUAGES},
        "deepLink": link,
        "silent": silent,
    }


def rendered_sizes(model: NotificationRequest) -> dict[Platform, int]:
    content = model.to_command(None).content
    properties = campaign_properties(LONGEST_ID, content)
    sizes: dict[Platform, int] = {}
    for platform, language in itertools.product(Platform, SUPPORTED_LANGUAGES):
        template = templates_for(platform, language)[content.template]
        payload = render_template(template.body, body_format_for(platform.value), properties)
        sizes[platform] = max(sizes.get(platform, 0), len(payload.encode("utf-8")))
    return sizes


@pytest.mark.parametrize("silent", [False, True])
def test_the_largest_schema_valid_send_renders_within_every_platform_limit(silent: bool):
    largest: dict[Platform, int] = {}
    for title_char, body_char, link_char in itertools.product(TEXT_CHARS, TEXT_CHARS + BODY_ONLY_CHARS, LINK_CHARS):
        model = NotificationRequest.model_validate(request(title_char, body_char, link_char, silent=silent))
        check_content(model.to_command(None).content)  # the server's own check finds nothing to refuse
        for platform, size in rendered_sizes(model).items():
            largest[platform] = max(largest.get(platform, 0), size)
    over = {p.value: (size, PAYLOAD_LIMITS[p]) for p, size in largest.items() if size > PAYLOAD_LIMITS[p]}
    assert over == {}, over
    # The worst case really is near the limits' scale (a wrong template or lookup would render almost nothing).
    assert all(size > 2000 for size in largest.values()), largest


def test_four_byte_characters_render_at_four_bytes_each():
    model = NotificationRequest.model_validate(request("\U0001f600", "\U0001f600", "&", silent=False))
    ascii_model = NotificationRequest.model_validate(request("x", "x", "&", silent=False))
    grown = rendered_sizes(model)[Platform.APNS] - rendered_sizes(ascii_model)[Platform.APNS]
    assert grown == 3 * (TITLE_MAX_CHARS - 1 + BODY_MAX_CHARS - 1)


def test_a_lone_surrogate_is_refused():
    with pytest.raises(ValueError, match="unicode"):
        NotificationRequest.model_validate(request("\ud800", "x", "a", silent=False))
