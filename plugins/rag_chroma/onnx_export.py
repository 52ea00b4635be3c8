"""Exporting a sentence-transformers model's transformer to ONNX, in a process of its own.

``python -m plugins.rag_chroma.onnx_export MODEL_FOLDER TARGET_FILE``: the daemon runs this once
per model (see ``onnx_encoder.export_onnx``) so that torch and transformers, needed only here,
never stay loaded in the daemon. The file appears whole or not at all.
"""

from __future__ import annotations

import inspect
import shutil
import sys
import tempfile
import warnings
from pathlib import Path


def write_onnx(folder: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    accepts_types = "token_type_ids" in inspect.signature(model.forward).parameters

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state, with inputs passed by name."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            names = ["input_ids", "attention_mask", "token_type_ids"][: len(inputs)]
            hidden: torch.Tensor = self.model(**dict(zip(names, inputs, strict=True)))[0]
            return hidden

    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if accepts_types else [])
    sample = torch.ones(1, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
    scratch = Path(tempfile.mkdtemp(dir=target.parent))
    try:
        # Tracing warns about shapes it freezes; they hold for this use (padding is explicit).
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Hidden(),
                tuple(sample for _ in names),
                str(scratch / "model.onnx"),
                input_names=names,
                output_names=["hidden"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        (scratch / "model.onnx").replace(target)  # whole file or nothing
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m plugins.rag_chroma.onnx_export MODEL_FOLDER TARGET\n")
        return 2
    folder, target = Path(argv[0]), Path(argv[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    write_onnx(folder, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
