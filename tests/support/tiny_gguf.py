"""Builds a tiny random-weight llama GGUF (2 layers, 64 wide, ~0.5 MB) for the llama.cpp tests.

The file goes through the same loading, chat-template and sampling path as a real model; it only
talks nonsense. Its vocabulary is the 256 byte-fallback tokens plus a few control tokens, and its
output layer only scores printable ASCII bytes (every other row is zero), so greedy decoding
always yields plain ASCII text and practically never ends the reply on its own: replies run until
``max_tokens`` or a stop sequence, which is what the tests need to observe.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

EMBEDDING = 64
LAYERS = 2
HEADS = 4
FEED_FORWARD = 128
#: Large, so a test can ask for a reply far longer than it will ever wait for.
CONTEXT_LENGTH = 32_768

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
UNK_ID, BOS_ID, EOS_ID, IM_START_ID, IM_END_ID = range(len(SPECIAL_TOKENS))
FIRST_BYTE_ID = len(SPECIAL_TOKENS)
#: SentencePiece's word boundary mark, so a space is one token rather than three byte tokens.
SPACE_ID = FIRST_BYTE_ID + 256


def _vocabulary() -> tuple[list[str], list[int]]:
    import gguf

    tokens = [*SPECIAL_TOKENS, *(f"<0x{b:02X}>" for b in range(256)), "\u2581"]
    types = [gguf.TokenType.UNKNOWN] + [gguf.TokenType.CONTROL] * (len(SPECIAL_TOKENS) - 1)
    types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL]
    return tokens, [int(t) for t in types]


def write_tiny_gguf(
    path: Path, *, seed: int = 0, chat_template: str | None = CHATML_TEMPLATE
) -> Path:
    """Write the model to ``path`` (``chat_template=None`` leaves the template out)."""
    import gguf

    rng = np.random.default_rng(seed)
    tokens, types = _vocabulary()
    vocab = len(tokens)

    def matrix(rows: int, cols: int) -> np.ndarray:
        scaled: np.ndarray = rng.standard_normal((rows, cols), np.float32) / np.sqrt(cols)
        return scaled.astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-random-llama")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(EMBEDDING)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBEDDING // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * vocab)
    writer.add_token_types(types)
    writer.add_unk_token_id(UNK_ID)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(IM_END_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    writer.add_tensor("token_embd.weight", rng.standard_normal((vocab, EMBEDDING), np.float32))
    for layer in range(LAYERS):
        block = f"blk.{layer}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(EMBEDDING, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{block}.{name}.weight", matrix(EMBEDDING, EMBEDDING))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(EMBEDDING, np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", matrix(FEED_FORWARD, EMBEDDING))
        writer.add_tensor(f"{block}.ffn_up.weight", matrix(FEED_FORWARD, EMBEDDING))
        writer.add_tensor(f"{block}.ffn_down.weight", matrix(EMBEDDING, FEED_FORWARD))
    writer.add_tensor("output_norm.weight", np.ones(EMBEDDING, np.float32))
    # Only printable ASCII can win: the other rows score 0 while these spread several units wide.
    output = np.zeros((vocab, EMBEDDING), np.float32)
    printable = np.arange(FIRST_BYTE_ID + 0x20, FIRST_BYTE_ID + 0x7F)
    output[printable] = rng.standard_normal((len(printable), EMBEDDING))
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
