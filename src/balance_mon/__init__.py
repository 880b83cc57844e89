"""balance_mon: a balance and exercise lab from one Bluetooth LE motion sensor."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("balance-mon")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
