"""Which TAO distributions this interpreter can see."""
from importlib import metadata

TAO_DISTRIBUTIONS = ("nvidia-tao-pytorch", "nvidia-tao-core")


def installed(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def tao_version():
    """The nvidia-tao-pytorch version, as error messages and reports name it."""
    return installed("nvidia-tao-pytorch") or "unknown (nvidia-tao-pytorch not found)"
