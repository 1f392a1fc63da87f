"""Wire an App, its worker and its listeners together; write the info file."""

import json
import os
import tempfile

from . import pki
from .app import App
from .server import Running
from .worker import Worker


class Instance:
    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        db=None,
        seed=None,
        info_file=None,
        tls_cert=None,
        tls_key=None,
        tls_dir=None,
        http_port=0,
        admin_token=None,
        issue_delay=0.5,
        fail_domain=None,
        rate_limit=None,
        request_log=None,
        workdir=None,
        acme_directory=None,
        acme_ca_file=None,
        acme_http_port=5002,
        acme_pebble=None,
        profile="production",
    ):
        self.workdir = workdir
        self.info_file = info_file
        self.ca_file = None
        tls = None
        if tls_dir:
            ca_file, cert_file, key_file = pki.server_tls_files(tls_dir)
            self.ca_file = ca_file
            tls = (cert_file, key_file)
        elif tls_cert or tls_key:
            if not (tls_cert and tls_key):
                raise ValueError("--tls-cert and --tls-key go together")
            tls = (tls_cert, tls_key)
        self.app = App(
            db=db,
            seed=seed,
            admin_token=admin_token,
            issue_delay=issue_delay,
            fail_domain=fail_domain,
            rate_limit=rate_limit,
            request_log=request_log,
            workdir=workdir,
            acme_directory=acme_directory,
            acme_ca_file=acme_ca_file,
            acme_http_port=acme_http_port,
            acme_http_host=host,  # the VA reaches the responder where the API listens (127.0.0.1 by default)
            acme_pebble=acme_pebble,
            profile=profile,
        )
        try:
            self.running = Running(self.app, host, port, tls, http_port)
        except Exception:
            self.app.close()
            raise
        self.worker = Worker(self.app)
        self.app.worker = self.worker
        self.info = None

    def start(self):
        self.worker.start()
        self.running.start()
        info = {"base_url": self.running.base_url}
        if self.running.http_url:
            info["http_url"] = self.running.http_url
        if self.ca_file:
            info["ca_file"] = self.ca_file
        info["pid"] = os.getpid()
        info.update(self.app.info())
        self.info = info
        if self.info_file:
            write_atomic(self.info_file, info)
        return self

    def stop(self):
        self.running.stop()
        self.app.close()
        if self.info_file:
            try:
                os.unlink(self.info_file)
            except OSError:
                pass


def write_atomic(path, obj):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".info-")
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
