"""FID-Net-class network for NUS reconstruction: dilated gated convolutions along the indirect time axis.

Input per column: real and imaginary parts of the sampled FID (zeros where not
sampled) and the sampling mask, shape (batch, 3, n); any n works (the network
is convolutional). Output: the full FID (batch, 2, n) with the measured points
put back (data consistency). K ensemble members run as one model through
grouped convolutions; their spread is the raw uncertainty.
"""

from __future__ import annotations

import torch
from torch import nn


class GatedBlock(nn.Module):
    """Dilated gated residual block (tanh x sigmoid), one group of channels per ensemble member."""

    def __init__(self, channels: int, dilation: int, groups: int):
        super().__init__()
        conv = dict(kernel_size=3, padding=dilation, dilation=dilation, groups=groups)
        self.filt = nn.Conv1d(channels, channels, **conv)
        self.gate = nn.Conv1d(channels, channels, **conv)
        self.mix = nn.Conv1d(channels, channels, 1, groups=groups)

    def forward(self, h):
        return h + self.mix(torch.tanh(self.filt(h)) * torch.sigmoid(self.gate(h)))


class NusNetEnsemble(nn.Module):
    """Ensemble of dilated gated CNNs mapping (sampled FID, mask) to the full FID.

    Parameters
    ----------
    width : int
        Channels per member.
    dilations : sequence of int
        Dilation of each block (receptive field ~ 2 * sum(dilations) + 1 points).
    n_members : int
        Ensemble size K.

    Notes
    -----
    ``forward(x)`` takes (batch, 3, n) and returns (K, batch, 2, n). Columns should
    be scaled to a maximum modulus of about 1 (:func:`scale_columns`).
    """

    def __init__(self, *, width: int = 32, dilations=(1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32), n_members: int = 4):
        super().__init__()
        self.hparams = {"width": width, "dilations": list(dilations), "n_members": n_members}
        k, c = n_members, width
        self.n_members = k
        self.stem = nn.Conv1d(3 * k, c * k, 1, groups=k)
        self.blocks = nn.Sequential(*[GatedBlock(c * k, int(d), k) for d in dilations])
        self.head = nn.Conv1d(c * k, 2 * k, 1, groups=k)

    def forward(self, x):
        b, _, n = x.shape
        k = self.n_members
        h = self.head(self.blocks(self.stem(x.repeat(1, k, 1))))  # member j sees channels [3j, 3j + 3)
        pred = h.reshape(b, k, 2, n).permute(1, 0, 2, 3)
        mask = x[:, 2:3].unsqueeze(0)
        return mask * x[:, :2].unsqueeze(0) + (1 - mask) * pred


def scale_columns(x):
    """Scale factors (batch,) that bring the sampled points' largest modulus to 1."""
    mod = torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2)
    return mod.amax(dim=-1).clamp_min(1e-12)
