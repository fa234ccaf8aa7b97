# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""``python -m monai_sre run ...``: MONAI's bundle commands, with a failed run reported as its cause only.

``python -m monai.bundle run`` shows an error raised while a config is evaluated (a missing datalist, a bad
file, a wrong argument) at the end of a long traceback through the config machinery. This entry point takes
the same commands and arguments (``run``, ``verify_metadata``, ``ckpt_export``, ``onnx_export``,
``verify_net_in_out``) and, when one fails, prints only the innermost error's type and message, which names
the value or file and what was expected, and exits with status 1. Set ``MONAI_SRE_TRACEBACK=1`` for the full
traceback.

``python -m monai_sre compare --datalist PATH --num_classes N [--models ...] [--seeds ...] [--fractions ...]
[--output DIR] [--resume true]`` compares networks on the user's own datalist with the fair protocol
(:func:`monai_sre.comparison.datalist.compare_on_datalist`); ``python -m monai_sre audit BUNDLE_DIR [--protocol ...]``
audits any bundle's rotation robustness (:func:`monai_sre.audit.audit`, ``docs/audit.md``);
``python -m monai_sre convert-bundle BUNDLE_DIR --to sre|group --output NEW_DIR [--augment so3]`` writes a new bundle
whose network is the source's, converted (:func:`monai_sre.audit.convert_bundle`, ``docs/convert_bundle.md``).
"""

from __future__ import annotations

import os
import sys

__all__ = ["main", "root_cause"]


def _inner(error: BaseException) -> BaseException | None:
    """The exception ``error`` was raised from, as Python's traceback shows it: its ``__cause__``, else its
    ``__context__`` unless suppressed (``raise ... from None``)."""
    if error.__cause__ is not None:
        return error.__cause__
    return None if error.__suppress_context__ else error.__context__


def root_cause(error: BaseException) -> BaseException:
    """The innermost exception of ``error``'s chain as Python would print it (``__cause__``, else ``__context__``).

    An exception raised ``from None`` ends the chain: its message is what its author meant to be read, and the
    exception it replaced (for example the ``EOFError`` of a truncated file) is not shown in its place.
    """
    seen = [error]
    while (inner := _inner(error)) is not None and inner not in seen:
        seen.append(inner)
        error = inner
    return error


def main(argv: list[str] | None = None) -> int:
    """Run a MONAI bundle command; return the exit status."""
    import fire
    from monai.bundle import scripts

    from monai_sre.audit import audit
    from monai_sre.audit.convert_bundle import convert_bundle_command
    from monai_sre.comparison.datalist import compare_on_datalist

    commands = {
        name: getattr(scripts, name)
        for name in ("run", "verify_metadata", "ckpt_export", "onnx_export", "verify_net_in_out")
    }
    commands["compare"] = compare_on_datalist
    commands["audit"] = audit
    commands["convert-bundle"] = convert_bundle_command
    try:
        fire.Fire(commands, command=sys.argv[1:] if argv is None else argv, name="python -m monai_sre")
    except Exception as error:  # noqa: BLE001 - reported below, or re-raised with MONAI_SRE_TRACEBACK=1
        if os.environ.get("MONAI_SRE_TRACEBACK", "") not in ("", "0"):
            raise
        cause = root_cause(error)
        print(f"error: {type(cause).__name__}: {cause}", file=sys.stderr)
        print("(MONAI_SRE_TRACEBACK=1 shows the full traceback)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
