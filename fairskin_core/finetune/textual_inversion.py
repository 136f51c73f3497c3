"""Textual inversion: new words for the text encoder, one per diagnosis (and per skin type), nothing else trained.

Each token starts as the embedding of a word that means something close ("carcinoma" for
basal cell carcinoma) and only its row of the embedding matrix learns: after every optimiser
step the other rows are put back, so the text encoder's vocabulary is unchanged (weight decay
and Adam's moments touch every row; restoring is exact where masking gradients is not).

Saved one token per file, `fairskin-melanoma.safetensors` holding {"<fairskin-melanoma>":
embedding}: the format stock diffusers `pipe.load_textual_inversion(file)` accepts (a file of
several tokens is refused by it). `load_tokens` reads such files back for training a LoRA on
top of them.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .base_model import read_finetune
from .config import INITIALISER_WORDS, FinetuneConfig
from .prompts import diagnosis_token, skin_type_token

SKIN_TYPE_INITIALISER = "skin"


def token_file_name(token: str) -> str:
    return token.strip("<>") + ".safetensors"


def add_tokens(tokenizer, text_encoder: torch.nn.Module, initialisers: dict[str, str]) -> dict[str, int]:
    """Add each token to the tokenizer, its embedding initialised from its word's; {token: id}."""
    vocabulary = tokenizer.get_vocab()
    taken = [token for token in initialisers if token in vocabulary]
    if taken:
        raise ValueError(f"token(s) {', '.join(taken)} already in the tokenizer's vocabulary: a learned token must be a new word "
                         "(load the earlier tokens with textual_inversions, or train on a base model without them)")
    start_ids = {}
    for token, word in initialisers.items():
        ids = tokenizer(word, add_special_tokens=False).input_ids
        if not ids:
            raise ValueError(f"the initialiser word {word!r} of {token} tokenizes to nothing")
        start_ids[token] = ids
    tokenizer.add_tokens(list(initialisers))
    text_encoder.resize_token_embeddings(len(tokenizer))
    embedding = text_encoder.get_input_embeddings().weight
    token_ids = {token: tokenizer.convert_tokens_to_ids(token) for token in initialisers}
    with torch.no_grad():
        for token, ids in start_ids.items():
            embedding[token_ids[token]] = embedding[ids].mean(dim=0)
    return token_ids


def token_files(path: str | Path) -> list[Path]:
    """The token files of a file, or of a `fairskin textual-inversion` folder (in its record's order)."""
    path = Path(path)
    if path.is_file():
        return [path]
    record = read_finetune(path)
    if not path.is_dir() or not record or record.get("method") != "textual-inversion":
        raise ValueError(f"{path}: neither a token file nor a folder written by `fairskin textual-inversion`")
    return [path / name for name in record["tokens"].values()]


def load_tokens(tokenizer, text_encoder: torch.nn.Module, paths: list[str]) -> set[str]:
    """Add the tokens saved in ``paths`` (files or folders) with their learned embeddings; the tokens."""
    embeddings = {}
    for file in (f for p in paths for f in token_files(p)):
        state = load_file(file)
        if len(state) != 1:
            raise ValueError(f"{file}: holds {len(state)} tensors; a token file holds one, named by its token")
        (token, vector), = state.items()
        embeddings[token] = vector
    if not embeddings:
        return set()
    token_ids = add_tokens(tokenizer, text_encoder, dict.fromkeys(embeddings, "skin"))
    weight = text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        for token, vector in embeddings.items():
            if vector.shape != weight.shape[1:]:
                raise ValueError(f"token {token} has a {tuple(vector.shape)} embedding; this text encoder needs {tuple(weight.shape[1:])}")
            weight[token_ids[token]] = vector.to(weight.dtype)
    return set(embeddings)


class TextualInversion:
    """The learned tokens of one run: what trains, what is restored after a step, what is saved."""

    def __init__(self, config: FinetuneConfig, tokenizer, text_encoder: torch.nn.Module, cells: list[tuple[int, str]]):
        initialisers = {diagnosis_token(d): INITIALISER_WORDS[d] for d in sorted({d for _, d in cells})}
        if config.skin_type_tokens:
            initialisers.update({skin_type_token(f): SKIN_TYPE_INITIALISER for f in sorted({f for f, _ in cells})})
        self.text_encoder = text_encoder
        self.token_ids = add_tokens(tokenizer, text_encoder, initialisers)
        self.tokens = set(self.token_ids)
        self.fp32_modules = [text_encoder]  # the embedding trains; the encoder around it stays fp32 (as diffusers' script)
        text_encoder.requires_grad_(False)
        self.embedding = text_encoder.get_input_embeddings().weight
        self.embedding.requires_grad_(True)
        self.original = self.embedding.detach().clone()
        self.frozen_rows = torch.ones(len(self.embedding), dtype=torch.bool)
        self.frozen_rows[list(self.token_ids.values())] = False

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"text_encoder": self.text_encoder}

    def parameters(self) -> list[torch.nn.Parameter]:
        return [self.embedding]

    def after_step(self) -> None:
        with torch.no_grad():
            self.embedding[self.frozen_rows] = self.original[self.frozen_rows].to(self.embedding.device)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {token: self.embedding[i].detach().float().cpu().contiguous() for token, i in self.token_ids.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for token, i in self.token_ids.items():
                self.embedding[i] = state[token].to(self.embedding)

    def save(self, folder: Path) -> dict:
        """One stock-loadable file per token in ``folder``; the record's "tokens" entry."""
        files = {}
        for token, vector in self.state_dict().items():
            save_file({token: vector}, folder / token_file_name(token))
            files[token] = token_file_name(token)
        return {"tokens": files}
