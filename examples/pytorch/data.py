"""A synthetic image-classification task whose input pipeline costs real CPU per sample.

Each class is a fixed random pattern; a sample is its pattern plus noise, then augmented
(reflect-pad and random crop, flip) and blurred `cost` times — the kind of per-sample
decode-and-augment work that makes data-loader workers matter. Deterministic per index.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset

CLASSES = 10
SIZE = 32


class SyntheticImages(Dataset):
    def __init__(self, n: int, cost: int, seed: int = 0):
        self.n, self.cost = n, cost
        g = torch.Generator().manual_seed(seed)
        self.patterns = torch.randn(CLASSES, 3, SIZE, SIZE, generator=g)
        self.blur = torch.full((3, 1, 3, 3), 1 / 9)
        self.seed = seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Tuple[torch.Tensor, int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        label = i % CLASSES
        x = self.patterns[label] + 1.5 * torch.randn(3, SIZE, SIZE, generator=g)
        x = F.pad(x.unsqueeze(0), (4, 4, 4, 4), mode="reflect").squeeze(0)
        dx, dy = torch.randint(0, 9, (2,), generator=g).tolist()
        x = x[:, dy:dy + SIZE, dx:dx + SIZE]
        if torch.rand((), generator=g).item() < 0.5:
            x = x.flip(2)
        for _ in range(self.cost):
            x = F.conv2d(x.unsqueeze(0), self.blur, padding=1, groups=3).squeeze(0)
        x = (x - x.mean()) / (x.std() + 1e-5)
        return x.contiguous(), label


class SmallCNN(nn.Module):
    """Two convolutions and a linear layer; `width` scales the channels (16·width, 32·width)."""

    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 16 * width, 3, padding=1)
        self.c2 = nn.Conv2d(16 * width, 32 * width, 3, padding=1)
        self.fc = nn.Linear(32 * width * 8 * 8, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))
