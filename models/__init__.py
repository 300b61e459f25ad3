"""Team networks. Each ``team*.py`` file in this package registers one team when imported.

Public API: ``create_model``, ``list_models``, ``get_spec``, ``load_state_dict``, ``fetch_checkpoint``, for a
team that exists only for a while (a test, a one-off evaluation), ``registered``, and for a network given as a
file outside the checkout (``--model FILE:Class``), ``file_spec`` and ``build_model``.
"""

import importlib
import pkgutil

from models.factory import build_model, create_model, file_spec, load_state_dict
from models.registry import get_spec, list_models, register, registered
from models.spec import ModelSpec
from models.zoo import fetch_checkpoint

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("team"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ModelSpec", "build_model", "create_model", "fetch_checkpoint", "file_spec", "get_spec", "list_models",
           "load_state_dict", "register", "registered"]
