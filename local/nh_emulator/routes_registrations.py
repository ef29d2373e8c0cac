"""GET /{hub}/tags/{tag}/registrations: the registrations that carry a tag, an operation that needs Manage.

NH stores each installation as registrations (NH-REST.md §3.8): one native registration and one per template.
Reading registrations by tag is one of the few data-plane operations that need the Manage claim (§1.4), so the
app's Listen+Send rule is refused here with 401 "Manage claim is required for this operation." An app change that
starts to rely on it fails against the emulator as it would fail in Azure.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from local.nh_emulator.auth import authorize_manage
from local.nh_emulator.context import api_version, emulator_of, hub_url
from local.nh_emulator.fanout import Target
from local.nh_emulator.installations import Installation, native_tags, template_tags
from local.nh_emulator.wire import nh_response

__all__ = ["registrations_by_tag"]

_ATOM = "application/atom+xml;type=feed;charset=utf-8"
_CONNECT = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"
# Description element and handle element per platform, as the .NET SDK's data contracts name them.
_DESCRIPTIONS = {
    "apns": ("Apple", "DeviceToken"),
    "fcmv1": ("FcmV1", "FcmV1RegistrationId"),
    "gcm": ("Gcm", "GcmRegistrationId"),
    "wns": ("Windows", "ChannelUri"),
    "mpns": ("Mpns", "ChannelUri"),
    "adm": ("Adm", "AdmRegistrationId"),
    "baidu": ("Baidu", "BaiduChannelId"),
    "browser": ("Browser", "Endpoint"),
    "xiaomi": ("Xiaomi", "XiaomiRegistrationId"),
}


def _registrations(installation: Installation, tag: str) -> Iterator[tuple[Target, list[str]]]:
    platform, channel = installation["platform"], installation["pushChannel"]
    tags = native_tags(installation)
    if tag in tags:
        yield Target(installation, None, platform, channel), tags
    for name in installation.get("templates", {}):
        tags = template_tags(installation, name)
        if tag in tags:
            yield Target(installation, name, platform, channel), tags


def _entry(target: Target, tags: list[str], base: str, updated: str) -> str:
    kind, handle = _DESCRIPTIONS.get(target.platform, (target.platform.capitalize(), "PnsHandle"))
    element = f"{kind}{'Template' if target.template_name else ''}RegistrationDescription"
    template = ""
    if target.template_name is not None and target.installation is not None:
        body = target.installation["templates"][target.template_name]["body"]
        template = (
            f"<BodyTemplate>{escape(body)}</BodyTemplate><TemplateName>{escape(target.template_name)}</TemplateName>"
        )
    description = (
        f'<{element} xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="{_CONNECT}">'
        f"<Tags>{escape(','.join(tags))}</Tags><RegistrationId>{target.registration_id}</RegistrationId>"
        f"<{handle}>{escape(str(target.push_channel))}</{handle}>{template}</{element}>"
    )
    return (
        f"<entry><id>{escape(base)}/registrations/{target.registration_id}</id>"
        f'<title type="text">{target.registration_id}</title><updated>{updated}</updated>'
        f'<content type="application/xml">{description}</content></entry>'
    )


async def registrations_by_tag(request: Request) -> Response:
    """An Atom feed of every registration carrying the tag (an empty feed when none does)."""
    emulator = emulator_of(request)
    authorize_manage(request, emulator.config)
    api_version(request)
    tag = str(request.path_params["tag"])
    base = hub_url(request)
    updated = datetime.fromtimestamp(emulator.config.clock(), UTC).isoformat().replace("+00:00", "Z")
    entries = [
        _entry(target, tags, base, updated)
        for installation in emulator.state.visible_installations()
        for target, tags in _registrations(installation, tag)
    ]
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title type="text">Registrations</title><id>{escape(base)}/tags/{escape(tag)}/registrations</id>'
        f"<updated>{updated}</updated>{''.join(entries)}</feed>"
    )
    return nh_response(request, 200, feed, content_type=_ATOM)
