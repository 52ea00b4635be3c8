"""The voice store's routes, on the fake engines (storing a voice needs no cloning engine)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import soundfile

from tests.core.api.app_client import runtime_client
from tests.support import WriteConfig

CONFIG = """\
reload: {watch: false}
engines:
  mouth: {capability: tts, engine: fake}
routes: {tts: [mouth]}
"""


def reference_wav() -> bytes:
    t = np.arange(3 * 16_000) / 16_000
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.3 * np.sin(2 * np.pi * 220 * t), 16_000, format="WAV")
    return buffer.getvalue()


async def test_a_clip_removed_from_the_store_is_a_404(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    async with runtime_client(write_config(CONFIG), base_url="http://voxgate.localhost") as client:
        created = await client.post(
            "/v1/voices", files={"file": ("me.wav", reference_wav())}, data={"name": "me"}
        )
        assert created.status_code == 201, created.text
        voice_id = created.json()["id"]
        clip = await client.get(f"/v1/voices/{voice_id}/audio")
        assert clip.status_code == 200 and clip.content.startswith(b"RIFF")

        shutil.rmtree(tmp_path / "data" / "voices" / voice_id)
        missing = await client.get(f"/v1/voices/{voice_id}/audio")
        assert missing.status_code == 404
        assert missing.json()["error"]["param"] == "voice_id"
        assert missing.json()["error"]["code"] == "clip_missing"
