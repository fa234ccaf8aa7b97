# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The house drawing of docs/architecture.md, checked: every import of ours points down the floors, none in a circle.

Imports inside functions and under ``TYPE_CHECKING`` count too (they are arrows all the same). The deprecated aliases
(old names resolved by string through :mod:`monai_sre.deprecation`) are not imports and are not seen here.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "monai_sre"

# lowest floor first; a module may import modules of its own floor (no circle) or of floors below
FLOORS = [
    ["arguments", "deprecation"],
    ["groups"],
    ["networks.layers"],
    ["networks.activation_checkpointing", "networks.weights"],
    ["networks.blocks"],
    ["networks.nets"],
    ["networks.data_flow", "networks.convert", "networks.convert_group", "networks"],
    ["transforms"],
    ["data"],
    ["inferers"],
    ["evaluation"],
    ["engines", "handlers"],
    ["run_settings", "runs", "export"],
    ["comparison", "audit"],
    ["__main__", ""],
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _floor(module: str) -> int:
    best, floor = -1, None
    for index, names in enumerate(FLOORS):
        for name in names:
            if (module == name or module.startswith(name + ".") or name == "") and len(name) > best:
                best, floor = len(name), index
    assert floor is not None, f"monai_sre.{module} has no floor in tests/test_house.py: add it to FLOORS"
    return floor


def _imports(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
            names = [("monai_sre." + n if node.level else n) for n in names]
        else:
            continue
        for name in names:
            if name == "monai_sre" or name.startswith("monai_sre."):
                target = name[len("monai_sre.") :] if name != "monai_sre" else ""
                if (PACKAGE / Path(*target.split("."))).with_suffix(".py").is_file() or (
                    PACKAGE / Path(*target.split(".")) / "__init__.py"
                ).is_file():
                    found.add(target)
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p, _module_name(p)) for p in PACKAGE.rglob("*.py")}


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"monai_sre.{module} -> monai_sre.{target}"
        for module, targets in graph.items()
        for target in targets
        if target and _floor(target) > _floor(module)
    )


def _circles(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    circles: list[str] = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target == "" or (module + ".").startswith(target + "."):
                continue  # a package's __init__ re-exporting its children is not a circle of modules
            if state.get(target) == 1:
                circles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return circles


def test_every_import_points_down_the_floors():
    upward = _upward(_graph())
    assert not upward, "imports pointing up the house:\n" + "\n".join(upward)


def test_no_circle_between_modules():
    circles = _circles(_graph())
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_checks_see_what_they_look_for():
    # a check that cannot fail is a defect: the old arrow transforms -> data and the old plot <-> report circle
    graph = _graph()
    assert graph["evaluation.report"] and "deprecation" in graph["transforms.intensity"]  # imports are found
    assert _upward({**graph, "transforms.intensity": {"data.tissue"}}) == [
        "monai_sre.transforms.intensity -> monai_sre.data.tissue"
    ]
    assert _circles({"evaluation.plot": {"evaluation.report"}, "evaluation.report": {"evaluation.plot"}}) == [
        "evaluation.plot -> evaluation.report -> evaluation.plot"
    ]
