"""A tiny text encoder for text-to-image in miniature (chapter 8): no downloads.

``Tokenizer`` splits lower-cased text on spaces and maps words to indices of a fixed vocabulary
(unknown words to ``<unk>``, padding with ``<pad>``). ``TextEncoder`` turns token indices into one
vector per token: token embeddings plus learned positions, through a small Transformer encoder
(Vaswani et al. 2017), as CLIP's and T5's text towers do at scale. ``TextConditionedUNet`` wraps a
U-Net with cross-attention and an encoder, trained together, and is called like any denoiser:
``model(x_t, t, cond=token_ids)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import check_positive_int, check_tensor, checking_values
from .unet import UNet

PAD, UNK = "<pad>", "<unk>"


class Tokenizer:
    """Word-level tokenizer over a fixed vocabulary; every prompt becomes ``max_len`` indices."""

    def __init__(self, words, max_len: int = 8):
        check_positive_int("max_len", max_len)
        words = [w.lower() for w in words]
        if len(set(words)) != len(words):
            raise ValueError("words: expected each word once, got duplicates")
        self.vocab = [PAD, UNK] + words
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.max_len = max_len

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, prompts) -> torch.Tensor:
        """(B, max_len) LongTensor for a list of B prompts; "" is the empty prompt (all padding)."""
        if isinstance(prompts, str):
            raise TypeError(f"prompts: expected a list of strings, got the string {prompts!r}")
        ids = torch.zeros(len(prompts), self.max_len, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            words = prompt.lower().split()
            if len(words) > self.max_len:
                raise ValueError(f"prompts: {prompt!r} has {len(words)} words, more than "
                                 f"max_len={self.max_len}")
            ids[row, :len(words)] = torch.tensor([self.index.get(w, 1) for w in words], dtype=torch.long)
        return ids

    def decode(self, ids: torch.Tensor) -> list[str]:
        return [" ".join(self.vocab[i] for i in row.tolist() if i != 0) for row in ids]


def shapes_tokenizer() -> Tokenizer:
    """The tokenizer of the captioned shapes: their whole vocabulary, prompts of up to 8 words."""
    from .shapes import vocabulary

    return Tokenizer(vocabulary(), max_len=8)


class TextEncoder(nn.Module):
    """Token indices (B, L) -> one ``dim``-vector per token (B, L, dim)."""

    def __init__(self, vocab_size: int, *, dim: int = 64, layers: int = 2, heads: int = 4,
                 max_len: int = 8):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        check_tensor("ids", ids, ndim=2)
        if ids.shape[1] > len(self.positions):
            raise ValueError(f"ids: expected at most {len(self.positions)} tokens, got {ids.shape[1]}")
        vocabulary = self.tokens.num_embeddings
        if ids.is_floating_point() or (checking_values() and ids.numel()
                                       and (ids.min() < 0 or ids.max() >= vocabulary)):
            got = (f"{ids.dtype}" if ids.is_floating_point()
                   else f"min {int(ids.min())}, max {int(ids.max())}")
            raise ValueError(f"ids: expected integer token ids in [0, {vocabulary - 1}] (from the "
                             f"tokenizer's encode), got {got}")
        h = self.tokens(ids) + self.positions[:ids.shape[1]]
        return self.norm(self.transformer(h))                       # (B, L, dim)


class TextConditionedUNet(nn.Module):
    """A U-Net with cross-attention (``context_dim`` set) and the text encoder that feeds it.
    ``cond`` is a (B, L) LongTensor of token ids; ``None`` means the empty prompt."""

    def __init__(self, unet: UNet, encoder: TextEncoder):
        super().__init__()
        if unet.config.context_dim is None:
            raise ValueError("unet: expected a UNet with context_dim set (cross-attention), got None")
        self.unet, self.encoder = unet, encoder
        self.config = unet.config

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        if cond is None:
            cond = torch.zeros(x_t.shape[0], self.encoder.positions.shape[0], dtype=torch.long,
                               device=x_t.device)
        return self.unet(x_t, t, cond=self.encoder(cond))
