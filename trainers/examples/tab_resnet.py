"""A PyTorch residual MLP for tables (Gorishniy et al., 2021, "ResNet"): embeddings
and numbers projected to a width, then blocks of Linear-ReLU-Linear with a skip.

hparams: blocks (default 2), width (default 64), embedding_dim (default 8).
"""
from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.body = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(self.norm(x))


class TabResNet(nn.Module):
    def __init__(self, features, hparams):
        super().__init__()
        dim, width = hparams.get("embedding_dim", 8), hparams.get("width", 64)
        self.numeric, self.ids = list(features.numeric), list(features.categorical)
        self.embeddings = nn.ModuleDict({n: nn.Embedding(size, dim) for n, size in features.categorical.items()})
        self.project = nn.Linear(len(self.numeric) + dim * len(self.ids), width)
        self.blocks = nn.Sequential(*(Block(width) for _ in range(hparams.get("blocks", 2))))
        self.head = nn.Sequential(nn.LayerNorm(width), nn.ReLU(), nn.Linear(width, features.output_size))

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [torch.stack([inputs[n] for n in self.numeric], dim=1)] if self.numeric else []
        parts += [self.embeddings[n](inputs[n]) for n in self.ids]
        return self.head(self.blocks(self.project(torch.cat(parts, dim=1))))


def build_model(features, hparams) -> nn.Module:
    return TabResNet(features, hparams)
