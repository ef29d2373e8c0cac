"""A campaign's text as a template send, and the checks it passes before anything is sent.

Checked up front, so that an operator hears of a problem at ``POST`` time and not from half-sent waves: the
languages (supported ones only; the default language present), the text lengths the device templates show without
clipping, no template placeholders in the text (NH fills them in templates, never in property values), every
property the device templates use being supplied, and the rendered payload of every platform fitting its PNS limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.domain.campaigns import CampaignContent
from shared.domain.device_templates import (
    BODY_MAX_CHARS,
    PAYLOAD_LIMITS,
    TITLE_MAX_CHARS,
    collapse_id,
    templates_for,
)
from shared.domain.errors import FieldError, ValidationError
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.records import Platform
from shared.domain.secure_payload import neutral_properties
from shared.notification_hubs.expressions import body_format_for
from shared.notification_hubs.rendering import render_template

__all__ = ["CAMPAIGN_CATEGORY", "CAMPAIGN_EVENT_TYPE", "campaign_properties", "check_content"]

CAMPAIGN_EVENT_TYPE = "campaign"
CAMPAIGN_CATEGORY = "campaign"
_REFERENCE = re.compile(r"[$.%#]\(\s*([A-Za-z0-9_]+)")
_PLACEHOLDER = re.compile(r"[$.%#]\([A-Za-z0-9_ ,]*\)")
# The longest campaign id the app makes ("c" + 32 hex), so that the size check covers every real send.
_LONGEST_ID = "c" + "f" * 32


def campaign_properties(campaign_id: str, content: CampaignContent) -> dict[str, str]:
    """The template-send properties: text in every supported language (fallbacks filled in), id, link, category.

    A sensitive campaign sends the neutral text and the inbox link instead (``shared.domain.secure_payload``).
    """
    if content.sensitive:
        return neutral_properties(campaign_id)
    properties: dict[str, str] = {}
    for language in SUPPORTED_LANGUAGES:
        properties[f"title_{language}"] = content.title(language)
        properties[f"body_{language}"] = content.body(language)
    properties.update(
        eventId=campaign_id,
        notificationId="",  # a campaign keeps no inbox entry unless it is sensitive (neutral_properties)
        collapseId=collapse_id(campaign_id),
        eventType=CAMPAIGN_EVENT_TYPE,
        deepLink=content.deep_link or "",
        category=CAMPAIGN_CATEGORY,
    )
    return properties


def check_content(content: CampaignContent) -> None:
    """Raises ValidationError listing every problem of the text, its languages and the payloads it renders to."""
    errors = list(_text_problems(content))
    if not errors:
        errors = list(_payload_problems(content))
    if errors:
        raise ValidationError("the notification cannot be sent as it is", errors)


def _text_problems(content: CampaignContent) -> Iterator[FieldError]:
    if content.default_language not in SUPPORTED_LANGUAGES:
        yield FieldError("/defaultLanguage", f"expected one of {', '.join(SUPPORTED_LANGUAGES)}")
    for field, texts, limit in (("title", content.titles, TITLE_MAX_CHARS), ("body", content.bodies, BODY_MAX_CHARS)):
        if content.default_language not in texts:
            yield FieldError(f"/{field}", f"needs a text in the default language {content.default_language!r}")
        for language, text in texts.items():
            where = f"/{field}/{language}"
            if language not in SUPPORTED_LANGUAGES:
                yield FieldError(where, f"{language!r} is not a supported language ({', '.join(SUPPORTED_LANGUAGES)})")
            elif not text.strip():
                yield FieldError(where, "must not be blank")
            elif len(text) > limit:
                yield FieldError(where, f"at most {limit} characters (devices would clip it), this one has {len(text)}")
            elif _PLACEHOLDER.search(text):
                yield FieldError(where, "placeholders such as $(name) are not filled in a campaign's text")


def _payload_problems(content: CampaignContent) -> Iterator[FieldError]:
    properties = campaign_properties(_LONGEST_ID, content)
    for platform in Platform:
        for language in SUPPORTED_LANGUAGES:
            template = templates_for(platform, language)[content.template]
            missing = sorted(set(_REFERENCE.findall(template.body)) - set(properties))
            if missing:
                yield FieldError("/", f"the {platform.value} template needs {', '.join(missing)}, which is not sent")
                continue
            payload = render_template(template.body, body_format_for(platform.value), properties)
            size, limit = len(payload.encode("utf-8")), PAYLOAD_LIMITS[platform]
            if size > limit:
                yield FieldError("/", f"the {platform.value} payload in {language!r} has {size} bytes; limit {limit}")
