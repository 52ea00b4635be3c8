"""What ``/control/status`` shows about a cloud engine: where it points, never the key."""

from __future__ import annotations

from typing import Any

from plugins.fallback_cloud.settings import CloudSettings


def cloud_info(settings: CloudSettings) -> dict[str, Any]:
    return {
        "base_url": settings.base_url,
        "model": settings.model,
        "api_key_env": settings.api_key_env,
    }
