"""A sentence-transformers model run by onnxruntime instead of torch.

The model's transformer is exported to ONNX once (with torch, from the same weights) into a cache
folder; later loads need neither torch nor sentence-transformers. Tokenisation uses the model's own
``tokenizer.json``, pooling and normalisation follow its sentence-transformers config, so vectors
match ``SentenceTransformer.encode`` (tests compare the two). Only plain models qualify: a
transformer, mean or CLS pooling, optional normalisation; anything else stays on torch.

Imported only by the engine's ``load()``: numpy and onnxruntime are heavy enough to keep out of
plugin discovery.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

log = structlog.get_logger(__name__)

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_EXPORT_VERSION = "2"  # bump when the export itself changes
#: Longest a background batch waits for interactive encodes to finish.
_MAX_YIELD_SECONDS = 1.0
#: Tokens (texts x padded length) one run of the model takes at most. Past a few hundred the
#: layers' activations no longer stay in the CPU caches and each token costs more (the README's
#: ingestion row has the figures).
TOKENS_PER_RUN = 512


def lower_priority(nice: int) -> None:
    """Lower the calling thread's scheduling priority (Linux gives each thread its own nice
    value); elsewhere nothing changes, since the call would renice the whole process."""
    if sys.platform != "linux" or nice <= 0:
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class EncodingStopped(Exception):
    """The caller gave up (timeout, client gone): the remaining batches were not run."""


@dataclass(frozen=True)
class ModelLayout:
    """What the encoder needs to know about a sentence-transformers folder."""

    folder: Path
    pooling: str  # "mean" or "cls"
    normalize: bool
    max_tokens: int
    dimensions: int


def plain_layout(folder: Path) -> ModelLayout | None:
    """The folder's layout when onnxruntime can serve it exactly, else ``None``."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        types = [m["type"] for m in modules]
        if types[:2] != [_TRANSFORMER, _POOLING] or any(t != _NORMALIZE for t in types[2:]):
            return None
        if not (folder / "tokenizer.json").is_file():
            return None
        pooling_config = json.loads((folder / modules[1]["path"] / "config.json").read_text())
        config = json.loads((folder / "sentence_bert_config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    modes = {k for k, v in pooling_config.items() if k.startswith("pooling_mode_") and v}
    if modes == {"pooling_mode_mean_tokens"}:
        pooling = "mean"
    elif modes == {"pooling_mode_cls_token"}:
        pooling = "cls"
    else:
        return None
    return ModelLayout(
        folder=folder,
        pooling=pooling,
        normalize=len(types) > 2,
        max_tokens=int(config.get("max_seq_length") or 512),
        dimensions=int(pooling_config["word_embedding_dimension"]),
    )


def _cache_key(folder: Path) -> str:
    """Changes when the weights change (path, size and modification time of each file)."""
    digest = hashlib.sha256(_EXPORT_VERSION.encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def export_onnx(layout: ModelLayout, cache_dir: Path) -> Path:
    """The ONNX file for ``layout``, exported on first use (a few seconds, ~90 MB for MiniLM).

    The export runs in a child process: it needs torch and transformers, which would otherwise
    stay loaded in the daemon for its whole life (~400 MB) after a few seconds of use."""
    target = cache_dir / _cache_key(layout.folder) / "model.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "plugins.rag_chroma.onnx_export", str(layout.folder)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(  # noqa: S603 (this interpreter and our own module, no shell)
        [*command, str(target)], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0 or not target.is_file():
        raise RuntimeError(
            f"exporting {layout.folder} to ONNX failed: {done.stderr.strip()[-2000:]}"
        )
    log.info("embeddings.onnx_exported", model=str(layout.folder), path=str(target))
    return target


def quantized_onnx(exported: Path) -> Path:
    """An int8 copy of an exported model (dynamic quantization of its weights), made once.
    A quarter of the weights to read, so short texts run faster; long texts are bound by
    arithmetic and gain only where the CPU multiplies int8 natively (VNNI). Per-channel
    scales keep vectors at ~0.98-0.99 cosine of the float model's (one scale per tensor drops
    to ~0.92 on CPUs without VNNI)."""
    target = exported.with_name("model.int8.onnx")
    if target.is_file():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    scratch = Path(tempfile.mkdtemp(dir=target.parent))
    # The quantizer suggests a pre-processing pass on the root logger; it does not apply to a
    # dynamic quantization of a transformer's weights.
    root = logging.getLogger()
    quiet = logging.Filter("voxgate.never")
    root.addFilter(quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                str(exported),
                str(scratch / "model.onnx"),
                weight_type=QuantType.QInt8,
                per_channel=True,
            )
        (scratch / "model.onnx").replace(target)
    finally:
        root.removeFilter(quiet)
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("embeddings.onnx_quantized", path=str(target))
    return target


def run_batches(lengths: list[int], most: int, tokens: int) -> list[list[int]]:
    """Indices of the texts grouped into runs, shortest texts first (little padding): at most
    ``most`` texts a run, and no more than ``tokens`` padded tokens unless a text is alone."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    for index in order:
        # Sorted ascending, so the text joining a run sets the run's padded length.
        if (
            batches
            and len(batches[-1]) < most
            and (len(batches[-1]) + 1) * lengths[index] <= tokens
        ):
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


class OnnxEncoder:
    """Tokenise, run the transformer, pool and normalise: ``SentenceTransformer.encode``'s path."""

    def __init__(
        self, layout: ModelLayout, onnx_file: Path, threads: int, background_nice: int = 10
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False
        # Spinning threads fight other work on small machines; waiting costs less than it saves.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Many texts are also split into batches run side by side: one run alone leaves cores
        # idle between its operators (about a third more chunks/s on two cores).
        self._threads = threads
        self._pool = (
            ThreadPoolExecutor(threads, thread_name_prefix="onnx-embed") if threads > 1 else None
        )
        self._session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._onnx_file = onnx_file
        #: Background work (ingestion) runs on a session of its own, one single-threaded run per
        #: core on threads of lower OS priority: it never queues on the interactive session's
        #: thread pool, and the scheduler hands a search question the cores first.
        self._bulk: tuple[Any, ThreadPoolExecutor] | None = None
        self._bulk_lock = threading.Lock()
        self._background_nice = background_nice
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(layout.folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(layout.max_tokens)
        self._tokenizer.no_padding()
        self.layout = layout
        #: Interactive encodes under way; background batches wait for none to be left.
        self._interactive = 0
        self._quiet = threading.Condition()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        if self._bulk is not None:
            self._bulk[1].shutdown(wait=False)

    def _bulk_runner(self) -> tuple[Any, ThreadPoolExecutor]:
        with self._bulk_lock:
            if self._bulk is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.enable_cpu_mem_arena = False
                session = onnxruntime.InferenceSession(
                    str(self._onnx_file), options, providers=["CPUExecutionProvider"]
                )
                pool = ThreadPoolExecutor(
                    self._threads,
                    thread_name_prefix="onnx-bulk",
                    initializer=lower_priority,
                    initargs=(self._background_nice,),
                )
                self._bulk = (session, pool)
            return self._bulk

    def encode(
        self,
        texts: list[str],
        batch_size: int,
        normalize: bool,
        stop: threading.Event | None = None,
        *,
        background: bool = False,
    ) -> tuple[npt.NDArray[np.float32], int]:
        """(vectors in input order, tokens used). Batches group texts of similar length, so
        little time goes on padding. ``stop`` (the caller gave up) ends the work between
        batches with :class:`EncodingStopped`. A ``background`` encode (bulk ingestion) waits
        before each batch while an interactive one (a search question) runs, so the question
        shares the cores with at most the batches already started."""
        if background:
            return self._encode(texts, batch_size, normalize, stop, background=True)
        with self._quiet:
            self._interactive += 1
        try:
            return self._encode(texts, batch_size, normalize, stop, background=False)
        finally:
            with self._quiet:
                self._interactive -= 1
                self._quiet.notify_all()

    def _wait_quiet(self) -> None:
        with self._quiet:
            # Bounded: a steady stream of questions slows ingestion down but never stops it.
            self._quiet.wait_for(lambda: self._interactive == 0, timeout=_MAX_YIELD_SECONDS)

    def _encode(
        self,
        texts: list[str],
        batch_size: int,
        normalize: bool,
        stop: threading.Event | None,
        *,
        background: bool,
    ) -> tuple[npt.NDArray[np.float32], int]:
        encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        most = max(1, min(batch_size, -(-len(texts) // self._threads)))
        batches = run_batches(lengths, most, TOKENS_PER_RUN)
        vectors = np.zeros((len(texts), self.layout.dimensions), dtype=np.float32)

        session, pool = self._bulk_runner() if background else (self._session, self._pool)

        def run(batch: list[int]) -> None:
            if background:
                self._wait_quiet()
            if stop is not None and stop.is_set():
                raise EncodingStopped
            vectors[batch] = self._run(session, [encodings[i] for i in batch])

        if background:
            list(pool.map(run, batches))  # type: ignore[union-attr]
        elif self._pool is None or len(batches) == 1:
            for batch in batches:
                run(batch)
        else:
            list(self._pool.map(run, batches))
        if normalize or self.layout.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.maximum(norms, 1e-12)
        return vectors, sum(len(e.ids) for e in encodings)

    def _run(self, session: Any, batch: list[Any]) -> npt.NDArray[np.float32]:
        width = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, encoding in enumerate(batch):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(["hidden"], feed)[0]
        if self.layout.pooling == "cls":
            return np.asarray(hidden[:, 0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        return np.asarray(summed / np.maximum(weights.sum(axis=1), 1e-9), dtype=np.float32)
