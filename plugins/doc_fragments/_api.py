# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.

from __future__ import annotations


class ModuleDocFragment:
    # Options of every module and plugin that talks to the API. Modules read them from task
    # arguments, module_defaults (group/cjj365.certctrl.certctrl) or CERTCTRL_* environment variables.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the cert-ctrl API, without the C(/apiv1) path (a trailing C(/apiv1) is accepted and removed).
      - A plain C(http://) URL sends the API key unencrypted; it is accepted with a warning, and without one only for a
        loopback address (C(127.0.0.1), C(::1), C(localhost)), where the key does not leave the machine.
      - Modules fall back to the E(CERTCTRL_API_URL) environment variable.
    type: str
    default: https://api.cjj365.cc
  api_key:
    description:
      - API key (C(ak_...)) sent as a bearer token. Its scopes decide what the task may read or change.
      - Modules fall back to the E(CERTCTRL_API_KEY) environment variable.
      - Never logged, never shown in results or error messages.
      - Required; when neither the option nor the environment variable is set, the task fails with a message naming both.
    type: str
  validate_certs:
    description:
      - Verify the server's TLS certificate. Set to V(false) only for a test server you trust.
      - Modules fall back to the E(CERTCTRL_VALIDATE_CERTS) environment variable.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA certificates that sign the server's TLS certificate, instead of the system trust store.
      - Modules fall back to the E(CERTCTRL_CA_PATH) environment variable.
    type: path
  timeout:
    description:
      - Seconds to wait for the server to answer one request. Must be greater than V(0).
      - Modules fall back to the E(CERTCTRL_TIMEOUT) environment variable.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is sent again after a connection error or an HTTP 429, 502, 503 or 504 answer,
        waiting with exponential backoff and jitter, or as long as the server's C(Retry-After) asks (at most 60 seconds).
        V(0) sends each request once; a negative value is an error.
      - A request that creates something is sent again only when the server cannot have acted on it.
      - Modules fall back to the E(CERTCTRL_RETRIES) environment variable.
    type: int
    default: 5
requirements:
  - requests
"""

    # Modules that create an object identified by a natural key (acme_account, certificate, assign).
    CREATES = r"""
options: {}
notes:
  - "Parallel runs never duplicate a create: creating an ACME account (by name), a certificate (by domain and account) or
    an assignment is serialized per natural key with a lock file in a private per-user directory (mode 0700) of the machine
    that runs the task, and the state is read again once the lock is held. A task waits for the lock at most
    E(CERTCTRL_LOCK_TIMEOUT) seconds (default 300), then fails naming the lock file."
  - When duplicates exist already (made by runs on other machines, or by hand), every run chooses the same record, the one
    with the lowest id, and warns naming the others.
"""

    # Lookup and inventory plugins run on the controller and also read variables, environment and
    # ansible.cfg. Precedence, highest first: plugin arguments, variables, environment, ansible.cfg.
    PLUGINS = r"""
options:
  api_url:
    description:
      - Precedence, highest first - plugin argument, variable C(certctrl_api_url), environment E(CERTCTRL_API_URL),
        C(api_url) in the C([certctrl]) section of C(ansible.cfg).
    env:
      - name: CERTCTRL_API_URL
    ini:
      - section: certctrl
        key: api_url
    vars:
      - name: certctrl_api_url
  api_key:
    description:
      - Precedence, highest first - plugin argument, variable C(certctrl_api_key), environment E(CERTCTRL_API_KEY).
        Never read from C(ansible.cfg).
    env:
      - name: CERTCTRL_API_KEY
    vars:
      - name: certctrl_api_key
  validate_certs:
    env:
      - name: CERTCTRL_VALIDATE_CERTS
    ini:
      - section: certctrl
        key: validate_certs
    vars:
      - name: certctrl_validate_certs
  ca_path:
    env:
      - name: CERTCTRL_CA_PATH
    ini:
      - section: certctrl
        key: ca_path
    vars:
      - name: certctrl_ca_path
  timeout:
    env:
      - name: CERTCTRL_TIMEOUT
    ini:
      - section: certctrl
        key: timeout
    vars:
      - name: certctrl_timeout
  retries:
    env:
      - name: CERTCTRL_RETRIES
    ini:
      - section: certctrl
        key: retries
    vars:
      - name: certctrl_retries
"""
