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


class UnrolledIst(nn.Module):
    """IST unrolled into ``n_iter`` layers with learned thresholds and a learned spectral refiner.

    Layer k takes the residual spectrum of the measured points, keeps what
    exceeds a learned fraction of its largest magnitude (soft threshold, as
    IST does), and adds it to the model spectrum; every ``refine_every`` layers a
    small convolutional network over the model spectrum (real, imaginary,
    magnitude) corrects line shapes and suppresses sampling artefacts. With the
    refiner at zero and the thresholds at their initial geometric schedule this
    is plain IST, so training starts from the classical method. Input and output
    as :class:`NusNetEnsemble` (members run one after another).
    """

    def __init__(self, *, n_iter: int = 16, refine_every: int = 4, width: int = 12, n_members: int = 4,
                 final_threshold: float = 0.02):
        super().__init__()
        self.hparams = {"n_iter": n_iter, "refine_every": refine_every, "width": width, "n_members": n_members,
                        "final_threshold": final_threshold}
        self.n_members = n_members
        frac = final_threshold ** (torch.arange(n_iter, dtype=torch.float32) / max(n_iter - 1, 1))
        logit = torch.log(frac / (1 - frac + 1e-6))
        self.threshold_logit = nn.Parameter(logit.repeat(n_members, 1))
        n_ref = n_iter // refine_every
        self.refiners = nn.ModuleList([
            nn.ModuleList([nn.Sequential(nn.Conv1d(3, width, 5, padding=2), nn.GELU(),
                                         nn.Conv1d(width, width, 5, padding=4, dilation=2), nn.GELU(),
                                         nn.Conv1d(width, 2, 5, padding=2)) for _ in range(n_ref)])
            for _ in range(n_members)])
        for member in self.refiners:  # start as plain IST
            for r in member:
                nn.init.zeros_(r[-1].weight)
                nn.init.zeros_(r[-1].bias)
        self.refine_every = refine_every

    def forward(self, x):
        y = torch.complex(x[:, 0].float(), x[:, 1].float())  # (batch, n), zeros where not sampled
        mask = x[:, 2].float()
        n = y.shape[-1]
        outs = []
        for m in range(self.n_members):
            model = torch.zeros(y.shape[0], 2 * n, dtype=torch.complex64, device=y.device)
            resid = torch.fft.fft(y, n=2 * n)
            top = resid.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12)
            for k in range(self.threshold_logit.shape[1]):
                thr = torch.sigmoid(self.threshold_logit[m, k]) * top
                mag = resid.abs()
                model = model + resid * torch.relu(mag - thr) / mag.clamp_min(1e-12)
                if (k + 1) % self.refine_every == 0:
                    feats = torch.stack([model.real, model.imag, model.abs()], dim=1) / top[:, :, None]
                    corr = self.refiners[m][(k + 1) // self.refine_every - 1](feats) * top[:, :, None]
                    model = model + torch.complex(corr[:, 0], corr[:, 1])
                fid = torch.fft.ifft(model)[:, :n]
                resid = torch.fft.fft(mask * (y - fid), n=2 * n)
            fid = torch.fft.ifft(model)[:, :n]
            fid = mask * y + (1 - mask) * fid
            outs.append(torch.stack([fid.real, fid.imag], dim=1))
        return torch.stack(outs)
