"""Write a tiny random-weight Qwen3-TTS checkpoint (CustomVoice or Base) for tests and benches.

Run with the worker environment's interpreter (it imports qwen_tts, torch and transformers 4.57):

    <env>/bin/python build_tiny_qwen3.py MODELS_DIR [--kind custom_voice] [--kind base]

Each kind goes where the real model of that kind lives in a models directory
(``Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice``, ``Qwen/Qwen3-TTS-12Hz-0.6B-Base``), so an engine
configured with ``model: custom_0_6b`` and that ``models_dir`` finds it.

The folder has the same layout as a real model from the hub (config.json, generation_config.json,
model.safetensors, the text tokenizer files, and the 12 Hz speech tokenizer in
``speech_tokenizer/``), so it exercises the real loading, generation, cloning and decoding code.
Its output is noise: a random model only proves the path, shapes and rates.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: Preset speakers of the tiny CustomVoice model (lowercase, as in the real configs).
SPEAKERS = {"vivian": 2900, "ryan": 2901, "ono_anna": 2902}
LANGUAGES = {"chinese": 2950, "english": 2951, "japanese": 2952, "korean": 2953, "german": 2954}
HIDDEN = 32
CODE_GROUPS = 16
CODEBOOK = 2048
# The talker's vocabulary: codec codes below CODEBOOK, control tokens in the top 1024.
TALKER_VOCAB = CODEBOOK + 1024
CODEC_IDS = {
    "codec_pad_id": 2800,
    "codec_bos_id": 2801,
    "codec_eos_token_id": 2802,
    "codec_think_id": 2803,
    "codec_nothink_id": 2804,
    "codec_think_bos_id": 2805,
    "codec_think_eos_id": 2806,
}
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tts_pad>",
    "<tts_text_bos>",
    "<tts_text_eod>",
]


def build_text_tokenizer(out: Path) -> dict[str, int]:
    """A byte-level BPE tokenizer (no merges) with Qwen's chat tokens; returns special ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    vocab = {char: index for index, char in enumerate(bytes_to_unicode().values())}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=backend,
        bos_token=None,
        eos_token="<|endoftext|>",
        unk_token=None,
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    # qwen_tts slices prompts by position: "<|im_start|>assistant\n" must be exactly 3 tokens.
    tokenizer.add_tokens(["assistant"])
    tokenizer.save_pretrained(str(out))
    return {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}


def model_config(kind: str, text_vocab: int, ids: dict[str, int]) -> dict[str, object]:
    # One small transformer layer, the same for the talker and its code predictor.
    layers = {
        "hidden_size": HIDDEN,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "num_code_groups": CODE_GROUPS,
    }
    code_predictor = {"vocab_size": CODEBOOK, **layers, "max_position_embeddings": 256}
    talker = {
        "code_predictor_config": code_predictor,
        "vocab_size": TALKER_VOCAB,
        **layers,
        "text_hidden_size": HIDDEN,
        "text_vocab_size": text_vocab,
        "max_position_embeddings": 4096,
        "rope_scaling": {"rope_type": "default", "mrope_section": [4, 2, 2], "interleaved": True},
        "position_id_per_seconds": 13,
        **CODEC_IDS,
        "codec_language_id": LANGUAGES,
        "spk_id": SPEAKERS if kind == "custom_voice" else {},
        "spk_is_dialect": dict.fromkeys(SPEAKERS, False) if kind == "custom_voice" else {},
    }
    speaker_encoder = {
        "mel_dim": 128,
        "enc_dim": HIDDEN,
        "enc_channels": [16, 16, 16, 16, 48],
        "enc_kernel_sizes": [5, 3, 3, 3, 1],
        "enc_dilations": [1, 2, 3, 4, 1],
        "enc_attention_channels": 8,
        "enc_res2net_scale": 2,
        "enc_se_channels": 8,
        "sample_rate": 24000,
    }
    return {
        "architectures": ["Qwen3TTSForConditionalGeneration"],
        "model_type": "qwen3_tts",
        "tokenizer_type": "qwen3_tts_tokenizer_12hz",
        "tts_model_size": "0b6",
        "tts_model_type": kind,
        "talker_config": talker,
        "speaker_encoder_config": speaker_encoder,
        "im_start_token_id": ids["<|im_start|>"],
        "im_end_token_id": ids["<|im_end|>"],
        "tts_pad_token_id": ids["<tts_pad>"],
        "tts_bos_token_id": ids["<tts_text_bos>"],
        "tts_eos_token_id": ids["<tts_text_eod>"],
    }


def build_speech_tokenizer(out: Path) -> None:
    import torch
    from qwen_tts.core import Qwen3TTSTokenizerV2Config, Qwen3TTSTokenizerV2Model
    from transformers import EncodecFeatureExtractor

    encoder = {
        "hidden_size": HIDDEN,
        "num_filters": 4,
        "num_residual_layers": 1,
        "codebook_size": CODEBOOK,
        "codebook_dim": 16,
        "num_quantizers": CODE_GROUPS,
        "num_semantic_quantizers": 1,
        "vector_quantization_hidden_dimension": 16,
        "upsample_groups": 16,
        "num_hidden_layers": 1,
        "intermediate_size": 64,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "frame_rate": 12.5,
    }
    decoder = {
        "codebook_size": CODEBOOK,
        "codebook_dim": 16,
        "hidden_size": HIDDEN,
        "latent_dim": HIDDEN,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_quantizers": CODE_GROUPS,
        # 8 * 5 * 4 * 3 * 2 * 2 = 1920 samples per code frame: 24 kHz at 12.5 Hz.
        "upsample_rates": [8, 5, 4, 3],
        "upsampling_ratios": [2, 2],
        "decoder_dim": 32,
        "head_dim": 16,
    }
    config = Qwen3TTSTokenizerV2Config(
        encoder_config=encoder,
        decoder_config=decoder,
        encoder_valid_num_quantizers=CODE_GROUPS,
    )
    model = Qwen3TTSTokenizerV2Model(config)
    # The codebooks start as zeros (they are learned averages): random ones make the decoder
    # turn codes into audible noise instead of silence.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("embedding_sum"):
                param.normal_(0.0, 1.0)
        # Small random layers shrink the signal to ~1e-8: scale the last convolution so the
        # noise comes out near 0.1 RMS, like speech.
        codes = torch.randint(0, CODEBOOK, (1, CODE_GROUPS, 25))
        level = float(model.decoder(codes).std())
        model.decoder.decoder[-1].conv.weight.mul_(0.1 / max(level, 1e-12))
    model.save_pretrained(str(out))
    EncodecFeatureExtractor(feature_size=1, sampling_rate=24000, padding_value=0.0).save_pretrained(
        str(out)
    )


def build(out: Path, kind: str, seed: int = 0) -> None:
    import torch
    from qwen_tts.core.models import (
        Qwen3TTSConfig,
        Qwen3TTSForConditionalGeneration,
        Qwen3TTSProcessor,
    )
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    ids = build_text_tokenizer(out)
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    Qwen3TTSProcessor(tokenizer=tokenizer).save_pretrained(str(out))

    config = Qwen3TTSConfig(**model_config(kind, len(tokenizer), ids))
    model = Qwen3TTSForConditionalGeneration(config)
    model.save_pretrained(str(out))
    # The speaker encoder config is a plain object: a stray model_type breaks reloading it.
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    saved.get("speaker_encoder_config", {}).pop("model_type", None)
    (out / "config.json").write_text(json.dumps(saved, indent=2), encoding="utf-8")

    generation = {"do_sample": True, "top_k": 50, "temperature": 0.9, "max_new_tokens": 64}
    (out / "generation_config.json").write_text(json.dumps(generation), encoding="utf-8")
    build_speech_tokenizer(out / "speech_tokenizer")


FOLDERS = {
    "custom_voice": "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice",
    "base": "Qwen/Qwen3-TTS-12Hz-0.6B-Base",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models_dir", type=Path)
    parser.add_argument("--kind", choices=sorted(FOLDERS), action="append")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for kind in args.kind or sorted(FOLDERS):
        build(args.models_dir / FOLDERS[kind], kind, args.seed)


if __name__ == "__main__":
    main()
