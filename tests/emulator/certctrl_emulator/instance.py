"""Wire an App, its worker and its listeners together; write the info file."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from . import pki
from .app import App
from .config import Config
from .server import Running
from .worker import Worker


class Instance:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.workdir = config.workdir
        self.info_file = config.info_file
        self.ca_file: str | None = None
        if config.tls_dir:
            self.ca_file, cert_file, key_file = pki.server_tls_files(config.tls_dir)
            tls: tuple[str, str] | None = (cert_file, key_file)
        else:
            tls = config.tls()
        self.app = App(config)
        try:
            self.running = Running(self.app, config.host, config.port, tls, config.http_port)
        except Exception:
            self.app.close()
            raise
        self.worker = Worker(self.app)
        self.app.worker = self.worker
        self.info: dict[str, Any] | None = None

    def start(self) -> Instance:
        self.worker.start()
        self.running.start()
        info: dict[str, Any] = {"base_url": self.running.base_url}
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

    def stop(self) -> None:
        self.running.stop()
        self.app.close()
        if self.info_file:
            try:
                os.unlink(self.info_file)
            except OSError:
                pass


def write_atomic(path: str, obj: Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".info-")
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
