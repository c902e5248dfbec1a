"""Start-up hook, run from ``tao_sparse4d_fix.pth`` in every interpreter.

It must cost nothing and break nothing: it reads one environment variable, and
only when the fix is switched on does it leave a sentinel on ``sys.meta_path``.
The sentinel installs the real (wrapt) post-import hooks the first time one of
TAO's Sparse4D packages is imported, so torch, numpy, wrapt and TAO itself are
never imported at start-up, and a process that never touches Sparse4D (another
TAO network in the same image included) never pays for the plugin.
"""
import sys

from tao_sparse4d_fix import switches

# Every module the patches target lives under one of these (the schema moved into nvidia_tao_pytorch in 7.0).
TAO_PACKAGES = ("nvidia_tao_pytorch.cv.sparse4d", "nvidia_tao_core.config.sparse4d", "nvidia_tao_pytorch.config.sparse4d")


class _FirstTaoImport:
    """``sys.meta_path`` sentinel: hands over to the registry on the first import of TAO's Sparse4D."""

    def __init__(self, state, raw):
        self.state = state
        self.raw = raw

    def find_spec(self, name, path=None, target=None):
        if name in TAO_PACKAGES:
            # install first: while the fix cannot load (say, wrapt is missing),
            # every Sparse4D import fails alike instead of the second one running stock
            _install(self.state, self.raw)
            _remove_sentinel()
        return None


def _remove_sentinel():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _FirstTaoImport)]


def _install(state, raw):
    from tao_sparse4d_fix.runtime import registry

    if state == "on":
        registry.install()
    else:
        registry.install_refusal(switches.invalid_enable_message(raw))


def activate(environ=None):
    """Arm the plugin according to the environment; never raises."""
    try:
        state, raw = switches.read_enable(environ)
        if state == "off":
            return
        if any(name in sys.modules for name in TAO_PACKAGES):
            _install(state, raw)
        elif not any(isinstance(f, _FirstTaoImport) for f in sys.meta_path):
            sys.meta_path.insert(0, _FirstTaoImport(state, raw))
    except Exception as error:  # an unrelated interpreter must always start
        sys.stderr.write(f"tao-sparse4d-fix: not activated: {error!r}\n")
