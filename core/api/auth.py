"""API keys for the data plane and the loopback/token guard for /control."""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass

from core.config.schema import AuthConfig


@dataclass(frozen=True)
class Credentials:
    api_keys: tuple[bytes, ...]
    control_token: bytes | None

    @classmethod
    def from_environment(cls, auth: AuthConfig) -> Credentials:
        """Secrets come only from the environment variables the YAML names."""
        raw = os.environ.get(auth.api_keys_env, "")
        keys = tuple(k.strip().encode() for k in raw.split(",") if k.strip())
        token = os.environ.get(auth.control_token_env, "").strip()
        return cls(api_keys=keys, control_token=token.encode() if token else None)

    def key_ok(self, presented: bytes | None) -> bool:
        if not self.api_keys:
            return True
        if presented is None:
            return False
        # Compare against every key so timing does not reveal which prefix matched.
        matched = False
        for key in self.api_keys:
            matched |= hmac.compare_digest(key, presented)
        return matched

    def control_ok(self, client_host: str | None, presented: bytes | None) -> bool:
        if is_loopback(client_host):
            return True
        if self.control_token is None or presented is None:
            return False
        return hmac.compare_digest(self.control_token, presented)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


#: Browsers cannot set headers on a WebSocket: OpenAI's realtime clients send the key as a
#: subprotocol with this prefix instead.
_SUBPROTOCOL_KEY = b"openai-insecure-api-key."


def bearer_token(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key":
            return value.strip()
        elif name == b"sec-websocket-protocol":
            for offered in value.split(b","):
                offered = offered.strip()
                if offered.startswith(_SUBPROTOCOL_KEY) and len(offered) > len(_SUBPROTOCOL_KEY):
                    return offered[len(_SUBPROTOCOL_KEY) :]
    return None
