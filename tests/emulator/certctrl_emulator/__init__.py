"""certctrl_emulator: a local emulator of the cert-ctrl HTTP API for cjj365.certctrl tests and demos."""

__version__ = "0.1.0"
