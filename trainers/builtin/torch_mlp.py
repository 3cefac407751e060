"""The built-in PyTorch network: embeddings for id features, concatenated with the
numbers, then an MLP. hparams: hidden_units, embedding_dim (training's by default)."""
from __future__ import annotations

import torch
from torch import nn


class TabularNet(nn.Module):
    def __init__(self, features, hparams):
        super().__init__()
        dim = hparams["embedding_dim"]
        self.numeric = list(features.numeric)
        self.ids = list(features.categorical)
        self.embeddings = nn.ModuleList(nn.Embedding(n, dim) for n in features.categorical.values())
        width = len(self.numeric) + dim * len(self.ids)
        layers: list[nn.Module] = []
        for units in hparams["hidden_units"]:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        self.mlp = nn.Sequential(*layers)
        self.head = nn.Linear(width, features.output_size)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [torch.stack([inputs[n] for n in self.numeric], dim=1)] if self.numeric else []
        parts += [emb(inputs[n]) for n, emb in zip(self.ids, self.embeddings)]
        return self.head(self.mlp(torch.cat(parts, dim=1)))


def build_model(features, hparams) -> nn.Module:
    return TabularNet(features, hparams)
