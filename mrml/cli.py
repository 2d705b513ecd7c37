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
    """
    from mrml.io import read

    desc = read(path).describe()
    if as_json:
        emit_json(desc)
        return
    click.echo(f"{path}: {desc['format']}, shape {tuple(desc['shape'])}, {desc['dtype']}")
    for i, ax in enumerate(desc["axes"]):
        rng = f"{ax['min']:.6g} .. {ax['max']:.6g} {ax['unit']}" if "min" in ax else ""
        extra = "" if ax.get("uniform", True) else " (non-uniform)"
        click.echo(f"  axis {i}: {ax['label']:<6} {ax['points']:>6} points  {ax['domain']:<9} {rng}{extra}")


if __name__ == "__main__":  # pragma: no cover
    main()
