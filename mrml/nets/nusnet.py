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


def _modulus(z):
    """``|z|`` of a complex tensor; without autograd as ``sqrt(re^2 + im^2)`` on the real view.

    torch's complex ``abs`` (a ``hypot`` per point) took a quarter of the 3D network's
    inference time. With autograd it is kept: its gradient at exactly zero, where
    soft thresholding leaves many points of the model spectrum, is 0, not NaN.
    """
    if torch.is_grad_enabled():
        return z.abs()
    r = torch.view_as_real(z)
    return (r[..., 0].square() + r[..., 1].square()).sqrt_()


def _channels_last(x):
    """``x`` (batch, channels, height, width) in channels-last layout on a CPU, where oneDNN's convolutions
    with this network's few channels ran 18 % faster in it, conversion included (unchanged elsewhere)."""
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x


def _pointwise(layer, h):
    """An elementwise ``layer`` (activation) applied to ``h``; at inference on a channels-last tensor through its
    contiguous (batch, height, width, channels) view, the same values: torch's GELU on the channels-last
    layout took twice as long (2.9 vs 1.4 ms for 8 planes of 8 x 128 x 96), its vectorised loop being for
    contiguous memory. Under autograd the direct call was the faster."""
    if torch.is_grad_enabled() or h.dim() != 4 or h.is_contiguous() or \
            not h.is_contiguous(memory_format=torch.channels_last):
        return layer(h)
    return layer(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _run_layers(layers, h):
    """``layers`` (convolutions and elementwise activations) applied in turn, activations by :func:`_pointwise`."""
    for layer in layers:
        h = layer(h) if isinstance(layer, (nn.Conv1d, nn.Conv2d)) else _pointwise(layer, h)
    return h


def _conv1d_as_2d(layers, x):
    """``layers`` (1D convolutions and pointwise activations) applied to ``x`` (batch, channels, length).

    On a CPU the convolutions run as 2D convolutions of height 1 in channels-last layout,
    the same weights viewed as (out, in, 1, k): oneDNN ran this network's refiner 2.2x
    faster so (5.2 vs 11.2 ms for 512 columns of 128 points). Elsewhere ``layers(x)``.
    """
    if x.device.type != "cpu":
        return layers(x)
    h = _channels_last(x[:, :, None])
    for layer in layers:
        if isinstance(layer, nn.Conv1d):
            h = nn.functional.conv2d(h, layer.weight[:, :, None], layer.bias, stride=(1, layer.stride[0]),
                                     padding=(0, layer.padding[0]), dilation=(1, layer.dilation[0]),
                                     groups=layer.groups)
        else:
            h = _pointwise(layer, h)
    return h[:, :, 0]


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

    With ``learned_sigma`` each member also has a head, as :class:`UnrolledIst2D`
    has, over its final model spectrum and the last residual of the measured
    points, that predicts the per-point error scale of the spectrum; ``forward``
    then returns ``(fid, log_sigma)``, ``log_sigma`` (K, batch, 2 n): natural log of
    the SD of each part of the complex spectrum's error (zero fill x2, no window,
    unshifted) in the input's scale. One member with this head replaces an
    ensemble's K passes by one.
    """

    def __init__(self, *, n_iter: int = 16, refine_every: int = 4, width: int = 12, n_members: int = 4,
                 final_threshold: float = 0.02, learned_sigma: bool = False):
        super().__init__()
        self.hparams = {"n_iter": n_iter, "refine_every": refine_every, "width": width, "n_members": n_members,
                        "final_threshold": final_threshold}
        if learned_sigma:
            self.hparams["learned_sigma"] = True
        self.learned_sigma = bool(learned_sigma)
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
        if learned_sigma:
            self.sigma_heads = nn.ModuleList([
                nn.Sequential(nn.Conv1d(4, width, 5, padding=2), nn.GELU(),
                              nn.Conv1d(width, width, 5, padding=4, dilation=2), nn.GELU(),
                              nn.Conv1d(width, 1, 5, padding=2)) for _ in range(n_members)])
        self.refine_every = refine_every

    def forward(self, x):
        y = torch.complex(x[:, 0].float(), x[:, 1].float())  # (batch, n), zeros where not sampled
        mask = x[:, 2].float()
        n = y.shape[-1]
        outs, log_sigmas = [], []
        first = torch.fft.fft(y, n=2 * n)  # every member's first residual: the zero-filled spectrum
        top = _modulus(first).amax(dim=-1, keepdim=True).clamp_min(1e-12)
        n_iter = self.threshold_logit.shape[1]
        for m in range(self.n_members):
            model = torch.zeros(y.shape[0], 2 * n, dtype=torch.complex64, device=y.device)
            resid = first
            for k in range(n_iter):
                thr = torch.sigmoid(self.threshold_logit[m, k]) * top
                mag = _modulus(resid)
                model = model + resid * (torch.relu(mag - thr) / mag.clamp_min(1e-12))  # one complex product
                if (k + 1) % self.refine_every == 0:
                    feats = torch.stack([model.real, model.imag, _modulus(model)], dim=1) / top[:, :, None]
                    corr = _conv1d_as_2d(self.refiners[m][(k + 1) // self.refine_every - 1], feats) * top[:, :, None]
                    model = model + torch.complex(corr[:, 0], corr[:, 1])
                fid = torch.fft.ifft(model)[:, :n]
                if k + 1 < n_iter or self.learned_sigma:  # without the head the last residual goes unused
                    resid = torch.fft.fft(mask * (y - fid), n=2 * n)
            fid = mask * y + (1 - mask) * fid
            outs.append(torch.stack([fid.real, fid.imag], dim=1))
            if self.learned_sigma:
                feats = torch.stack([model.real, model.imag, _modulus(model), _modulus(resid)], dim=1) / top[:, :, None]
                log_sigmas.append(_conv1d_as_2d(self.sigma_heads[m], feats.detach())[:, 0] + torch.log(top))
        if self.learned_sigma:
            return torch.stack(outs), torch.stack(log_sigmas)
        return torch.stack(outs)


class UnrolledIst2D(nn.Module):
    """:class:`UnrolledIst` over two indirect time dimensions (3D experiments), with a learned uncertainty.

    Input (batch, 3, n1, n2): real and imaginary parts of a complex plane with one
    peak per resonance (zeros where not sampled) and the sampling mask. Each layer
    soft-thresholds the 2D residual spectrum (zero-filled x2 in both dimensions)
    against a learned fraction of its largest magnitude, as 2D IST does; every
    ``refine_every`` layers small 2D convolutions over the model spectrum (real,
    imaginary, magnitude) correct it. The refiners start at zero: an untrained
    network is 2D IST with a geometric threshold schedule.

    Uncertainty is learned rather than sampled: an ensemble costs K passes, which
    on a 3D spectrum would eat the speed that is the point of the network. A
    head over the final model spectrum and the last residual of the measured
    points (what the model leaves unexplained: noise and missed signal) predicts
    log sigma, the per-point error scale of the spectrum; it is trained on the
    detached error (Gaussian likelihood), so it does not pull on the
    reconstruction, and scaled on held-out simulations like an ensemble's spread.
    ``n_members`` > 1 runs independent members as channel groups.

    Returns ``fid`` (K, batch, 2, n1, n2) with measured points kept, and
    ``log_sigma`` (K, batch, 2 n1, 2 n2), natural log of the error SD of each point
    of the unshifted spectrum (zero fill x2, no window) in the input's scale.
    """

    def __init__(self, *, n_iter: int = 12, refine_every: int = 3, width: int = 8, n_members: int = 1,
                 final_threshold: float = 0.02, momentum: bool = True):
        super().__init__()
        self.hparams = {"n_iter": n_iter, "refine_every": refine_every, "width": width, "n_members": n_members,
                        "final_threshold": final_threshold, "momentum": momentum}
        self.n_members = k = n_members
        frac = final_threshold ** (torch.arange(n_iter, dtype=torch.float32) / max(n_iter - 1, 1))
        self.threshold_logit = nn.Parameter(torch.log(frac / (1 - frac + 1e-6)).repeat(k, 1))
        # FISTA's extrapolation weights (t_{k-1} - 1) / t_k as the starting point, learned per layer
        t, beta = 1.0, []
        for _ in range(n_iter):
            t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
            beta.append((t - 1) / t_next)
            t = t_next
        self.momentum = nn.Parameter(torch.tensor(beta if momentum else [0.0] * n_iter).repeat(k, 1))
        self.use_momentum = momentum
        w = width * k

        def convs(n_in, n_out):
            return nn.Sequential(nn.Conv2d(n_in * k, w, 3, padding=1, groups=k), nn.GELU(),
                                 nn.Conv2d(w, w, 3, padding=2, dilation=2, groups=k), nn.GELU(),
                                 nn.Conv2d(w, n_out * k, 3, padding=1, groups=k))

        self.refiners = nn.ModuleList([convs(3, 2) for _ in range(n_iter // refine_every)])
        for r in self.refiners:  # start as plain IST
            nn.init.zeros_(r[-1].weight)
            nn.init.zeros_(r[-1].bias)
        self.sigma_head = convs(4, 1)
        self.refine_every = refine_every

    def forward(self, x):
        if not torch.is_grad_enabled():
            return self._infer(x)
        b, _, n1, n2 = x.shape
        k = self.n_members
        y = torch.complex(x[:, 0].float(), x[:, 1].float())[:, None]  # (b, 1, n1, n2)
        mask = x[:, 2:3].float()
        size = (2 * n1, 2 * n2)
        resid = torch.fft.fft2(y, s=size).expand(b, k, *size)
        top = _modulus(resid).amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)  # (b, k, 1, 1)
        model = prev = torch.zeros_like(resid)
        for i in range(self.threshold_logit.shape[1]):
            thr = torch.sigmoid(self.threshold_logit[:, i])[None, :, None, None] * top
            mag = _modulus(resid)
            model = model + resid * (torch.relu(mag - thr) / mag.clamp_min(1e-12))  # one complex product
            if self.use_momentum:  # FISTA: extrapolate along the last step
                model, prev = model + self.momentum[:, i][None, :, None, None] * (model - prev), model
            if (i + 1) % self.refine_every == 0:
                feats = torch.stack([model.real, model.imag, _modulus(model)], dim=2) / top[..., None]
                corr = _run_layers(self.refiners[(i + 1) // self.refine_every - 1],
                                   _channels_last(feats.reshape(b, 3 * k, *size)))
                corr = corr.reshape(b, k, 2, *size) * top[..., None]
                model = model + torch.complex(corr[:, :, 0], corr[:, :, 1])
            fid = torch.fft.ifft2(model)[..., :n1, :n2]
            resid = torch.fft.fft2(mask * (y - fid), s=size)
        fid = mask * y + (1 - mask) * fid  # the last layer's fid: the model is final
        feats = torch.stack([model.real, model.imag, _modulus(model), _modulus(resid)], dim=2) / top[..., None]
        feats = feats.detach()
        log_sigma = _run_layers(self.sigma_head, _channels_last(feats.reshape(b, 4 * k, *size))).reshape(b, k, *size)
        log_sigma = log_sigma + torch.log(top)
        return torch.stack([fid.real, fid.imag], dim=2).transpose(0, 1), log_sigma.transpose(0, 1)

    def _infer(self, x):
        """:meth:`forward` without autograd, the same values to float rounding in fewer passes over memory.

        The model spectrum is kept as its real view (..., 2), in which the momentum step is one ``lerp``, and
        the refiners read and write it as channels-last tensors without copies (for one member). Measured with
        the shipped ``nusnet3d``, 1024 planes of 64 x 48 on 2 cores: 8.7-9.1 against 9.1-10.1 s.
        """
        b, _, n1, n2 = x.shape
        k = self.n_members
        y = torch.complex(x[:, 0].float(), x[:, 1].float())[:, None]  # (b, 1, n1, n2)
        mask = x[:, 2:3].float()
        size = (2 * n1, 2 * n2)
        resid = torch.fft.fft2(y, s=size)
        mag = _modulus(resid)
        top = mag.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)  # (b, 1, 1, 1), as the members' is
        resid = resid.expand(b, k, *size)
        mag = mag.expand(b, k, *size)
        model_r = prev_r = torch.zeros((b, k, *size, 2), device=x.device)
        thresholds = torch.sigmoid(self.threshold_logit)  # (k, n_iter)
        for i in range(thresholds.shape[1]):
            if i:
                mag = _modulus(resid)
            keep = torch.sub(mag, thresholds[:, i][None, :, None, None] * top).clamp_min_(0)
            keep = keep.div_(mag.clamp_min(1e-12))
            new_r = torch.view_as_real(torch.view_as_complex(model_r) + resid * keep)
            if self.use_momentum:  # new + m (new - prev)
                model_r, prev_r = torch.lerp(new_r, prev_r, -self.momentum[:, i][None, :, None, None, None]), new_r
            else:
                model_r = new_r
            if (i + 1) % self.refine_every == 0:
                corr = _run_layers(self.refiners[(i + 1) // self.refine_every - 1],
                                   _member_channels(model_r, top))
                model_r = torch.addcmul(model_r, _member_parts(corr, k, 2), top[..., None])
            fid = torch.fft.ifft2(torch.view_as_complex(model_r))[..., :n1, :n2]
            resid = torch.fft.fft2(mask * (y - fid), s=size)
        fid = mask * y + (1 - mask) * fid
        log_sigma = _run_layers(self.sigma_head, _member_channels(model_r, top, _modulus(resid)))
        log_sigma = _member_parts(log_sigma, k, 1)[..., 0] + torch.log(top)
        return torch.stack([fid.real, fid.imag], dim=2).transpose(0, 1), log_sigma.transpose(0, 1)


def _member_channels(model_r, top, *extra):
    """Features (b, C k, H, W), channels-last: real, imaginary part and modulus of each member's model spectrum
    (real view (b, k, H, W, 2)), then ``extra`` (b, k, H, W) moduli, member by member, divided by ``top``."""
    b, k, h, w, _ = model_r.shape
    mod = _modulus(torch.view_as_complex(model_r))
    feats = torch.cat([model_r, mod[..., None], *(e[..., None] for e in extra)], dim=-1).div_(top[..., None])
    return feats.permute(0, 2, 3, 1, 4).reshape(b, h, w, -1).permute(0, 3, 1, 2)


def _member_parts(out, k: int, c: int):
    """A refiner's output (b, c k, H, W) as (b, k, H, W, c): each member's ``c`` channels last."""
    b, _, h, w = out.shape
    return out.permute(0, 2, 3, 1).reshape(b, h, w, k, c).permute(0, 3, 1, 2, 4)
