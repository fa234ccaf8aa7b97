# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""``python -m monai_sre convert-bundle BUNDLE_DIR --to sre|group --output NEW_DIR [--augment so3]``: a new MONAI
bundle whose network is the source bundle's, converted (see ``docs/convert_bundle.md``).

The new bundle is a copy of the source (its weights, run outputs and ``large_files`` list left out) in which

- every config that defines ``network_def`` wraps it, as written, in :func:`converted_network`::

      "network_def": {"_target_": "monai_sre.audit.converted_network", "to": "sre", "network": {<the original>}}

  so MONAI's ``ConfigParser`` builds the original network and converts it (``convert_to_sre`` or
  ``convert_to_group``) and the configs stay standalone and readable;
- with ``--augment so3`` the training preprocessing gains a uniformly random 3D rotation
  (:mod:`monai_sre.audit.augment`);
- ``configs/metadata.json`` gets a new version, a changelog entry and ``monai-sre`` among the required packages;
- ``docs/conversion_report.json`` and ``.md`` say what was converted, which layers keep the network from being
  exactly equivariant to the grid symmetries it declares and why, the equivariance error measured on the new
  bundle's network, and what happened to the weights; ``docs/README.md`` says how to train it.

Weights are copied only when the converted network computes what the source network computed with them, which
the converters never give for a trained network: ``convert_to_group`` initialises every layer afresh, and
``convert_to_sre`` projects each dense kernel onto its symmetric band space (the least-squares fit), which
changes any kernel that was not symmetric already, and replaces strides by pooling. The decision is measured, not
assumed: the source weights are loaded, converted, and both networks are run on the same random input.
"""

from __future__ import annotations

import copy
import importlib.metadata
import inspect
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ConfigParser
from torch import nn

from monai_sre.audit.augment import AUGMENTATIONS, RotationPlan, apply_rotation, plan_rotation
from monai_sre.audit.configs import SEP, RawConfigs, config_file
from monai_sre.evaluation.robustness import evaluating
from monai_sre.groups import apply_grid_symmetry, grid_group
from monai_sre.networks.convert import ALREADY_SYMMETRIC, ConversionReport, convert_to_sre
from monai_sre.networks.convert_group import convert_to_group
from monai_sre.networks.layers import GroupConv, SREConv, SREConvTranspose
from monai_sre.networks.weights import load_weights
from monai_sre.runs import as_flag

__all__ = ["CONVERTERS", "ConvertedBundle", "convert_bundle", "converted_network", "train_configs"]

CONVERTERS = {"sre": convert_to_sre, "group": convert_to_group}
BUILDER = "monai_sre.audit.converted_network"
EXACT_RTOL = 1e-4  # a measured relative error at or below this is float32 round-off: exact
_LEFT_OUT = {"models", "runs", "eval", "logs", "mlruns", "__pycache__", "large_files.yml", "large_files.yaml"}
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)


def converted_network(network: nn.Module, to: str = "sre", **options: Any) -> nn.Module:
    """``network`` converted by ``convert_to_<to>`` with ``options`` (in place): a converted bundle's
    ``network_def``.

    Args:
        network: the source bundle's network (MONAI builds it from the original ``network_def``).
        to: ``"sre"`` (:func:`~monai_sre.networks.convert_to_sre`) or ``"group"``
            (:func:`~monai_sre.networks.convert_to_group`).
        options: the converter's keyword arguments (``stride_policy``, ``kernel_size``, ``group``, ``space`` ...).

    Example (a bundle config)::

        "network_def": {"_target_": "monai_sre.audit.converted_network", "to": "group", "group": "Oh",
                        "network": {"_target_": "DenseNet121", "spatial_dims": 3, ...}}
    """
    return CONVERTERS[_method(to)](network, inplace=True, **_options(to, options))[0]


def _method(to: str) -> str:
    if to not in CONVERTERS:
        raise ValueError(f"--to must be one of {sorted(CONVERTERS)}, got {to!r}.")
    return to


def _options(to: str, options: Mapping[str, Any]) -> dict:
    """The converter's keyword arguments among ``options``; an unknown name is refused, naming the known ones."""
    params = inspect.signature(CONVERTERS[to]).parameters
    known = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "inplace"]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(
            f"unknown option(s) {['--' + u for u in unknown]} for --to {to}: convert_to_{to} takes "
            f"{['--' + k for k in known]}."
        )
    return dict(options)


def train_configs(bundle_dir: str | Path) -> list[str]:
    """The configs a bundle trains with, as the model zoo merges them: ``train.json``, preceded by
    ``inference.json`` where that defines ``network_def`` and ``train.json`` does not (this package's bundles).

    Raises:
        FileNotFoundError: the bundle has no ``configs/train.json`` (its converted network could not be trained).
    """
    folder = Path(bundle_dir) / "configs"
    train = config_file(folder, "train")
    if train is None:
        raise FileNotFoundError(
            f"'{folder}' has no train.json: a converted network must be trained, and this bundle has no training "
            "config; pass --config with the configs that train it."
        )
    raw = RawConfigs(folder)
    inference = config_file(folder, "inference")
    if not raw.defines(train, "network_def") and inference is not None and raw.defines(inference, "network_def"):
        return [inference, train]
    return [train]


def _config_names(bundle_dir: Path, config: str | Sequence[str] | None) -> list[str]:
    if config is None:
        return train_configs(bundle_dir)
    if isinstance(config, str):
        config = [name for name in config.strip("[]").split(",") if name.strip()]
    names = [Path(str(name).strip("'\" ")).name for name in config]
    for name in names:
        if not (bundle_dir / "configs" / name).is_file():
            raise FileNotFoundError(f"config '{name}' not found in '{bundle_dir / 'configs'}'.")
    return names


# symmetry ----------------------------------------------------------------------------------------------------


def declared_group(to: str, options: Mapping[str, Any], spatial_dims: int) -> str:
    """The grid symmetries a converted network is built to respect: all of them for SRE kernels (``Oh`` in 3D,
    ``D4`` in 2D), the converter's ``group`` otherwise."""
    if to == "group":
        return str(options.get("group", "Oh" if spatial_dims == 3 else "D4"))
    return "Oh" if spatial_dims == 3 else "D4"


def exactness_limits(model: nn.Module, report: ConversionReport) -> list[tuple[str, str]]:
    """The layers of a converted network that keep it from being exactly equivariant to the grid symmetries,
    with the reason: modules the converter kept (its report's reasons, 1x1 convolutions excepted) and any module
    of the result that breaks the symmetry (a dense kernel, a kept stride, a non-cubic kernel, a strided pool)."""
    limits = [(name, reason) for name, reason in report.skipped if reason != ALREADY_SYMMETRIC]
    limits = [(n, "left as it was (it matches --skip)" if r == "matches skip" else r) for n, r in limits]
    for name, module in model.named_modules():
        if any(name == n or name.startswith(n + ".") for n, _ in limits):
            continue
        reason = _limit(module)
        if reason is not None:
            limits.append((name, reason))
    return limits


def _unconverted_types(model: nn.Module) -> list[str]:
    """Type names of the leaf modules of ``model`` outside this package and outside ``torch.nn``'s pointwise,
    pooling, dropout and container modules: where an unknown symmetry breaker would be."""
    harmless = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Softmax,
                nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Flatten, nn.Upsample,
                nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
                nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)  # fmt: skip
    names = {
        type(m).__name__
        for m in model.modules()
        if not list(m.children()) and not isinstance(m, harmless) and not type(m).__module__.startswith("monai_sre")
    }
    return sorted(names)


def _limit(module: nn.Module) -> str | None:
    kind = type(module).__name__
    if isinstance(module, (SREConv, SREConvTranspose, GroupConv)):
        stride = tuple(getattr(module, "stride", (1,)))
        kernel = tuple(module.kernel_size) if not isinstance(module.kernel_size, int) else (module.kernel_size,)
        if any(s != 1 for s in stride):
            return (
                f"{kind} keeps stride {stride}: the voxels a strided convolution samples are mapped onto themselves "
                "by the grid symmetries only on odd sizes, so on even ones its output shifts under a rotation "
                "(stride_policy='pool' replaces the stride by symmetric pooling)"
            )
        if len(set(kernel)) > 1:
            return f"{kind} kernel {kernel} is not cubic: only the symmetries that map it onto itself are kept"
        return None
    if isinstance(module, _CONVS):
        if any(k > 1 for k in module.kernel_size):
            return f"{kind} with a dense {tuple(module.kernel_size)} kernel: not symmetric under the grid symmetries"
        if any(s != 1 for s in module.stride):
            return f"1x1 {kind} with stride {tuple(module.stride)}: samples an asymmetric grid on even sizes"
    if isinstance(module, _POOLS) and module.stride not in (1, (1,), (1, 1), (1, 1, 1)):
        return (
            f"{kind}(kernel {module.kernel_size}, stride {module.stride}) kept: its windows are symmetric under flips "
            "only for some input sizes (SymmetricPool is, at every size)"
        )
    return None


@torch.no_grad()
def measure_symmetry(
    model: nn.Module, input_shape: Sequence[int], group: str, seed: int = 0, batch_size: int = 16
) -> dict[str, Any]:
    """The largest relative change of the output of ``model`` (eval mode) when its input is transformed by each
    grid symmetry of ``group`` that keeps ``input_shape``: logits ``(N, C)`` compared with the upright ones
    (invariance), maps of the input's spatial shape with the upright map transformed alike (equivariance).

    Returns:
        ``group``, ``symmetries`` (how many), ``input_shape`` (with the batch axis), ``kind``
        (``"invariance"``/``"equivariance"``), ``max_relative_error`` (max abs difference / max abs upright
        output), ``worst`` (the symmetry), ``exact`` (error <= 1e-4).
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((1, *[int(s) for s in input_shape]), generator=generator)
    parameter = next(iter(model.parameters()), None)
    if parameter is not None:
        x = x.to(parameter.device, parameter.dtype)
    elements = [e for e in grid_group(group).elements if apply_grid_symmetry(x, e).shape == x.shape]
    with evaluating(model):
        upright = model(x)
        if not isinstance(upright, torch.Tensor):
            raise ValueError(f"the network returns {type(upright).__name__}, not a tensor: no symmetry to measure.")
        invariant = upright.dim() == 2
        if not invariant and upright.shape[2:] != x.shape[2:]:
            raise ValueError(
                f"the network maps {tuple(x.shape)} to {tuple(upright.shape)}: neither logits (N, C) nor a map of the "
                "input's size, so its symmetry is not measured."
            )
        scale = float(upright.abs().max()) or 1.0
        errors = []
        for start in range(0, len(elements), batch_size):  # eval mode: outputs do not depend on the batch
            chunk = elements[start : start + batch_size]
            outputs = model(torch.cat([apply_grid_symmetry(x, e) for e in chunk]))
            for element, out in zip(chunk, outputs):
                expected = upright[0] if invariant else apply_grid_symmetry(upright, element)[0]
                errors.append((float((out - expected).abs().max()) / scale, str(element)))
    error, worst = max(errors)
    return {
        "group": group,
        "symmetries": len(elements),
        "input_shape": list(x.shape),
        "kind": "invariance" if invariant else "equivariance",
        "max_relative_error": error,
        "worst": worst,
        "exact": error <= EXACT_RTOL,
    }


def _input_shape(metadata: Mapping, probe_shape: Sequence[int] | None) -> list[int] | None:
    """``(channels, *spatial)`` of the network input from ``probe_shape`` (spatial) or the metadata."""
    inputs = metadata.get("network_data_format", {}).get("inputs", {})
    first = next(iter(inputs.values()), {}) if isinstance(inputs, Mapping) else {}
    channels = first.get("num_channels", 1)
    spatial = probe_shape if probe_shape is not None else first.get("spatial_shape")
    if not isinstance(spatial, (list, tuple)) or not all(isinstance(s, int) and s > 0 for s in spatial):
        return None
    return [int(channels), *[int(s) for s in spatial]] if isinstance(channels, int) else None


# weights -----------------------------------------------------------------------------------------------------


_FRESH_GROUP = (
    "convert_to_group initialises every group layer afresh (a dense kernel has no orientation-shared equivalent)"
)
_FRESH_SRE = "project_weights is false: the SRE layers start from a fresh initialisation"
_PROJECTION = "convert_to_sre projects each dense kernel onto its symmetric band space (the least-squares fit)"


def _weights(
    parser: ConfigParser, source: Path, to: str, options: Mapping, shape: list[int] | None
) -> tuple[dict | None, str, float | None]:
    """``(state dict to ship or None, the reason in words, the measured relative difference or None)``."""
    path = source / "models" / "model.pt"
    if to == "group" or not options.get("project_weights", True):
        return None, _FRESH_GROUP if to == "group" else _FRESH_SRE, None
    if not path.is_file():
        return None, "the source bundle ships no models/model.pt", None
    projection = _PROJECTION + (
        ", which changes the function" if options.get("stride_policy") == "keep"
        else " and replaces strides by symmetric pooling, which changes the function"
    )  # fmt: skip
    if shape is None:
        return None, f"{projection} (not measured: the metadata gives no numeric input shape)", None
    network = load_weights(path, parser.get_parsed_content("network_def", instantiate=True))
    converted = converted_network(copy.deepcopy(network), to, **options)
    x = torch.randn((2, *shape), generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), evaluating(network), evaluating(converted):
        before, after = network(x), converted(x)
    difference = float((after - before).abs().max()) / (float(before.abs().max()) or 1.0)
    if difference <= EXACT_RTOL:
        reason = "the converted network computes what the source network computed with its weights"
        return converted.state_dict(), reason, difference
    reason = (
        f"{projection}: with the source weights converted, the outputs on a random input of shape {[2, *shape]} "
        f"differ by {difference:.3g} (relative to the largest output)"
    )
    return None, reason, difference


# metadata and docs -------------------------------------------------------------------------------------------


def _bump(version: str, source: str) -> str:
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(.*)", str(version).strip())
    if match is None:
        raise ValueError(f"{source}: version {version!r} is not MAJOR.MINOR.PATCH, so it cannot be bumped.")
    return f"{match[1]}.{int(match[2]) + 1}.0"


def _package_version() -> str:
    try:
        return importlib.metadata.version("monai-sre")
    except importlib.metadata.PackageNotFoundError:  # a source checkout on the path
        import monai_sre

        return str(getattr(monai_sre, "__version__", "0.0.0"))


def _metadata(
    metadata: dict, source: Path, to: str, options: Mapping, plan: RotationPlan | None, copied: bool, weights: str
) -> dict:
    meta = copy.deepcopy(metadata)
    version = _bump(meta.get("version", "0.0.0"), str(source / "configs" / "metadata.json"))
    how = f"convert_to_{to}" + (f" ({', '.join(f'{k}={v!r}' for k, v in options.items())})" if options else "")
    entry = (
        f"converted from the bundle '{metadata.get('name', source.name)}' {metadata.get('version', '')} ({source}) by "
        f"python -m monai_sre convert-bundle --to {to}: network_def wrapped in {BUILDER} ({how}); "
        + (f"training preprocessing: {plan.describe()}; " if plan is not None else "training preprocessing unchanged; ")
        + (f"weights converted and shipped ({weights})" if copied else f"weights not shipped ({weights}): train it")
    )
    meta["version"] = version
    meta["changelog"] = {version: entry, **dict(meta.get("changelog", {}))}
    for key in ("required_packages_version", "optional_packages_version"):
        if key == "required_packages_version" or key in meta:
            meta[key] = {**dict(meta.get(key) or {}), "monai-sre": _package_version()}
    label = {"sre": "SRE", "group": "group-equivariant"}[to]
    meta["name"] = f"{meta.get('name', source.name)} ({label} conversion)"
    meta["description"] = (
        f"{meta.get('description', '')} Converted by monai_sre convert-bundle: {how}; see docs/conversion_report.md."
    ).strip()
    return meta


def _wrap_network_def(raw: RawConfigs, to: str, options: Mapping) -> list[str]:
    """Wrap ``network_def`` in every file that writes it; move ``network_def#x`` overrides to
    ``network_def#network#x``. The files changed."""
    changed = []
    for name, content in raw.files.items():
        if not isinstance(content, dict):
            continue
        if not any(k == "network_def" or str(k).startswith("network_def" + SEP) for k in content):
            continue
        rebuilt = {}
        for key, value in content.items():
            if key == "network_def":
                value = {"_target_": BUILDER, "to": to, **options, "network": value}
            elif str(key).startswith("network_def" + SEP):
                key = "network_def#network" + str(key)[len("network_def") :]
            rebuilt[key] = value
        raw.files[name] = rebuilt
        raw.changed.add(name)
        changed.append(name)
    return changed


def _run_command(names: Sequence[str], extra: Sequence[str] = ()) -> str:
    files = ",".join(f"'configs/{n}'" for n in [*names, *extra])
    return f'python -m monai.bundle run --config_file "[{files}]" --meta_file configs/metadata.json --bundle_root .'


@dataclass
class ConvertedBundle:
    """What :func:`convert_bundle` did; ``to_dict`` is ``docs/conversion_report.json``."""

    source: str
    output: str
    to: str
    options: dict
    configs: list[str]
    report: ConversionReport
    limits: list[tuple[str, str]]
    symmetry: dict | None
    augmentation: str | None
    weights_copied: bool
    weights_reason: str
    weights_difference: float | None
    version: str
    files_changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["report"] = self.report.to_dict()
        data["limits"] = [{"name": n, "reason": r} for n, r in self.limits]
        return data

    def summary(self) -> list[str]:
        """The lines the command prints."""
        r = self.report
        lines = [
            f"converted '{self.source}' into '{self.output}' (version {self.version}): network_def -> "
            f"convert_to_{self.to}, {len(r.replaced)} modules replaced, {_kept(r)}, parameters "
            f"{r.params_before:,} -> {r.params_after:,}",
        ]
        if self.symmetry is not None:
            s = self.symmetry
            lines.append(
                f"symmetry: {s['kind']} under the {s['symmetries']} grid symmetries of {s['group']}, measured max "
                f"relative error {s['max_relative_error']:.2g} on a {tuple(s['input_shape'])} input: "
                + ("exact" if s["exact"] else f"NOT exact (worst: {s['worst']})")
            )
        lines.append(
            f"layers that keep it from being exact: {len(self.limits)}"
            + "".join(f"\n  {name}: {reason}" for name, reason in self.limits)
        )
        lines.append(f"augmentation: {self.augmentation or 'none'}")
        lines.append(
            "weights: copied (" + self.weights_reason + ")"
            if self.weights_copied
            else f"weights: not copied ({self.weights_reason}); train it: cd {self.output} && "
            + _run_command(self.configs)
        )
        lines += [f"note: {note}" for note in self.notes]
        lines.append(f"report: {Path(self.output) / 'docs' / 'conversion_report.md'}")
        return lines

    def markdown(self) -> str:
        r, s = self.report, self.symmetry
        out = [
            "# Conversion report",
            "",
            f"Made by `python -m monai_sre convert-bundle {self.source} --to {self.to}` "
            f"(options: {json.dumps(self.options) if self.options else 'none'}); configs: {self.configs}.",
            "",
            f"- network: `network_def` wrapped in `{BUILDER}` (`convert_to_{self.to}`): {len(r.replaced)} modules "
            f"replaced, {_kept(r)}; parameters {r.params_before:,} -> {r.params_after:,}.",
        ]
        if s is not None:
            out.append(
                f"- symmetry: {s['kind']} under the {s['symmetries']} grid symmetries of `{s['group']}`, measured on "
                f"the new bundle's network (fresh weights, eval mode) on a random {tuple(s['input_shape'])} input: "
                f"max relative error {s['max_relative_error']:.3g} (worst `{s['worst']}`): "
                + ("**exact** (float32 round-off)." if s["exact"] else "**not exact**.")
            )
        else:
            out.append("- symmetry: not measured (" + "; ".join(self.notes) + ").")
        out.append(f"- training preprocessing: {self.augmentation or 'unchanged (no --augment)'}.")
        out.append(f"- weights: {'copied' if self.weights_copied else 'not copied'}: {self.weights_reason}.")
        out += ["", "## Layers that keep the network from being exactly equivariant", ""]
        if self.limits:
            out += ["| layer | why |", "| --- | --- |"] + [f"| `{n}` | {reason} |" for n, reason in self.limits]
        else:
            out.append("None: every layer commutes with the declared grid symmetries.")
        out += ["", "## The converter's report", "", "```", str(r), "```", ""]
        return "\n".join(out)


def _kept(report: ConversionReport) -> str:
    symmetric = sum(reason == ALREADY_SYMMETRIC for _, reason in report.skipped)
    return f"{len(report.skipped)} kept" + (f" ({symmetric} 1x1 convolutions: already symmetric)" if symmetric else "")


def _readme(result: ConvertedBundle, source_meta: Mapping, eval_configs: Sequence[str], old: str | None) -> str:
    s = result.symmetry
    kind = "invariant" if s is not None and s["kind"] == "invariance" else "equivariant"
    symmetry = (
        f"Its network is {'exactly' if s['exact'] else 'not exactly'} {kind} "
        f"to the {s['symmetries']} grid symmetries of `{s['group']}` (measured max relative error "
        f"{s['max_relative_error']:.2g})"
        if s is not None
        else "Its symmetry was not measured"
    )
    lines = [
        f"# {source_meta.get('name', Path(result.source).name)}: {result.to} conversion",
        "",
        f"Made by `python -m monai_sre convert-bundle` from the bundle '{source_meta.get('name', '')}' "
        f"{source_meta.get('version', '')} (`{result.source}`): `network_def` is the source's network converted by "
        f"`monai_sre.networks.convert_to_{result.to}` through `{BUILDER}`. {symmetry}; "
        f"{len(result.limits)} layer(s) keep it from being exact (see `docs/conversion_report.md`).",
        "",
        f"Training preprocessing: {result.augmentation or 'as in the source bundle'}.",
        "",
        "## Train it first",
        "",
    ]
    if result.weights_copied:
        lines += [f"`models/model.pt` holds the source weights, converted: {result.weights_reason}.", ""]
    else:
        lines += [
            f"This bundle ships no weights: {result.weights_reason}. It must be trained, as the source bundle "
            "trains, from this folder:",
            "",
            "```bash",
            _run_command(result.configs),
            "```",
            "",
        ]
    if eval_configs:
        lines += ["and evaluated:", "", "```bash", _run_command(result.configs, eval_configs), "```", ""]
    lines += ["It needs the `monai_sre` package installed: the configs build the network with it.", ""]
    if old:
        lines += ["## The source bundle's README", "", old]
    return "\n".join(lines)


# the command -------------------------------------------------------------------------------------------------


def _check_output(source: Path, output: str | Path | None) -> Path:
    if output is None:
        raise ValueError("--output NEW_DIR is required: convert-bundle writes a new bundle, never into BUNDLE_DIR.")
    out = Path(output).resolve()
    if out == source:
        raise ValueError(
            f"--output '{output}' is the source bundle: convert-bundle never writes in place; pass a new folder."
        )
    if source in out.parents:
        raise ValueError(f"--output '{output}' lies inside the source bundle '{source}'; pass a folder outside it.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--output '{output}' exists and is not an empty folder; pass a new or empty folder.")
    return out


def convert_bundle(
    bundle_dir: str | Path,
    to: str = "sre",
    output: str | Path | None = None,
    augment: str | None = None,
    config: str | Sequence[str] | None = None,
    keys: Sequence[str] | str | None = None,
    label_keys: Sequence[str] | str | None = None,
    fuse: bool = True,
    verify: bool = True,
    probe_shape: Sequence[int] | None = None,
    overrides: Mapping[str, Any] | None = None,
    **options: Any,
) -> ConvertedBundle:
    """Write a new bundle into ``output`` whose network is the source bundle's, converted.

    Args:
        bundle_dir: the source bundle (never changed).
        to: ``"sre"`` (:func:`~monai_sre.networks.convert_to_sre`) or ``"group"``
            (:func:`~monai_sre.networks.convert_to_group`).
        output: the new bundle's folder: new, or empty.
        augment: ``"so3"`` adds a uniformly random 3D rotation to the training preprocessing; ``None``/``"none"``.
        config: the training configs merged in order; default :func:`train_configs`.
        keys: the keys the rotation transforms; default those of the transform it precedes.
        label_keys: the keys resampled with ``nearest``; default those named like labels.
        fuse: replace a ``CenterSpatialCropd`` by ``RandSO3RotateCropd`` (else insert ``RandSO3Rotated``).
        verify: measure the new network's symmetry (one pass per grid symmetry) on a random input.
        probe_shape: the spatial shape of that input; default the metadata's input ``spatial_shape``.
        overrides: config values the network needs to be built, as its own commands take them (for a bundle whose
            network depends on the user's data, such as this package's ``sre_classification`` and
            ``sre_segmentation``: ``{"num_classes": 4}``); used to read the source and check the new bundle, not
            written into it.
        options: the converter's keyword arguments (``stride_policy="keep"``, ``group="O"``, ``skip=[...]``).

    Raises:
        FileNotFoundError: no ``configs/metadata.json``, no training config.
        FileExistsError: ``output`` exists and is not empty.
        KeyError: the configs define no ``network_def``, or no training preprocessing (with ``augment``).
        ValueError: ``output`` is (or lies in) the source, an unknown ``to``/``augment``/option, a network the
            converter refuses, a preprocessing the rotation cannot be placed in (the message says which).
    """
    source = Path(bundle_dir).resolve()
    meta_path = source / "configs" / "metadata.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"'{bundle_dir}' is not a bundle: it has no configs/metadata.json.")
    to = _method(to)
    options = _options(to, options)
    augment = "none" if augment in (None, False) else str(augment).lower()
    if augment not in AUGMENTATIONS:
        raise ValueError(f"--augment must be one of {list(AUGMENTATIONS)}, got {augment!r}.")
    fuse, verify = as_flag(fuse, "fuse"), as_flag(verify, "verify")
    out = _check_output(source, output)
    names = _config_names(source, config)

    overrides = dict(overrides or {})
    parser = _read_configs(source, names, overrides)
    if "network_def" not in parser:
        raise KeyError(
            f"the configs {names} define no 'network_def' (the network a bundle builds, as the model zoo names it); "
            "pass --config with the configs that define it."
        )
    metadata = json.loads(meta_path.read_text())
    try:
        network = parser.get_parsed_content("network_def", instantiate=True)
    except RuntimeError as error:  # MONAI wraps what failed while building; name the cause
        cause = error
        while cause.__cause__ is not None:
            cause = cause.__cause__
        raise ValueError(
            f"cannot build the bundle's network_def from {names}: {cause} (a network built from values given on "
            "the bundle's command line needs them here too: --overrides \"{'num_classes': N}\")"
        ) from None
    try:
        converted, report = CONVERTERS[to](network, **options)
    except (ValueError, TypeError) as error:
        raise ValueError(f"cannot convert the bundle's network_def with convert_to_{to}: {error}") from None
    raw = RawConfigs(source / "configs")
    wrapped = _wrap_network_def(raw, to, options)
    plan = None
    if augment == "so3":
        unparsed = _read_configs(source, names, overrides)  # parsing rewrites references; plan on the configs as read
        plan = plan_rotation(unparsed, raw, names, keys, label_keys, fuse)
        apply_rotation(plan, unparsed, raw)
    shape = _input_shape(metadata, probe_shape)
    state, reason, difference = _weights(parser, source, to, options, shape)
    new_meta = _metadata(metadata, source, to, options, plan, state is not None, reason)

    existed = out.exists()
    left_out = lambda folder, names: _LEFT_OUT if Path(folder) == source else ()  # noqa: E731
    shutil.copytree(source, out, symlinks=True, dirs_exist_ok=True, ignore=left_out)
    try:
        (out / "models").mkdir(exist_ok=True)
        raw.folder = out / "configs"
        changed = raw.save()
        (out / "configs" / "metadata.json").write_text(json.dumps(new_meta, indent=4) + "\n")
        if state is not None:
            torch.save(state, out / "models" / "model.pt")
        notes = []
        if not wrapped:
            notes.append("no config file writes network_def at its top level; nothing was wrapped")
        symmetry = None
        built = _build_new_network(out, names, overrides)
        if built is not None and sum(p.numel() for p in built.parameters()) != report.params_after:
            raise RuntimeError("the new bundle's network_def does not build the converted network.")
        if verify and shape is not None:
            spatial = len(shape) - 1
            symmetry = measure_symmetry(built, shape, declared_group(to, options, spatial))
        elif verify:
            notes.append("symmetry not measured: the metadata gives no numeric input spatial_shape; pass --probe_shape")
        limits = exactness_limits(converted, report)
        if symmetry is not None and not symmetry["exact"] and not limits:
            notes.append(
                "the measured error shows a layer that breaks the symmetry, but none the converter knows: look for "
                "module types it does not convert (other normalisations, attention, custom layers) among "
                f"{_unconverted_types(converted)}"
            )
        result = ConvertedBundle(
            str(source), str(out), to, options, names, report, limits, symmetry,
            plan.describe() if plan is not None else None, state is not None, reason, difference,
            new_meta["version"], [*changed, "metadata.json"], notes,
        )  # fmt: skip
        docs = out / "docs"
        docs.mkdir(exist_ok=True)
        old_readme = (source / "docs" / "README.md").read_text() if (source / "docs" / "README.md").is_file() else None
        evaluate = [n for n in [config_file(out / "configs", "evaluate")] if n is not None]
        (docs / "README.md").write_text(_readme(result, metadata, evaluate, old_readme))
        (docs / "conversion_report.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        (docs / "conversion_report.md").write_text(result.markdown())
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        if existed:
            out.mkdir()
        raise
    return result


def _read_configs(folder: Path, names: Sequence[str], overrides: Mapping[str, Any] | None = None) -> ConfigParser:
    """The bundle's configs ``names`` merged in order, with its metadata; ``bundle_root`` the folder; then
    ``overrides`` (as ``--key value`` on a bundle command)."""
    parser = ConfigParser()
    parser.read_meta(str(folder / "configs" / "metadata.json"))
    parser.read_config([str(folder / "configs" / n) for n in names])
    parser["bundle_root"] = str(folder)
    parser.update(dict(overrides or {}))
    return parser


def _build_new_network(out: Path, names: Sequence[str], overrides: Mapping[str, Any] | None = None) -> nn.Module:
    return _read_configs(out, names, overrides).get_parsed_content("network_def", instantiate=True)


def convert_bundle_command(bundle_dir: str, **kwargs: Any) -> None:
    """The command line: ``python -m monai_sre convert-bundle BUNDLE_DIR --to sre|group --output NEW_DIR
    [--augment so3] [--config ...] [--overrides "{'num_classes': 4}"] [--<converter option> VALUE ...]``; prints
    what it did."""
    for line in convert_bundle(bundle_dir, **kwargs).summary():
        print(line)
