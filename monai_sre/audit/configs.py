# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A bundle's config files as written (not merged, nothing built), readable and editable by MONAI config id.

MONAI merges a bundle's config files in order; an id such as ``train#preprocessing#transforms`` may be written
nested (``{"train": {"preprocessing": ...}}``) or flat (``{"train#preprocessing": ...}``), in any of the files,
with ``#`` or MONAI's newer separator ``::`` (both are read; ids are given and returned with ``#``).
:class:`RawConfigs` finds where a file writes an id, sets it there, lists the references (``@id``, ``%id``) each
file makes and from where, and writes back only the files it changed, so that a converted bundle keeps the
source bundle's layout and its configs stay the ones a person wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from monai.bundle import ConfigParser

__all__ = ["CONFIG_SUFFIXES", "RawConfigs", "config_file", "locate", "normalize_id"]

CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
SEP = "#"
# a reference or macro to an id: "@train#dataset", "%train#deterministic_transforms", "%configs/a.json#id"
_REFERENCE = re.compile(r"[@%](?:[\w./-]+\.(?:json|yaml|yml)#)?(\w+(?:#\w+)*)")


def config_file(folder: str | Path, stem: str) -> str | None:
    """The name of ``folder``'s config ``stem`` (``train``: ``train.json``, else ``train.yaml``, else
    ``train.yml``, as the model zoo writes either), or ``None`` when it has none."""
    return next((stem + s for s in CONFIG_SUFFIXES if (Path(folder) / (stem + s)).is_file()), None)


def normalize_id(id_: Any) -> str:
    """``id_`` with MONAI's ``::`` separators written ``#``."""
    return str(id_).replace("::", SEP)


def locate(config: Any, id_: str) -> tuple[Any, Any] | None:
    """``(container, key)`` with ``container[key]`` the value a raw config writes at ``id_``, or ``None``.

    Keys holding ``#`` (flat ids, as override files write them) are matched before nested ones: MONAI applies
    them after the nested value they override.
    """
    parts = [p for p in normalize_id(id_).split(SEP) if p != ""]
    return _locate(config, parts) if parts else None


def _locate(config: Any, parts: list[str]) -> tuple[Any, Any] | None:
    if isinstance(config, dict):
        keys = {normalize_id(k): k for k in config}
        for size in range(len(parts), 0, -1):
            key = keys.get(SEP.join(parts[:size]))
            if key is not None:
                if size == len(parts):
                    return config, key
                found = _locate(config[key], parts[size:])
                if found is not None:
                    return found
        return None
    if isinstance(config, list) and parts[0].isdigit() and int(parts[0]) < len(config):
        index = int(parts[0])
        return (config, index) if len(parts) == 1 else _locate(config[index], parts[1:])
    return None


def _strings(config: Any, where: str) -> Iterator[tuple[str, str]]:
    """``(id, text)`` of every string in a raw config, with the id of the place that holds it."""
    if isinstance(config, str):
        yield where, config
    elif isinstance(config, dict):
        for key, value in config.items():
            yield from _strings(value, f"{where}{SEP}{key}" if where else str(key))
    elif isinstance(config, list):
        for index, value in enumerate(config):
            yield from _strings(value, f"{where}{SEP}{index}" if where else str(index))


class RawConfigs:
    """The config files of a bundle's ``configs/`` folder (``metadata.json`` excepted), as written.

    Args:
        folder: the ``configs`` folder.

    Attributes:
        folder: the folder.
        files: file name -> content, sorted by name.
        changed: the names of the files changed by :meth:`set`.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        paths = sorted(p for p in self.folder.iterdir() if p.suffix in CONFIG_SUFFIXES and p.name != "metadata.json")
        self.files: dict[str, Any] = {p.name: ConfigParser.load_config_file(str(p)) for p in paths}
        self.changed: set[str] = set()

    def defines(self, name: str, id_: str) -> bool:
        """Whether file ``name`` writes a value at ``id_``."""
        return locate(self.files[name], id_) is not None

    def defining(self, id_: str, names: Sequence[str]) -> str | None:
        """The last of ``names`` (merge order) that writes ``id_``, ``None`` when none does."""
        return next((name for name in reversed(list(names)) if self.defines(name, id_)), None)

    def get(self, name: str, id_: str) -> Any:
        container, key = locate(self.files[name], id_)
        return container[key]

    def set(self, name: str, id_: str, value: Any) -> None:
        """Replace the value file ``name`` writes at ``id_`` (which it must write)."""
        found = locate(self.files[name], id_)
        if found is None:
            raise KeyError(f"'{name}' writes no '{id_}'.")
        container, key = found
        container[key] = value
        self.changed.add(name)

    def add(self, name: str, id_: str, value: Any) -> None:
        """Write ``id_`` into file ``name``: where it writes it, else into its parent, else as a flat top-level key."""
        parent, _, last = id_.rpartition(SEP)
        if self.defines(name, id_):
            self.set(name, id_, value)
            return
        found = locate(self.files[name], parent) if parent else None
        if found is not None and isinstance(found[0][found[1]], dict):
            found[0][found[1]][last] = value  # beside its siblings, where the file writes the parent
        else:
            self.files[name][id_] = value
        self.changed.add(name)

    def keys_under(self, name: str, id_: str) -> list[str]:
        """Flat top-level keys of file ``name`` that write inside ``id_`` (``id_#...``)."""
        content = self.files[name]
        return [k for k in content if isinstance(content, dict) and normalize_id(k).startswith(id_ + SEP)]

    def references(self) -> list[tuple[str, str, str]]:
        """``(file, from id, to id)`` of every ``@id`` reference and ``%id`` macro in every file."""
        found = []
        for name, content in self.files.items():
            for where, text in _strings(content, ""):
                if "@" in text or "%" in text:
                    found += [(name, normalize_id(where), t) for t in _REFERENCE.findall(normalize_id(text))]
        return found

    def save(self) -> list[str]:
        """Write the changed files back (JSON indented by 4, as the model zoo's); their names."""
        for name in sorted(self.changed):
            path = self.folder / name
            fmt = "json" if path.suffix == ".json" else "yaml"
            options = {"indent": 4} if fmt == "json" else {}
            ConfigParser.export_config_file(self.files[name], str(path), fmt=fmt, **options)
        return sorted(self.changed)
