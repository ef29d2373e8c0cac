"""NotificationOutcome and NotificationDetails XML in the .NET data-contract element order."""

from __future__ import annotations

from xml.sax.saxutils import escape

from local.nh_emulator.notifications import PLATFORM_FORMATS
from local.nh_emulator.state import NotificationRecord
from local.nh_emulator.wire import iso_time

__all__ = ["notification_details_xml", "notification_outcome_xml"]

_NAMESPACES = (
    'xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" '
    'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
)
# .NET DataContractSerializer needs this order; the last three are not in the .NET contract (JS parses them).
_COUNT_CONTAINERS = (
    ("apns", "ApnsOutcomeCounts"),
    ("mpns", "MpnsOutcomeCounts"),
    ("wns", "WnsOutcomeCounts"),
    ("gcm", "GcmOutcomeCounts"),
    ("adm", "AdmOutcomeCounts"),
    (None, "PnsErrorDetailsUri"),
    ("fcmv1", "FcmV1OutcomeCounts"),
    ("baidu", "BaiduOutcomeCounts"),
    ("browser", "BrowserOutcomeCounts"),
    ("xiaomi", "XiaomiOutcomeCounts"),
)


def notification_outcome_xml(record: NotificationRecord) -> str:
    """The test-send answer: Success, Failure, then one RegistrationResult per registration tried."""
    success = sum(counts.get("Success", 0) for counts in record.outcome_counts.values())
    total = sum(sum(counts.values()) for counts in record.outcome_counts.values())
    lines = [
        f"<NotificationOutcome {_NAMESPACES}>",
        f"<Success>{success}</Success><Failure>{total - success}</Failure>",
    ]
    if not record.results:
        lines.append("<Results />")
    else:
        lines.append("<Results>")
        for result in record.results:
            lines.append(
                "<RegistrationResult>"
                f"<ApplicationPlatform>{escape(result.application_platform)}</ApplicationPlatform>"
                f"<PnsHandle>{escape(result.pns_handle)}</PnsHandle>"
                f"<RegistrationId>{escape(result.registration_id)}</RegistrationId>"
                f"<Outcome>{escape(result.outcome)}</Outcome>"
                "</RegistrationResult>"
            )
        lines.append("</Results>")
    lines.append("</NotificationOutcome>")
    return "".join(lines)


def _counts(container: str, counts: dict[str, int]) -> str:
    outcomes = "".join(
        f"<Outcome><Name>{escape(name)}</Name><Count>{n}</Count></Outcome>" for name, n in counts.items()
    )
    return f"<{container}>{outcomes}</{container}>"


def notification_details_xml(record: NotificationRecord) -> str:
    """Per-message telemetry (GET /{hub}/messages/{id})."""
    parts = [
        f"<NotificationDetails {_NAMESPACES}>",
        f"<NotificationId>{escape(record.notification_id)}</NotificationId>",
    ]
    if record.location:
        parts.append(f"<Location>{escape(record.location)}</Location>")
    parts.append(f"<State>{record.state}</State>")
    parts.append(f"<EnqueueTime>{iso_time(record.enqueue_time)}</EnqueueTime>")
    if record.start_time is not None:
        parts.append(f"<StartTime>{iso_time(record.start_time)}</StartTime>")
    if record.end_time is not None:
        parts.append(f"<EndTime>{iso_time(record.end_time)}</EndTime>")
    parts.append(f"<NotificationBody>{escape(record.body)}</NotificationBody>")
    if record.tag_expression:
        parts.append(f"<Tags>{escape(record.tag_expression)}</Tags>")
    platforms = [PLATFORM_FORMATS.get(p, p) for p in record.outcome_counts] or [record.format]
    parts.append(f"<TargetPlatforms>{escape(','.join(platforms))}</TargetPlatforms>")
    for platform, container in _COUNT_CONTAINERS:
        if platform is not None and platform in record.outcome_counts:
            parts.append(_counts(container, record.outcome_counts[platform]))
    parts.append("</NotificationDetails>")
    return "".join(parts)
