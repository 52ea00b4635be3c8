"""A tiny random-weight VibeVoice checkpoint in transformers' layout, built in well under a second.

It goes where ``vibevoice_1_5b`` lives in a models directory (``vibevoice/VibeVoice-1.5B-hf``),
so an engine configured with that key and the directory finds it. The folder has what a real
one has: config.json, generation_config.json, model.safetensors, a byte-level Qwen2 tokenizer
with the three audio tokens, the acoustic feature extractor's settings and a chat template of
the same shape (voice section, text section, speech marker). Its output is noise: it proves the
path, shapes and rates, never quality.

The audio tokenizers keep the real 3,200x downsampling (8 * 20 * 20), so one audio frame is
3,200 samples at 24 kHz as with real weights; everything else is as small as it goes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

FOLDER = "vibevoice/VibeVoice-1.5B-hf"
SAMPLE_RATE = 24_000
FRAME_SAMPLES = 3_200
AUDIO_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>")

# Written for this checkpoint: the structure the processor expects (one placeholder per
# speaker with a clip, then every turn's text, then the start of speech), in our own words.
CHAT_TEMPLATE = """\
{%- set bos = audio_bos_token | default("<|vision_start|>") -%}
{%- set eos = audio_eos_token | default("<|vision_end|>") -%}
{%- set slot = audio_token | default("<|vision_pad|>") -%}
{{- " Read the script aloud, each speaker in the voice of their clip.\\n" -}}
{%- set voiced = namespace(roles=[]) -%}
{%- for message in messages -%}
  {%- set clips = message['content'] | selectattr('type', 'equalto', 'audio') | list -%}
  {%- if clips and message['role'] not in voiced.roles -%}
    {%- set voiced.roles = voiced.roles + [message['role']] -%}
  {%- endif -%}
{%- endfor -%}
{%- if voiced.roles -%}
  {{- " Voice input:\\n" -}}
  {%- for role in voiced.roles -%}
    {{- " Speaker " ~ role ~ ":" ~ bos ~ slot ~ eos ~ "\\n" -}}
  {%- endfor -%}
{%- endif -%}
{{- " Text input:\\n" -}}
{%- for message in messages -%}
  {%- for item in message['content'] | selectattr('type', 'equalto', 'text') -%}
    {{- " Speaker " ~ message['role'] ~ ": " ~ item['text'] ~ "\\n" -}}
  {%- endfor -%}
{%- endfor -%}
{{- " Speech output:\\n" ~ bos -}}
"""


@dataclass(frozen=True)
class TinyCheckpoint:
    folder: Path
    audio_bos_id: int
    audio_eos_id: int
    end_id: int

    def keep_talking(self) -> list[int]:
        """Token ids to suppress so the random model does not end or restart the audio (it may
        still end the text, once ``min_new_tokens`` allow it)."""
        return [self.audio_bos_id, self.audio_eos_id]

    def never_stop(self) -> list[int]:
        """Token ids to suppress so every step is an audio frame until the frame budget."""
        return [*self.keep_talking(), self.end_id]


def build(models_root: Path, *, seed: int = 0) -> TinyCheckpoint:
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    hf: Any = transformers  # parts of its API are untyped

    folder = models_root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)

    # Byte-level BPE without merges: every byte is a token, plus the end and audio tokens.
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    backend = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = hf.Qwen2Tokenizer(
        tokenizer_object=backend,
        bos_token=None,
        eos_token="<|endoftext|>",
        unk_token=None,
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(AUDIO_TOKENS)})
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in AUDIO_TOKENS}
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")

    acoustic = {
        "hidden_size": 8,
        "num_filters": 4,
        "kernel_size": 3,
        "downsampling_ratios": [8, 20, 20],
        "depths": [1, 1, 1, 1],
    }
    config = hf.VibeVoiceConfig(
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 8192,
        },
        audio_config={"model_type": "vibevoice_acoustic_tokenizer", **acoustic},
        semantic_model_config={
            "model_type": "vibevoice_acoustic_tokenizer_encoder",
            **acoustic,
            "hidden_size": 16,
        },
        diffusion_head_config={
            "num_hidden_layers": 1,
            "intermediate_size": 64,
            "frequency_embedding_size": 32,
        },
        pad_token_id=end,
        eos_token_id=end,
        audio_bos_token_id=ids["<|vision_start|>"],
        audio_eos_token_id=ids["<|vision_end|>"],
        audio_token_id=ids["<|vision_pad|>"],
    )
    torch.manual_seed(seed)
    model = hf.VibeVoiceForConditionalGeneration(config)
    _audible_encoders(model, torch)
    _audible_decoder(model, torch)
    model.save_pretrained(str(folder))
    extractor = hf.VibeVoiceAcousticTokenizerFeatureExtractor(
        sampling_rate=SAMPLE_RATE, pad_to_multiple_of=FRAME_SAMPLES
    )
    processor = hf.VibeVoiceProcessor(
        feature_extractor=extractor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    processor.save_pretrained(str(folder))
    return TinyCheckpoint(folder, ids["<|vision_start|>"], ids["<|vision_end|>"], end)


def _audible_encoders(model: Any, torch: Any) -> None:
    """Wake the reference encoders up: with the default initialization (tiny weights, layer
    scales of 1e-6) their output hardly depends on the clip, so two voices would give the same
    audio to float precision and voice casting could not be tested."""
    with torch.no_grad():
        for encoder in (model.model.audio_tower.encoder, model.model.semantic_tokenizer_encoder):
            for name, param in encoder.named_parameters():
                if name.endswith("gamma"):
                    param.fill_(1.0)
                elif param.dim() > 1:
                    param.normal_(0.0, 0.3)


def _audible_decoder(model: Any, torch: Any) -> None:
    """Bring the decoder's output from about 1e-7 (silence once written as 16-bit PCM) to
    noise at a speaking level, by scaling its last convolution."""
    decoder = model.model.audio_tower
    with torch.no_grad():
        probe = decoder.decode(torch.randn(4, 3, decoder.config.hidden_size)).audio
        head = decoder.decoder.head.conv
        head.weight.mul_(0.1 / float(probe.std()))


def speech_like(seconds: float, rate: int, pitch: float, *, stereo: bool = False) -> np.ndarray:
    """A voiced, syllable-paced tone: enough for reference preparation (not silent, not short)."""
    t = np.arange(int(seconds * rate)) / rate
    voice = 0.2 * np.sin(2 * np.pi * pitch * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 3.5 * t))
    samples = voice.astype(np.float32)
    return np.stack([samples, samples * 0.7], axis=1) if stereo else samples


def write_voice(path: Path, *, pitch: float, seconds: float = 2.5, rate: int = 22_050) -> Path:
    """A reference file in the format its suffix names (wav, flac or mp3)."""
    fmt = {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3"}[path.suffix.lower()]
    buffer = io.BytesIO()
    soundfile.write(buffer, speech_like(seconds, rate, pitch, stereo=True), rate, format=fmt)
    path.write_bytes(buffer.getvalue())
    return path
