"""VideoSSR in the browser: the Space's entry file (``app_file: app.py``).

Run locally with ``python space/app.py`` (``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` pick the address).
The app lives in the ``videossr_space`` package next to this file, and this file only finds it and calls
its ``main``. Run as a script (a Space runs ``python app.py``), Python has already put this folder on
``sys.path`` and the package imports as usual. Loaded some other way (``runpy.run_path`` from another
folder), the package is loaded from its folder by file location instead, still without editing
``sys.path``. Loading this file builds nothing: the app is built by ``main`` or ``build_demo``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "videossr_space"


def _load_package() -> ModuleType:
    """The ``videossr_space`` package: imported normally, else from the folder next to this file."""
    try:
        return importlib.import_module(PACKAGE)
    except ModuleNotFoundError as err:
        if err.name != PACKAGE:  # a dependency is missing: that is the real error
            raise
    folder = Path(__file__).resolve().parent / PACKAGE
    spec = importlib.util.spec_from_file_location(
        PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package  # so that the package's relative imports find it
    spec.loader.exec_module(package)
    return package


_load_package()
_ui = importlib.import_module(f"{PACKAGE}.ui")
build_demo, launch_kwargs, main = _ui.build_demo, _ui.launch_kwargs, _ui.main

__all__ = ["build_demo", "launch_kwargs", "main"]

if __name__ == "__main__":
    main()
