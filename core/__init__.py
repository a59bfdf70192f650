"""taskkit: train, fine-tune, evaluate and serve models from one command line, `tk`.

Importing this package is cheap (no torch): plugins import `hookimpl` from here, and the
CLI starts from here.
"""

from taskkit.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]
