# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Deprecated: moved to :mod:`monai_sre.networks.weights` (the authors' state dicts); this name warns once."""

from monai_sre.deprecation import moved_module

moved_module(__name__, "monai_sre.networks.weights")
