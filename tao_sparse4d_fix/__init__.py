"""Corrected background supervision for NVIDIA TAO's Sparse4D, as a drop-in plugin.

Installed by pip with a ``.pth`` hook; switched on by ``TAO_SPARSE4D_FIX=1``.
``install()``/``uninstall()`` do the same by hand (for notebooks and tests).
"""
from tao_sparse4d_fix._version import __version__  # noqa: F401  (the public version)


def install():
    """Patch TAO Sparse4D in this interpreter, now or when it is imported."""
    from tao_sparse4d_fix.runtime import registry

    registry.install()


def uninstall():
    """Undo every patch in this interpreter."""
    from tao_sparse4d_fix.runtime import registry

    registry.uninstall()
