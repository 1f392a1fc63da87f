# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The files rendered from a device bundle and what kind each is: the one table behind the device_bundle module's
# choices, the deploy plan's defaults and modes, and the host modules that must never read a key into a diff.
# Standard library only: it runs on managed hosts.

import os
import typing as t

# name -> secret: it holds the private key (key modes; never read into a diff); default: rendered unless told which
# files; optional: may be missing from a deployed certificate (chain.pem of a certificate without intermediates).
FILE_KINDS: t.Dict[str, t.Dict[str, bool]] = {
    "certificate.pem": {"secret": False, "default": True, "optional": False},
    "chain.pem": {"secret": False, "default": True, "optional": True},
    "fullchain.pem": {"secret": False, "default": True, "optional": False},
    "private.key": {"secret": True, "default": True, "optional": False},
    "combined.pem": {"secret": True, "default": False, "optional": False},
    "bundle.pfx": {"secret": True, "default": False, "optional": False},
    "certificate.der": {"secret": False, "default": False, "optional": False},
}
OUTPUT_FILES = tuple(FILE_KINDS)
DEFAULT_FILES = tuple(name for name, kind in FILE_KINDS.items() if kind["default"])
SECRET_FILES = frozenset(name for name, kind in FILE_KINDS.items() if kind["secret"])
OPTIONAL_FILES = frozenset(name for name, kind in FILE_KINDS.items() if kind["optional"])

# On the host a file may have any name (the role's per-file ``path``), so there it is told by its name: these cover
# every secret name above, and the usual key and PKCS#12 spellings of renamed ones.
SECRET_SUFFIXES = (".key", ".pfx", ".p12")
SECRET_PREFIXES = ("combined", "private")


def is_secret(path: str) -> bool:
    """Whether the file at ``path`` may hold a private key, by its name."""
    name = os.path.basename(path)
    return name.endswith(SECRET_SUFFIXES) or name.startswith(SECRET_PREFIXES)


def shows_leaf(path: str) -> bool:
    """Whether the leaf's facts may be read from this file: not a secret one, and not a chain (an intermediate comes first)."""
    return not is_secret(path) and not os.path.basename(path).startswith("chain")


__all__ = [
    "DEFAULT_FILES",
    "FILE_KINDS",
    "OPTIONAL_FILES",
    "OUTPUT_FILES",
    "SECRET_FILES",
    "SECRET_PREFIXES",
    "SECRET_SUFFIXES",
    "is_secret",
    "shows_leaf",
]
