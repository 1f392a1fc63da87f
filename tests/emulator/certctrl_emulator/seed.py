"""Load a seed (YAML or JSON file, or a dict) into a fresh store."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Union

import yaml

from . import keywrap
from . import scopes as scopes_mod
from .store import Store, now_ms

Seed = Union[str, dict[str, Any], None]
DEFAULT_SEED = os.path.join(os.path.dirname(__file__), "default_seed.yaml")


def read_seed(seed: Seed = None) -> dict[str, Any]:
    if seed is None:
        seed = DEFAULT_SEED
    if isinstance(seed, dict):
        return seed
    with open(seed) as fh:
        text = fh.read()
    if str(seed).endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text) or {}


def _device(d: dict[str, Any], now: int) -> dict[str, Any]:
    row = {
        "user_id": int(d.get("user_id", 1)),
        "device_public_id": d.get("device_public_id") or str(uuid.uuid4()),
        "name": d["name"],
        "status": d.get("status", "ACTIVE"),
        "platform": d.get("platform", "Linux"),
        "model": d.get("model", ""),
        "created_at": int(d.get("created_at", now)),
        "last_seen_at": int(d.get("last_seen_at", 0)),
    }
    if d.get("dev_pk"):  # an enrolled device (standard base64 of its X25519 public key)
        row.update(dev_pk=d["dev_pk"], device_keyfp=keywrap.keyfp_b64(keywrap.decode_dev_pk(d["dev_pk"])))
    if "id" in d:
        row["id"] = int(d["id"])
    return row


def load_seed(store: Store, seed: Seed = None) -> bool:
    """Insert the seed unless the store was seeded before (a persisted --db keeps its state)."""
    if store.meta_get("seeded"):
        return False
    data = read_seed(seed)
    now = now_ms()
    with store.lock:
        for u in data.get("users") or []:
            store.insert("users", {"id": int(u["id"]), "name": u["name"], "email": u.get("email", "")})
        for k in data.get("api_keys") or []:
            scopes_mod.parse_scopes(k.get("scopes") or [])
            store.insert(
                "api_keys",
                {
                    "name": k["name"],
                    "token": k["token"],
                    "user_id": int(k.get("user_id", 1)),
                    "scopes": json.dumps(list(k.get("scopes") or [])),
                    "revoked": 1 if k.get("revoked") else 0,
                },
            )
        for d in data.get("devices") or []:
            store.insert("devices", _device(d, now))
        for c in data.get("cas") or []:
            row = {"user_id": int(c.get("user_id", 1)), "name": c["name"], "created_at": now}
            if "id" in c:
                row["id"] = int(c["id"])
            store.insert("cas", row)
        for a in data.get("acme_accounts") or []:
            row = {
                "user_id": int(a.get("user_id", 1)),
                "name": a["name"],
                "email": a.get("email", ""),
                "provider": a.get("provider", "letsencrypt"),
                "ca_id": int(a.get("ca_id", 0) or 0),
                "leaf_key_algorithm": a.get("leaf_key_algorithm"),
                "leaf_rsa_bits": a.get("leaf_rsa_bits"),
                "leaf_ec_curve": a.get("leaf_ec_curve"),
                "cert_valid_seconds": a.get("cert_valid_seconds"),
                "created_at": now,
            }
            if "id" in a:
                row["id"] = int(a["id"])
            store.insert("acme_accounts", row)
        store.meta_set("seeded", True)
    return True
