"""Small HTTP helpers so end-to-end tests read like the walkthrough: register, publish, look at the phones."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

WNS = "https://db5p.notify.windows.com/?token=AwYAAAB"


def fcm_token() -> str:
    return "fcm_" + uuid.uuid4().hex + "A" * 20


@dataclass
class People:
    """Three users with one device each: German iPhone, Spanish Android, English Windows."""

    alice: str
    bob: str
    carol: str

    @property
    def devices(self) -> dict[str, str]:
        return {self.alice: f"{self.alice}-iphone", self.bob: f"{self.bob}-pixel", self.carol: f"{self.carol}-surface"}


@dataclass
class ApiClient:
    api: str
    emulator: str
    http: httpx.Client

    def register(self, user: str, installation_id: str, **body: Any) -> httpx.Response:
        return self.http.put(f"{self.api}/installations/{installation_id}", headers={"X-Dev-User": user}, json=body)

    def set_preferences(self, user: str, **body: Any) -> httpx.Response:
        return self.http.put(f"{self.api}/me/preferences", headers={"X-Dev-User": user}, json=body)

    def publish(self, event: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            f"{self.api}/events",
            headers={
                "X-Dev-User": "erp",
                "X-Dev-Roles": "lob.publisher",
                "Content-Type": "application/cloudevents+json",
            },
            content=json.dumps(event),
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.api}/deadletters", headers={"X-Dev-User": "ops", "X-Dev-Roles": "push.admin"})
        response.raise_for_status()
        return list(response.json()["items"])

    def deliveries(self) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.emulator}_emulator/deliveries")
        response.raise_for_status()
        return list(response.json())

    def inbox(self, installation_id: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.emulator}_emulator/inbox/{installation_id}")
        response.raise_for_status()
        return list(response.json())

    def faults(self, spec: dict[str, Any] | None) -> None:
        url = f"{self.emulator}_emulator/faults"
        response = self.http.post(url, json=spec) if spec else self.http.delete(url)
        response.raise_for_status()


def event(event_type: str, source: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "datacontenttype": "application/json",
        "data": data,
    }


def payload_text(delivery: dict[str, Any]) -> str:
    return json.dumps(delivery["payload"], ensure_ascii=False)
