"""The real CLIP tokenizer, built offline from the BPE vocabulary that ships in the `open_clip_torch` wheel.

Stable Diffusion 1.x/2.x tokenize prompts with OpenAI's CLIP BPE (49,408 tokens). The Hugging
Face copy of it lives on the hub, out of reach offline; open_clip ships the same merges as
`bpe_simple_vocab_16e6.txt.gz`. Rebuilt in Hugging Face's order (256 byte symbols, the same with
the end-of-word mark, one symbol per merge, then the two specials) it gives the standard ids:
"a photo of a cat" → [49406, 320, 1125, 539, 320, 2368, 49407]. Written as `vocab.json` +
`merges.txt` for `CLIPTokenizer.from_pretrained(folder)` (with transformers 5,
`CLIPTokenizer(vocab_file=...)` silently builds a two-token tokenizer instead).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

MERGES = 49152 - 256 - 2  # the merges CLIP uses, as open_clip's SimpleTokenizer reads them
MAX_LENGTH = 77


def _bytes_to_unicode() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values, in its order (printable bytes first)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def open_clip_bpe_file() -> Path:
    """Where the installed open_clip_torch keeps CLIP's BPE merges (found without importing open_clip)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the CLIP vocabulary comes from the open_clip_torch package: `pip install open_clip_torch`")
    path = Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall open_clip_torch (`pip install --force-reinstall open_clip_torch`)")
    return path


def write_clip_tokenizer(folder: str | Path, max_length: int = MAX_LENGTH) -> Path:
    """``folder`` with vocab.json, merges.txt and the tokenizer configs of CLIP's tokenizer."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(open_clip_bpe_file(), "rt", encoding="utf-8") as bpe:
        lines = bpe.read().split("\n")[1:MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    symbols = _bytes_to_unicode()
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": max_length, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "do_lower_case": True}))
    (folder / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}))
    return folder
