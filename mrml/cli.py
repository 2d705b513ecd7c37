"""The ``mrml`` command line: a thin click layer over library functions.

Conventions (DESIGN.md, "CLI contract"): ``--json`` prints one JSON object on
stdout; user errors print one line on stderr and exit non-zero; outputs are
never overwritten without ``--overwrite``. Heavy libraries (torch, dask, zarr,
matplotlib) are imported inside the commands, never at module level.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from mrml.errors import MrmlError

EXIT_USER_ERROR = 2


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text or exc.__class__.__name__


def user_errors(func):
    """Turn project errors and common I/O errors into one-line messages and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MrmlError as exc:
            click.echo(f"mrml: error: {_one_line(exc)}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except (OSError, ValueError, KeyError) as exc:
            click.echo(f"mrml: error: {exc.__class__.__name__}: {_one_line(exc)}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("mrml: interrupted", err=True)
            sys.exit(130)

    return wrapper


def emit_json(obj) -> None:
    """Print one JSON object on stdout."""
    click.echo(json.dumps(obj, indent=None, sort_keys=False, default=_json_default))


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mrml")
def main():
    """Machine learning for magnetic resonance (NMR, DEER/EPR) and scattering data.

    \b
    Examples:
      mrml info trace.DTA
      mrml simulate deer --n 100000 --out deer.zarr
      mrml train deernet --simulate deer --ensemble 16 --out runs/deernet
      mrml deer trace.DTA -o result.csv --plot result.png
    """


def _settings(items) -> dict:
    """``--set KEY=VALUE`` options as simulator overrides."""
    from mrml.errors import InputError
    from simulators.params import parse_value

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = parse_value(value)
    return overrides


@main.command()
@click.argument("path", type=click.Path(dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def info(path, as_json):
    """Describe a data file: format, dimensions and axes.

    \b
    Examples:
      mrml info data/example_deer.DTA
      mrml info spectrum.ft2 --json
      mrml info deer.zarr
    """
    from pathlib import Path

    from mrml.io import read

    if Path(path).is_dir() and (Path(path) / "zarr.json").exists():  # a training store
        _store_info(path, as_json)
        return
    spectrum = read(path)
    desc = spectrum.describe()
    # Reader notes (e.g. an axis unit that had to be assumed) follow the "read ..." provenance step.
    desc["notes"] = [step for step in spectrum.provenance if not step.startswith("read ")]
    if as_json:
        emit_json(desc)
        return
    click.echo(f"{path}: {desc['format']}, shape {tuple(desc['shape'])}, {desc['dtype']}")
    for i, ax in enumerate(desc["axes"]):
        rng = f"{ax['min']:.6g} .. {ax['max']:.6g} {ax['unit']}".rstrip() if "min" in ax else ""
        if not ax.get("uniform", True):
            rng += " (non-uniform)"
        elif ax["points"] > 1 and "min" in ax:
            step = (ax["max"] - ax["min"]) / (ax["points"] - 1)
            rng += f", step {step:.6g}" + (f" {ax['unit']}" if ax["unit"] else "")
        click.echo(f"  axis {i}: {ax['label']:<6} {ax['points']:>6} points  {ax['domain']:<9} {rng}")
    for note in desc["notes"]:
        click.echo(f"  note: {note}")


def _store_info(path, as_json):
    """`mrml info` of a training store: simulator, size, progress and arrays."""
    from mrml.store import open_store, status

    st = status(path)
    store = open_store(path)
    specs = dict(store.group.attrs["arrays"])  # per-sample shape and dtype
    desc = {**st, "seed": store.seed, "arrays": specs, "config": store.config}
    if as_json:
        emit_json(desc)
        return
    state = "complete" if st["complete"] else f"incomplete: {st['done']} of {st['total']} chunks (--resume)"
    click.echo(f"{path}: mrml training store, simulator {st['simulator']}, {st['n']} samples in chunks of "
               f"{st['chunk']}, seed {store.seed}, {state}")
    for name, spec in specs.items():
        click.echo(f"  {name:<28} {str(tuple(spec['shape'])):<18} {spec['dtype']}")


@main.command()
@click.argument("kind", metavar="KIND")
@click.option("--n", "n", type=int, required=True, help="Number of samples (traces) to simulate.")
@click.option("--out", "out", type=click.Path(), required=True, help="Output store directory (STORE.zarr).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Base seed; chunk i is generated from default_rng([seed, i]).")
@click.option("--chunk", type=int, default=None,
              help="Samples per chunk (default: about 16 MiB of the largest array, 8192 DEER traces).")
@click.option("--scheduler", default=None, metavar="ADDR",
              help="dask.distributed scheduler address (tcp://host:8786), or threads|processes|sync "
                   "for a local scheduler (default: processes from 16 chunks on, else threads).")
@click.option("--workers", type=int, default=None, help="Local worker threads/processes (default: CPU count).")
@click.option("--resume", is_flag=True, help="Finish an interrupted store (same KIND, settings, seed, n, chunk).")
@click.option("--overwrite", is_flag=True, help="Replace an existing store.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a simulator setting or parameter range (repeatable): "
                   "n_points=512, mod_depth=0.2,0.5, shapes=gauss,flat, complex=false, clean=true "
                   "(DEER: also store the noise-free traces).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as one JSON object.")
@user_errors
def simulate(kind, n, out, seed, chunk, scheduler, workers, resume, overwrite, settings, no_progress, as_json):
    """Simulate N training samples of KIND into a zarr store, chunk by chunk.

    KIND names a registered simulator (deer, nus, hsqc, methyl, hnca, hncoca); an unknown KIND lists the
    available ones. Each chunk is one dask task seeded by (seed, chunk index):
    an interrupted run is finished with --resume and is then bit-identical to
    an uninterrupted one. Progress goes to stderr.

    \b
    Examples:
      mrml simulate deer --n 200000 --out deer.zarr
      mrml simulate deer --n 200000 --out deer.zarr --resume
      mrml simulate deer --n 50000 --out short.zarr --set t_max_us=1,2 --set n_points=128 --seed 3
      mrml simulate deer --n 10000000 --out big.zarr --scheduler tcp://10.0.0.5:8786 --json
      mrml simulate nus --n 100000 --out nus.zarr --set n_points=256 --set sampling_frac=0.1,0.3
      mrml simulate hsqc --n 10000 --out hsqc.zarr --set sizes=128,512 --set n_residues=80,200
      mrml simulate hnca --n 1000 --out hnca.zarr --set sizes=32,24,256
    """
    overrides = _settings(settings)

    from mrml.store import write_store

    summary = write_store(out, kind, n=n, chunk=chunk, seed=seed, overrides=overrides, scheduler=scheduler or "auto",
                          workers=workers, resume=resume, overwrite=overwrite,
                          progress=not no_progress)
    if as_json:
        emit_json(summary)
        return
    click.echo(f"{summary['path']}: {summary['n']} {kind} samples in {summary['n_chunks']} chunks of "
               f"{summary['chunk']} ({summary['chunks_written']} written, {summary['chunks_skipped']} already done) "
               f"in {summary['seconds']:.1f} s, {summary['traces_per_s']:.0f} samples/s")


@main.command()
@click.argument("model", type=click.Choice(["deernet", "nusnet", "nusnet3d"]))
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="Training store made by `mrml simulate deer` (deernet) or `mrml simulate nus` (nusnet).")
@click.option("--simulate", "simulate_kind", type=click.Choice(["deer", "nus", "nus3d"]),
              help="Train on fresh simulations every step.")
@click.option("--ensemble", default=None, type=int,
              help="Number of networks in the ensemble (deernet 16, nusnet 4, nusnet3d 1).")
@click.option("--steps", default=20000, show_default=True, help="Optimiser steps.")
@click.option("--batch-size", default=None, type=int,
              help="Examples per step (deernet 256 per member, nusnet 64, nusnet3d 16 planes of 32 x 24).")
@click.option("--lr", default=2e-3, show_default=True, help="Peak learning rate (one-cycle schedule).")
@click.option("--seed", default=0, show_default=True, help="Seed of data and initialisation.")
@click.option("--device", default=None, help="torch device (default: cuda if present, else cpu).")
@click.option("--time-limit", "time_limit_s", type=float, default=None, help="Stop training after this many seconds.")
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder for weights and card.json.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder's model.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--hparam", "hparams", multiple=True, metavar="KEY=VALUE",
              help="Network hyperparameter (repeatable): deernet hidden, n_layers; nusnet n_iter, refine_every, "
                   "width, final_threshold, learned_sigma (kind=unrolled|cnn); nusnet3d n_iter, refine_every, width, "
                   "final_threshold.")
@click.option("--init", "init", default=None,
              help="Start from this trained model (folder or shipped name): fine-tuning; its hyperparameters and "
                   "ensemble size apply (nusnet, nusnet3d: unless changed by --hparam, nusnet also by --ensemble; "
                   "weights of the same name and shape are taken, and fewer layers keep the first layers').")
@click.option("--loss", "loss", type=click.Choice(["mse", "log-mse", "log-mse-peaks"]), default=None,
              help="nusnet, nusnet3d: squared spectral error (default), or its log per column or plane, which "
                   "weighs well-sampled data as much as sparse ones; nusnet: log-mse-peaks adds the relative "
                   "error of the peak heights.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="nusnet, nusnet3d: override a setting or parameter range of the --simulate simulator "
                   "(repeatable), as for `mrml simulate`.")
@click.option("--json", "as_json", is_flag=True, help="Print the model card as JSON.")
@user_errors
def train(model, data, simulate_kind, ensemble, steps, batch_size, lr, seed, device, time_limit_s, out_dir,
          overwrite, no_progress, hparams, init, loss, settings, as_json):
    """Train a registered architecture on a store or on fresh simulations.

    \b
    Examples:
      mrml train deernet --simulate deer --ensemble 16 --out runs/deernet
      mrml simulate deer --n 1000000 --out deer.zarr && mrml train deernet --data deer.zarr --out runs/d2
      mrml train nusnet --simulate nus --out runs/nusnet
      mrml train nusnet --simulate nus --hparam n_iter=24 --hparam width=16 --out runs/nusnet-wide
      mrml train nusnet3d --simulate nus3d --out runs/nusnet3d
    """
    import shlex
    from pathlib import Path

    from simulators.params import parse_value

    from mrml.errors import InputError

    kind = {"deernet": "deer", "nusnet": "nus", "nusnet3d": "nus3d"}[model]
    if bool(data) == bool(simulate_kind):
        raise InputError(f"give exactly one of --data STORE.zarr or --simulate {kind}")
    if simulate_kind and simulate_kind != kind:
        raise InputError(f"{model} trains on `{kind}` simulations, not `{simulate_kind}`")
    if (Path(out_dir) / "card.json").exists() and not overwrite:
        raise InputError(f"{out_dir} already holds a model; use --overwrite to replace it")
    from mrml.train import train as run_training

    if init and ensemble is not None and model != "nusnet":
        raise InputError("--init keeps the ensemble size of the model it starts from; drop --ensemble")
    if loss and model == "deernet":
        raise InputError("--loss is for nusnet and nusnet3d")
    if settings and (model == "deernet" or not simulate_kind):
        raise InputError("--set is for nusnet and nusnet3d trained with --simulate")
    overrides = _settings(settings)

    command = "mrml " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    sizes = {k: v for k, v in (("ensemble", ensemble), ("batch_size", batch_size)) if v is not None}
    if overrides:
        sizes["overrides"] = overrides
    allowed = {"deernet": ("hidden", "n_layers"),
               "nusnet": ("n_iter", "refine_every", "width", "final_threshold", "kind", "dilations", "learned_sigma"),
               "nusnet3d": ("n_iter", "refine_every", "width", "final_threshold")}[model]
    net = {}
    for item in hparams:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in allowed:
            raise InputError(f"--hparam {item!r}: expected KEY=VALUE with KEY one of {', '.join(allowed)}")
        net[key.strip()] = parse_value(value)
    if init and net and (model == "deernet" or "kind" in net):
        raise InputError("--init keeps the hyperparameters of the model it starts from; drop --hparam")
    if model == "deernet":
        sizes.update(net, init=init)
    elif model == "nusnet3d":
        sizes.update(hparams=net)
    elif net and init:
        sizes.update(hparams=net)
    elif net:
        kind_name = net.pop("kind", "unrolled")
        from mrml.train_nus import DEFAULT_HPARAMS

        sizes.update(kind=kind_name, hparams={**(DEFAULT_HPARAMS if kind_name == "cnn" else {}), **net})
    if model != "deernet":
        sizes.update(init=init, loss=loss or "mse")
    card = run_training(model, out_dir, data=data, steps=steps, lr=lr, seed=seed, device=device,
                        progress=not no_progress, command=command, time_limit_s=time_limit_s, **sizes)
    if as_json:
        emit_json(card)
    elif model == "deernet":
        m = card["metrics_validation"]
        click.echo(f"wrote {out_dir}: overlap {m['overlap']:.3f}, mean-distance error "
                   f"{m['mean_distance_error_nm']:.3f} nm, 95% band coverage {m['coverage_significant']:.3f}")
    elif model == "nusnet3d":
        for shape, m in card["metrics_validation"].items():
            click.echo(f"wrote {out_dir}: {shape} planes: spectral NRMSD {m['nrmsd_net']:.3f} (IST "
                       f"{m['nrmsd_ist']:.3f}) on {m['n']} validation planes; network better on "
                       f"{m['share_net_better']:.0%}; band coverage {m['coverage_all']:.3f}")
    else:
        for m in card["metrics_validation"].values():
            click.echo(f"wrote {out_dir}: {m['n_points']} points: spectral NRMSD {m['nrmsd_net']:.3f} (IST "
                       f"{m['nrmsd_ist']:.3f}) on {m['n']} validation columns; network better on "
                       f"{m['share_net_better']:.0%}; band coverage {m['coverage_all']:.3f}")


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def models(name, as_json):
    """List shipped models, or show one model's card.

    \b
    Examples:
      mrml models
      mrml models deernet --json
    """
    from mrml.models import list_models, load_card

    if name:
        card = load_card(name)
        if as_json:
            emit_json(card)
            return
        click.echo(f"{card['name']}: {card['task']}")
        click.echo(f"  training: {card['training']['command']}  (seed {card['training']['seed']})")
        metrics = card["metrics_validation"]
        flat = {f"{k}.{k2}": v2 for k, v in metrics.items() if isinstance(v, dict) for k2, v2 in v.items()}
        flat.update({k: v for k, v in metrics.items() if not isinstance(v, dict)})
        for key, val in flat.items():
            click.echo(f"  {key:<32} {val:.4g}" if isinstance(val, float) else f"  {key:<32} {val}")
        click.echo(f"  sha256 {card['sha256']}")
        return
    names = list_models()
    if as_json:
        emit_json({n: load_card(n)["task"] for n in names})
        return
    width = max((len(n) for n in names), default=0)
    for n in names:
        click.echo(f"{n:<{width}}  {load_card(n)['task']}")


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(), help="Result CSV for one input.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder for several inputs.")
@click.option("--plot", type=click.Path(), default=None,
              help="Figure path for one input; with --out, any value writes DIR/<stem>.png.")
@click.option("--model", default="deernet", show_default=True, help="Shipped model name or a trained folder.")
@click.option("--zero-time", "zero_time_us", type=float, default=None, help="Known zero time (us) on the file's axis.")
@click.option("--time-unit", type=click.Choice(["ns", "us"]), default=None,
              help="Override the time unit of the file's axis (for exports that omit it).")
@click.option("--level", type=float, default=0.95, show_default=True,
              help="Nominal level of the band: 0.95, or 0.9, 0.85, 0.8 (each calibrated on the model's own "
                   "simulations).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object; with --out also DIR/<stem>.json).")
@user_errors
def deer(inputs, output, out_dir, plot, model, zero_time_us, time_unit, level, overwrite, as_json):
    """Distance distribution P(r) with a calibrated 95 % band from DEER traces.

    INPUTS: Bruker BES3T (.DTA/.DSC), two-column text (t in us, V) or .npy.
    Writes CSV columns r_nm,P,P_lower,P_upper (the band at --level); --json adds mod_depth, r_mean_nm,
    band_level, warnings.

    \b
    Examples:
      mrml deer data/example_deer.DTA -o result.csv --plot result.png
      mrml deer traces/*.DTA --out results/ --json
    """
    from mrml.deer_batch import run_deer

    code = run_deer(inputs, output=output, out_dir=out_dir, plot=plot, model=model, zero_time_us=zero_time_us,
                    time_unit=time_unit, overwrite=overwrite, as_json=as_json, echo=click.echo, emit=emit_json,
                    level=level)
    if code:
        sys.exit(code)



@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--schedule", "schedule_path", default=None, type=click.Path(),
              help="Sampling schedule: 0-based complex-point indices, one per line, in acquisition order "
                   "(default for a Bruker folder: its nuslist).")
@click.option("-o", "--output", type=click.Path(), help="Output NMRPipe file for one input.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder for several inputs.")
@click.option("--method", type=click.Choice(["net", "ist", "ist-ve"]), default="net", show_default=True,
              help="net: the network (--model; uses --phase, estimated when not given); ist: iterative "
                   "soft thresholding (200 iterations, as hmsIST); ist-ve: IST with the virtual-echo constraint "
                   "(needs --phase and a first point at t = 0).")
@click.option("--phase", "phase_deg", type=float, default=None,
              help="Zero-order phase (degrees, NMRPipe PS -p0) of the indirect dimension, for ist-ve and net.")
@click.option("--model", default=None,
              help="Network for --method net: 2D nusnet (default; an ensemble, more accurate) or nusnet-fast (one "
                   "network with a learned band, about 3x faster); "
                   "3D nusnet3d (default); or a `mrml train nusnet|nusnet3d` output folder.")
@click.option("--uncertainty", "with_band", is_flag=True,
              help="With --method net: also write OUT_STEM.band.ft2, the half-width of the calibrated 95% band at "
                   "every point of the indirect spectrum (NMRPipe; indirect dimension zero-filled, transformed and "
                   "phased, no window).")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="Figure (PNG/PDF/SVG) of the zero-filled and reconstructed indirect spectra (sine bell, zero "
                   "fill, FT, --phase or the estimated phase), with the significance map for --method net. "
                   "With --out DIR: DIR/<stem>.png.")
@click.option("--points", "n_points", type=int, default=None,
              help="Complex points of the full indirect dimension (default: Bruker acqu2s TD/2, else the last "
                   "index + 1 rounded up to 16).")
@click.option("--direct-phase", "direct_phase_deg", type=float, default=None,
              help="Zero-order phase (degrees) of the direct dimension of a raw Bruker folder (default: automatic).")
@click.option("--iterations", "n_iter", type=int, default=200, show_default=True, help="IST iterations.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def reconstruct(inputs, schedule_path, output, out_dir, method, phase_deg, model, with_band, plot_path, n_points,
                direct_phase_deg, n_iter, overwrite, as_json):
    """Reconstruct non-uniformly sampled NMR planes and 3D data sets (NMRPipe in, NMRPipe out).

    Each input is an NMRPipe plane whose direct dimension is processed and whose indirect dimension
    holds only the sampled complex points (States rows interleaved) in schedule order, or a raw
    Bruker NUS experiment folder (ser, acqus, acqu2s, nuslist; States or echo/antiecho), whose
    direct dimension is processed automatically. The output (NMRPipe) holds the full indirect time
    domain, ready for apodisation, zero filling and Fourier transform.

    A 3D NMRPipe data set (HNCA, HN(CO)CA; direct dimension processed, both indirect dimensions expanded
    to full size with zeros at unsampled pairs, as NMRPipe's nusExpand.tcl writes them; one stream file
    or a quoted plane-series template such as 'ft/test%03d.ft1', for input and output) takes a
    two-column schedule of sampled pairs in Bruker nuslist order (first indirect dimension, NMRPipe Y,
    then the second, Z) and is reconstructed in both indirect
    dimensions at once (methods net and ist). A raw Bruker 3D NUS folder (ser, acqus, acqu2s,
    acqu3s, two-column nuslist; States, States-TPPI or echo/antiecho) is processed in its direct
    dimension and expanded to that layout first.

    \b
    Examples:
      mrml reconstruct hdac_ex.ft1 --schedule ss_hdac.out --points 192 -o hdac_full.ft1
      mrml reconstruct planes/*.ft1 --schedule nuslist --out full/
      mrml reconstruct nus.ft1 --schedule nuslist --method ist-ve --phase 90 -o full.ft1
      mrml reconstruct nus.ft1 --schedule nuslist --method net --uncertainty -o full.ft1
      mrml reconstruct bruker/12/ -o hsqc_full.ft1
      mrml reconstruct hnca_nus.ft1 --schedule nuslist3d -o hnca_full.ft1 --uncertainty
      mrml reconstruct bruker/hnca/ -o hnca_full.ft1
      mrml reconstruct 'ft/test%03d.ft1' --schedule nuslist -o 'rec/test%03d.ft1'
    """
    from pathlib import Path

    from mrml.errors import InputError
    from mrml.io import read, write
    from mrml.io.schedule import read_schedule
    from mrml.stages.nus import reconstruct as run

    if (output is None) == (out_dir is None):
        raise click.UsageError("give -o OUT for one input or --out DIR for several")
    if output is not None and len(inputs) > 1:
        raise click.UsageError("-o takes one input; use --out DIR for several")
    if with_band and method != "net":
        raise InputError("--uncertainty needs --method net (the band comes from the network)")
    schedule = read_schedule(schedule_path) if schedule_path else None
    targets = [Path(output)] if output else [Path(out_dir) / (Path(p).name if Path(p).suffix else f"{Path(p).name}.ft1")
                                             for p in inputs]
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    summaries, failed = [], 0
    from tqdm import tqdm

    pairs = tqdm(list(zip(inputs, targets)), desc="reconstruct", unit="plane", file=sys.stderr,
                 disable=len(inputs) == 1, mininterval=1.0)
    for src, dst in pairs:
        try:
            band_dst = dst.with_name(f"{dst.stem}.band.ft2") if with_band else None
            fig_dst = (Path(plot_path) if output else _figure_name(dst)) if plot_path else None
            for p in (dst, band_dst, fig_dst):  # before the work, not after it
                if p is not None and _output_exists(p) and not overwrite:
                    raise InputError(f"{p} exists; use --overwrite to replace it")
            spectrum = read(src)
            if spectrum.ndim == 3:
                summaries.append(_reconstruct_3d(spectrum, schedule, dst, band_dst, fig_dst, method=method,
                                                 n_iter=n_iter, model=model, n_points=n_points, phase_deg=phase_deg,
                                                 direct_phase_deg=direct_phase_deg))
                if not as_json:
                    click.echo(_reconstruct_line(src, summaries[-1]))
                continue
            result, info = run(spectrum, schedule, n_points=n_points, method=method, n_iter=n_iter,
                               phase_deg=phase_deg, direct_phase_deg=direct_phase_deg, model=model or "nusnet")
            write(dst, result)  # atomic
            for warning in info.warnings:
                click.echo(f"mrml: warning: {src}: {warning}", err=True)
            summary = {**info.summary(), "output": str(dst)}
            if band_dst is not None:
                from mrml.stages.nus_net import uncertainty_plane

                write(band_dst, uncertainty_plane(result, info.members, phase_deg=info.phase_deg, z=info.column_z(),
                                                  sigmas=info.sigma))
                summary["uncertainty"] = str(band_dst)
            if fig_dst is not None:
                _nus_plot(result, info, fig_dst)
                summary["plot"] = str(fig_dst)
            summaries.append(summary)
            if not as_json:
                click.echo(_reconstruct_line(src, summary))
        except MrmlError as exc:
            if len(inputs) == 1:
                raise
            failed += 1
            click.echo(f"mrml: skipped {src}: {_one_line(exc)}", err=True)
    if as_json:
        emit_json(summaries[0] if output else {"results": summaries, "failed": failed})
    if failed:
        sys.exit(EXIT_USER_ERROR)


def _reconstruct_line(src, summary: dict) -> str:
    """One line per reconstruction for a person reading the terminal (``--json`` gives everything)."""
    if "sampled_pairs" in summary:  # 3D
        n1, n2 = summary["indirect_points"]
        what = f"{summary['sampled_pairs']} of {n1} x {n2} pairs"
    else:
        what = f"{summary['n_sampled']} of {summary['n_points']} points"
    line = (f"{src}: {summary['method']}, {what} ({summary['sampling_fraction']:.1%}), {summary['seconds']:.1f} s "
            f"-> {summary['output']}")
    if "uncertainty" in summary:
        widened = summary.get("band_snr_factor")
        line += f"; band -> {summary['uncertainty']}"
        if widened and widened["columns_widened"]:
            line += (f" (widened up to {widened['max']:.2f}x for low signal-to-noise in "
                     f"{widened['columns_widened']} columns)")
    if "plot" in summary:
        line += f"; plot -> {summary['plot']}"
    return line


def _figure_name(dst):
    """DIR/<stem>.png for an output, without the plane-number field of an NMRPipe series (test%03d)."""
    import re

    return dst.with_name(re.sub(r"%0?\d*d", "", dst.name)).with_suffix(".png")


def _output_exists(path) -> bool:
    """Whether writing ``path`` would replace something (the first plane, for an NMRPipe plane series)."""
    from mrml.io.nmrpipe import is_series, series_exists

    return series_exists(path) if is_series(path) else path.exists()


def _reconstruct_3d(spectrum, schedule, dst, band_dst, fig_dst, *, method, n_iter, model, n_points, phase_deg,
                    direct_phase_deg=None):
    """One 3D reconstruction (:func:`mrml.stages.nus3d.reconstruct_3d`) with its band and figure; its summary.

    A raw Bruker 3D NUS folder is first processed and expanded (:func:`mrml.stages.nmr_direct.bruker_cube`).
    """
    import numpy as np

    from mrml.errors import InputError
    from mrml.io import write
    from mrml.stages.nus3d import band_cube, reconstruct_3d

    if spectrum.format == "bruker":
        from mrml.stages.nmr_direct import bruker_cube

        if "nuslist" not in spectrum.header:
            raise InputError(f"{spectrum.source}: a fully sampled 3D Bruker data set (no nuslist); nothing to "
                             "reconstruct")
        spectrum, prep = bruker_cube(spectrum, p0_deg=direct_phase_deg)
        if schedule is not None and not np.array_equal(np.asarray(schedule), prep["nuslist"]):
            raise InputError("--schedule differs from the folder's nuslist, which says where the sampled data sit")
        schedule = prep["nuslist"]
    if schedule is None:
        raise InputError("a 3D data set needs --schedule (a two-column list of sampled pairs)")
    if method == "ist-ve":
        raise InputError("--method ist-ve is for 2D planes; use net or ist for 3D data")
    if n_points or phase_deg is not None:
        raise InputError("--points and --phase are for 2D planes; a 3D file's sizes come from its header and the "
                         "network estimates each plane's phase")
    result, info = reconstruct_3d(spectrum, schedule, method=method, n_iter=n_iter, model=model or "nusnet3d")
    write(dst, result)  # atomic
    for warning in info.warnings:
        click.echo(f"mrml: warning: {spectrum.source}: {warning}", err=True)
    summary = {**info.summary(), "output": str(dst)}
    if band_dst is not None:
        write(band_dst, band_cube(result, info))
        summary["uncertainty"] = str(band_dst)
    if fig_dst is not None:
        from mrml.plot import nus3d_figure, save_figure

        save_figure(nus3d_figure(spectrum, result, info, title=f"{dst.stem}: {method}, {info.n_sampled} of "
                                 f"{info.shape[0]} x {info.shape[1]} pairs"), fig_dst)
        summary["plot"] = str(fig_dst)
    return summary


def _nus_plot(result, info, path):
    """Figure of one reconstruction (see :func:`mrml.plot.nus_figure`)."""
    import numpy as np

    from mrml.plot import nus_figure, save_figure

    data = np.asarray(result.data)
    cols = np.concatenate([data.real, data.imag], axis=1) if np.iscomplexobj(data) else data
    n_cols = data.shape[1]
    full = (cols[0::2] + 1j * cols[1::2])[:, :n_cols]
    sched = np.asarray(info.schedule)
    phase = info.phase_deg if info.phase_deg is not None else 0.0
    band = None
    if info.members is not None:
        from mrml.stages.nus_net import band_halfwidth

        band = band_halfwidth(info.members[:, :, :n_cols], phase_deg=phase, z=info.column_z(),
                              sigmas=None if info.sigma is None else info.sigma[:, :, :n_cols])
    fig = nus_figure(full[sched], sched, full, phase_deg=phase, band=band,
                     title=f"{path.stem}: {info.method}, {info.n_sampled} of {info.n_points} points "
                           f"({info.sampling_fraction:.1%})")
    save_figure(fig, path)


@main.command()
@click.option("--points", "shape", required=True, type=int, multiple=True,
              help="Complex points of the full indirect dimension; give it twice for two indirect dimensions, "
                   "in nuslist column order (first indirect dimension, NMRPipe Y, then Z).")
@click.option("--sampled", "n_sampled", type=int, default=None, help="Points (or pairs) to sample.")
@click.option("--fraction", type=float, default=None, help="Fraction to sample (instead of --sampled).")
@click.option("--kind", type=click.Choice(["poisson-gap", "exponential"]), default="poisson-gap", show_default=True)
@click.option("--decay", type=float, default=0.5, show_default=True, help="Weight decay of `exponential` schedules.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the schedule.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Schedule file (one point per line).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@user_errors
def schedule(shape, n_sampled, fraction, kind, decay, seed, output, overwrite, as_json):
    """Make a seeded NUS schedule (0-based indices, Bruker nuslist / FID-Net layout).

    \b
    Examples:
      mrml schedule --points 256 --fraction 0.25 -o nuslist
      mrml schedule --points 64 --points 48 --sampled 600 --kind exponential -o nuslist3d
    """
    import numpy as np

    from mrml.errors import InputError
    from mrml.io.schedule import write_schedule
    from simulators.nmr.schedules import exponential_random, poisson_gap, poisson_gap_2d

    if len(shape) not in (1, 2):
        raise InputError("give --points once (one indirect dimension) or twice (two)")
    total = int(np.prod(shape))
    if (n_sampled is None) == (fraction is None):
        raise InputError("give exactly one of --sampled or --fraction")
    n = int(n_sampled if n_sampled is not None else round(fraction * total))
    if not 1 <= n <= total:
        raise InputError(f"the schedule needs between 1 and {total} points, got {n}")
    rng = np.random.default_rng(seed)
    if kind == "exponential":
        sched = exponential_random(shape[0] if len(shape) == 1 else shape, n, rng=rng, decay=decay)
    elif len(shape) == 1:
        sched = poisson_gap(shape[0], n, rng=rng)
    else:
        sched = poisson_gap_2d(shape, n, rng=rng)
    write_schedule(output, sched, overwrite=overwrite)
    if as_json:
        emit_json({"output": output, "kind": kind, "points": list(shape), "sampled": n, "fraction": n / total,
                   "seed": seed})


if __name__ == "__main__":  # pragma: no cover
    main()
