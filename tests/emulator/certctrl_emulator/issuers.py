"""The CAs that sign: the emulated ACME root + intermediate, and the keys of the seeded self CAs (generated once, kept in the db)."""

from __future__ import annotations

from . import pki
from .store import Row, Store

Issuer = tuple[str, str]  # (key_pem, cert_pem)


class Issuers:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.lock:
            acme = store.meta_get("acme_pki")
            if not acme:
                acme = _make_acme_pki()
                store.meta_set("acme_pki", acme)
            self.acme: dict[str, str] = acme
            for ca in store.cas_without_key():
                key, cert = pki.make_ca(ca["name"])
                store.update("cas", ca["id"], {"key_pem": pki.key_pem(key), "cert_pem": pki.cert_pem(cert)})

    def acme_issuer(self) -> Issuer:
        return self.acme["int_key"], self.acme["int_cert"]

    def for_account(self, account: Row) -> Issuer:
        """The issuer of the account's certificates: its CA (SELF_CA; ("", "") when gone), else the ACME intermediate."""
        if account["provider"] != "SELF_CA":
            return self.acme_issuer()
        ca = self.store.ca(account["ca_id"]) or {}
        return ca.get("key_pem"), ca.get("cert_pem")


def _make_acme_pki() -> dict[str, str]:
    root_key, root = pki.make_ca("Emulated ACME Root X1", organization="cert-ctrl emulator ACME")
    int_key, inter = pki.make_ca("Emulated ACME Intermediate R1", root_key, root, days=1825, organization="cert-ctrl emulator ACME")
    return {"root_cert": pki.cert_pem(root), "int_key": pki.key_pem(int_key), "int_cert": pki.cert_pem(inter)}
