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


@click.command("featurize", epilog=EXPERIMENT_HELP)
@experiment_argument
@click.option("--datasets", metavar="NAMES", help="Comma-separated subset of the config's datasets.")
@click.option("--featurizers", metavar="NAMES", help="Comma-separated subset of the config's featurizers.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where transformer featurizers run; auto picks CUDA when torch sees one.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Texts per batch for transformer featurizers [default: 32 on CPU, 256 on CUDA].")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default=None,
              help="Numeric precision of transformer featurizers [default: fp32 on CPU, fp16 on CUDA]. "
                   "Other precisions give other numbers, stored as other artifacts; set `precision` "
                   "in the config's featurizer table so the experiment stage uses the same ones.")
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
    results = featurize_config(config, workspace, device=device, batch_size=batch_size, precision=precision,
                               reuse=reuse, datasets=_names(datasets), featurizers=_names(featurizers))
    for features in results:
        meta = features.artifact.meta
        state = "cached" if features.cached else f"computed in {meta.get('seconds', 0):.1f}s"
        click.echo(f"{meta['dataset']}\t{features.featurizer_id}\t{'x'.join(map(str, features.shape))}\t"
                   f"{state}\t{features.path}")


if __name__ == "__main__":
    main()
