"""The Qwen3-TTS side of the worker: runs inside the tts_qwen3 environment, never in the daemon.

Loaded by file path by ``core/workers/child.py``; it imports torch and qwen_tts (transformers
4.57) and nothing of the daemon but the protocol's error type. The daemon sends each request's
text already cut into pieces; every piece's audio goes back as soon as it is generated.
Prepared clone prompts (speaker embedding and reference codes) are cached per voice, so a voice
used again is not encoded again.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.workers.module_file import load_module_file
from core.workers.protocol import RequestError
from core.workers.torch_device import torch_device

if TYPE_CHECKING:
    from plugins.tts_qwen3.frame_stream import FrameStreamer, StreamPlan
else:  # the worker imports voxgate's ``core`` only, so the sibling file is loaded by path
    _frames = load_module_file(Path(__file__).with_name("frame_stream.py"), "voxgate_qwen3_frames")
    FrameStreamer, StreamPlan = _frames.FrameStreamer, _frames.StreamPlan

Reply = tuple[dict[str, Any], bytes]
_GENERATION_KEYS = ("max_new_tokens", "temperature", "top_k", "top_p", "repetition_penalty")


def _dtype(requested: str, device: str) -> Any:
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16  # bfloat16 on MPS needs macOS 14 and a recent torch
    return torch.float32


def _attention(requested: str, device: str, dtype: Any) -> str | None:
    import torch

    if requested != "auto":
        return requested
    half = dtype in (torch.bfloat16, torch.float16)
    if device.startswith("cuda") and half and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return None  # the library's default


class Qwen3Handler:
    def __init__(self) -> None:
        self.models: dict[str, Any] = {}
        self.kinds: dict[str, str] = {}
        self.prompts: OrderedDict[str, Any] = OrderedDict()
        self.streamers: dict[str, FrameStreamer] = {}
        self.prompt_cache_size = 16
        self.hits = 0
        self.misses = 0

    # -- loading -----------------------------------------------------------------------------

    def load(self, params: dict[str, Any], payload: bytes) -> dict[str, Any]:
        import torch
        from qwen_tts import Qwen3TTSModel

        started = time.perf_counter()
        device = torch_device(str(params.get("device", "auto")))
        dtype = _dtype(str(params.get("dtype", "auto")), device)
        attention = _attention(str(params.get("attention", "auto")), device, dtype)
        if params.get("threads"):
            torch.set_num_threads(int(params["threads"]))
        self.prompt_cache_size = int(params.get("prompt_cache_size", 16))
        info: dict[str, Any] = {
            "device": device,
            "dtype": str(dtype).removeprefix("torch."),
            "attention": attention or "default",
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "models": {},
        }
        for role in ("main", "clone"):
            path = params.get(role)
            if not path:
                continue
            kwargs: dict[str, Any] = {"device_map": device, "dtype": dtype}
            if attention:
                kwargs["attn_implementation"] = attention
            try:
                model = Qwen3TTSModel.from_pretrained(path, **kwargs)
            except (OSError, ValueError) as exc:
                raise RequestError(
                    "unavailable", f"cannot load Qwen3-TTS from {path}: {exc}"
                ) from exc
            self.models[role] = model
            kind = str(model.model.tts_model_type)
            self.kinds[role] = kind
            info["models"][role] = {
                "path": path,
                "kind": kind,
                "size": str(model.model.tts_model_size),
                "speakers": sorted(model.get_supported_speakers() or []),
                "languages": sorted(model.get_supported_languages() or ["auto"]),
            }
        if params.get("warmup"):
            self._warm_up()
        info["load_seconds"] = round(time.perf_counter() - started, 3)
        return info

    def _warm_up(self) -> None:
        """One short generation per model, so the first request does not pay for lazy setup."""
        for role, model in self.models.items():
            kind = self.kinds[role]
            if kind == "custom_voice":
                speakers = sorted(model.get_supported_speakers() or [])
                model.generate_custom_voice("Hi.", speaker=speakers[0], max_new_tokens=4)
            elif kind == "voice_design":
                model.generate_voice_design("Hi.", instruct="A calm voice.", max_new_tokens=4)

    # -- synthesis ---------------------------------------------------------------------------

    def synthesize(self, params: dict[str, Any], payload: bytes) -> Iterator[Reply]:
        import torch

        role = str(params.get("role", "main"))
        model = self.models.get(role)
        if model is None:
            raise RequestError("unsupported", f"no {role} model is loaded")
        mode = str(params["mode"])
        generation = {
            k: v for k, v in (params.get("generation") or {}).items() if k in _GENERATION_KEYS
        }
        language = str(params.get("language") or "auto")
        prompt = self._prompt(model, params, payload) if mode == "clone" else None
        if mode not in ("custom", "clone", "design"):
            raise RequestError("invalid_request", f"unknown mode {mode!r}")
        if params.get("seed") is not None:
            torch.manual_seed(int(params["seed"]))
        plan = StreamPlan.from_params(params.get("stream"))
        reference_codes = None
        if prompt is not None and getattr(prompt[0], "icl_mode", False):
            reference_codes = prompt[0].ref_code

        for index, piece in enumerate(params["pieces"]):

            def generate(piece: str = piece) -> tuple[list[np.ndarray], int]:
                try:
                    if mode == "custom":
                        return model.generate_custom_voice(  # type: ignore[no-any-return]
                            piece,
                            speaker=params["speaker"],
                            language=language,
                            instruct=params.get("instruct"),
                            **generation,
                        )
                    if mode == "clone":
                        return model.generate_voice_clone(  # type: ignore[no-any-return]
                            piece, language=language, voice_clone_prompt=prompt, **generation
                        )
                    return model.generate_voice_design(  # type: ignore[no-any-return]
                        piece, instruct=params["instruct"], language=language, **generation
                    )
                except (ValueError, NotImplementedError) as exc:  # the library's bad-input words
                    raise RequestError("invalid_request", str(exc)) from exc

            started = time.perf_counter()
            if plan is None:
                wavs, rate = generate()
                yield self._reply(wavs[0], int(rate), index, 0, started)
                continue
            streamer = self._streamer(role, model)
            chunks = streamer.stream(
                generate, plan, first=index == 0, reference_codes=reference_codes
            )
            with closing(chunks):  # a cancelled request ends the generation, not just the loop
                for number, audio in enumerate(chunks):
                    yield self._reply(audio, streamer.sample_rate, index, number, started)

    def _streamer(self, role: str, model: Any) -> FrameStreamer:
        streamer = self.streamers.get(role)
        if streamer is None:
            streamer = self.streamers[role] = FrameStreamer(model)
        return streamer

    @staticmethod
    def _reply(audio: Any, rate: int, piece: int, chunk: int, started: float) -> Reply:
        samples = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
        header = {
            "sample_rate": rate,
            "piece": piece,
            "chunk": chunk,
            "seconds": round(time.perf_counter() - started, 4),
        }
        return header, samples.astype("<f4").tobytes()

    def _prompt(self, model: Any, params: dict[str, Any], payload: bytes) -> Any:
        key = str(params["voice_key"])
        cached = self.prompts.get(key)
        if cached is not None:
            self.prompts.move_to_end(key)
            self.hits += 1
            return cached
        self.misses += 1
        audio = np.frombuffer(payload, dtype="<f4").astype(np.float32)
        if len(audio) == 0:
            raise RequestError("invalid_request", "the reference audio is empty", param="voice")
        try:
            items = model.create_voice_clone_prompt(
                ref_audio=(audio, int(params["reference_rate"])),
                ref_text=params.get("reference_text"),
                x_vector_only_mode=bool(params.get("x_vector_only")),
            )
        except ValueError as exc:
            raise RequestError("invalid_request", str(exc), param="voice") from exc
        self.prompts[key] = items
        while len(self.prompts) > self.prompt_cache_size:
            self.prompts.popitem(last=False)
        return items

    def stats(self, params: dict[str, Any], payload: bytes) -> dict[str, Any]:
        return {
            "cached_prompts": len(self.prompts),
            "prompt_hits": self.hits,
            "prompt_misses": self.misses,
        }


def create() -> Qwen3Handler:
    return Qwen3Handler()
