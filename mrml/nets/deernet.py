"""DEERNet-style ensemble: fully connected blocks with batch norm and softplus.

All ensemble members are evaluated in one batched matrix product
(``torch.baddbmm``), so training or running K networks costs one pass of a
K-times wider model instead of K Python-level passes.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """K independent linear layers applied to input of shape (K, batch, n_in)."""

    def __init__(self, n_members: int, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_members, n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_members, 1, n_out))
        bound = 1.0 / math.sqrt(n_in)
        nn.init.uniform_(self.weight, -bound * math.sqrt(3), bound * math.sqrt(3))

    def forward(self, x):
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleBatchNorm(nn.Module):
    """Batch norm with separate statistics and affine parameters per member."""

    def __init__(self, n_members: int, n_features: int):
        super().__init__()
        self.n_members = n_members
        self.bn = nn.BatchNorm1d(n_members * n_features)

    def forward(self, x):
        k, b, f = x.shape
        y = self.bn(x.permute(1, 0, 2).reshape(b, k * f))
        return y.reshape(b, k, f).permute(1, 0, 2)


class DeerNetEnsemble(nn.Module):
    """Ensemble of fully connected networks mapping a normalised DEER trace to P(r).

    Parameters
    ----------
    n_in : int
        Points of the preprocessed trace.
    n_out : int
        Points of the distance grid.
    hidden : int
        Width of the hidden layers.
    n_layers : int
        Number of hidden blocks (linear, batch norm, softplus).
    n_members : int
        Ensemble size K.

    Notes
    -----
    ``forward(x)`` takes ``x`` of shape (batch, n_in) (every member sees the
    same traces) or (K, batch, n_in), and returns probabilities per grid
    point of shape (K, batch, n_out), non-negative and summing to one.
    """

    def __init__(self, *, n_in: int = 256, n_out: int = 141, hidden: int = 256, n_layers: int = 3,
                 n_members: int = 16):
        super().__init__()
        self.hparams = dict(n_in=n_in, n_out=n_out, hidden=hidden, n_layers=n_layers, n_members=n_members)
        layers: list[nn.Module] = []
        width = n_in
        for _ in range(n_layers):
            layers += [EnsembleLinear(n_members, width, hidden), EnsembleBatchNorm(n_members, hidden), nn.Softplus()]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = EnsembleLinear(n_members, width, n_out)
        self.n_members = n_members

    def forward(self, x):
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.n_members, -1, -1)
        z = self.head(self.body(x - 1.0))
        p = nn.functional.softplus(z.float())
        return p / (p.sum(dim=-1, keepdim=True) + 1e-12)
