"""``python -m enso.featurize``: compute (or find cached) features for an experiment's datasets."""

from __future__ import annotations

import inspect

import click

from enso.cli_common import (
    EXPERIMENT_HELP,
    common_options,
    experiment_argument,
    pass_workspace,
    reuse_options,
)


def _names(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def list_featurizers() -> str:
    """Every registered featurizer, with its parameters and defaults."""
    from enso.features import FEATURIZERS

    lines = []
    for name, factory in FEATURIZERS.items():
        doc = (factory.__doc__ or "").strip().splitlines()
        aliases = FEATURIZERS.aliases_of(name)
        tags = getattr(factory, "tags", None)
        if tags is not None and tags.in_domain:
            kind = "in-domain: fit on the train split"
        elif getattr(factory, "random_weights", False):
            kind = "control: random weights"
        else:
            kind = "pretrained"
        lines.append(f"{name}{' (alias: ' + ', '.join(aliases) + ')' if aliases else ''}  [{kind}]")
        if doc:
            lines.append(f"    {doc[0].replace('``', '')}")
        defaults = factory.param_defaults() if hasattr(factory, "param_defaults") else {}
        shown = ", ".join(f"{k}={'<required>' if v is inspect.Parameter.empty else repr(v)}"
                          for k, v in defaults.items())
        lines.append(f"    parameters: {shown or 'none'}")
    return "\n".join(lines)


def record_precision(config, precision: str, device: str, featurizers: list[str] | None = None) -> list[str]:
    """``--precision``: make ``auto`` mean ``precision`` (or calibrate again, for ``auto``) for the config's models.

    Only featurizers whose own ``precision`` is ``auto`` follow; one with an explicit precision in
    the config keeps it (a line says so). Returns the lines to show.
    """
    from enso.features import FEATURIZERS, make_featurizer
    from enso.features import precision as calibration
    from enso.features.encoder import resolve_device

    wanted = {FEATURIZERS.canonical(name) for name in featurizers} if featurizers else None
    device = resolve_device(device)
    forced = calibration.forced(device)
    if forced:
        return [f"note: ${calibration.ENV_FORCE}={forced} decides what precision 'auto' is, so --precision "
                f"{precision} is not recorded; unset it to let the experiment stage follow --precision"]
    lines, done = [], set()
    for spec in config.featurizers:
        if wanted is not None and FEATURIZERS.canonical(spec.name) not in wanted:
            continue
        featurizer = make_featurizer(spec.name, spec.params)
        if not hasattr(featurizer, "precision_subject"):
            continue
        featurizer.configure(device=device)
        if featurizer.precision != "auto":
            lines.append(f"note: {spec.label} has precision = {featurizer.precision!r} in the config and keeps it")
            continue
        subject = featurizer.precision_subject()
        key = calibration.cache_key(subject, device)
        if key in done:
            continue
        done.add(key)
        if precision == "auto":
            calibration.forget(subject, device)
            chosen = calibration.auto_precision(subject, device)
            lines.append(f"precision auto for {spec.label} on {device}: calibrated again, {chosen}")
        else:
            where = calibration.record(subject, device, precision, f"enso featurize --precision {precision}")
            lines.append(f"precision auto for {spec.label} on {device} is now {precision} on this machine "
                         f"(recorded in {where}; `enso featurize --precision auto` calibrates again)")
    return lines


@click.command("featurize", epilog=EXPERIMENT_HELP)
@experiment_argument
@click.option("--datasets", metavar="NAMES", help="Comma-separated subset of the config's datasets.")
@click.option("--featurizers", metavar="NAMES", help="Comma-separated subset of the config's featurizers.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where transformer featurizers run; auto picks CUDA when torch sees one.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Texts per batch for transformer featurizers [default: 32 on CPU, 256 on CUDA].")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16", "int8", "onnx-fp32"]), default=None,
              help="Numeric precision of transformer featurizers [default: what precision = 'auto' resolves "
                   "to: the fastest that keeps cosine >= 0.999 with fp32, calibrated once per machine and "
                   "model]. A precision named here is recorded as what 'auto' means for those models on this "
                   "machine, so `enso experiment` uses the same features; 'auto' calibrates again. "
                   "See docs/precision.md.")
@click.option("--list", "list_only", is_flag=True, help="List registered featurizers and their parameters, then exit.")
@common_options
@reuse_options()
@pass_workspace
def main(workspace, experiment, datasets, featurizers, device, batch_size, precision, list_only, reuse) -> None:
    """Featurize every dataset x featurizer of EXPERIMENT into featurizers/, skipping cached ones.

    Each result is a verified artifact in featurizers/<featurizer-id>/<dataset-hash>/
    (features.npy or features.npz plus manifest.json). In-domain featurizers are fit on
    each dataset's train split only.
    """
    if list_only:
        click.echo(list_featurizers())
        return
    from enso.components import load_config
    from enso.features import featurize_config

    config = load_config(experiment, workspace)
    asked = precision  # an explicit --precision wins over the protocol's pin
    if precision is not None:
        lines = record_precision(config, precision, device, featurizers=_names(featurizers))
        for line in lines:
            click.echo(line, err=True)
        if not (lines and lines[0].startswith("note: $")):
            precision = None  # every auto featurizer now resolves to it; explicit ones keep their own
    from enso.features.precision import pinned
    from enso.protocols.base import feature_precision

    with pinned(None if asked else feature_precision(config)):  # mteb/senteval: auto is fp32 (their references)
        results = featurize_config(config, workspace, device=device, batch_size=batch_size, precision=precision,
                                   reuse=reuse, datasets=_names(datasets), featurizers=_names(featurizers))
    for features in results:
        meta = features.artifact.meta
        state = "cached" if features.cached else f"computed in {meta.get('seconds', 0):.1f}s"
        click.echo(f"{meta['dataset']}\t{features.featurizer_id}\t{'x'.join(map(str, features.shape))}\t"
                   f"{state}\t{features.path}")


if __name__ == "__main__":
    main()
