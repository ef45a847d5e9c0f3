"""Signing keys: load them, publish their public halves as a JWKS, sign tokens.

Keys live as PEM files ``<kid>.pem`` in one folder (a Kubernetes Secret mounts as one).
The key that signs is ``signing_key_id`` or, when unset, the last kid in sort order, so
rotation is: add a newer key (``jobyard-auth generate-key``), restart; tokens signed by the
old key keep verifying while its file stays; delete it once the access-token lifetime has
passed. Ed25519 keys sign with EdDSA, RSA keys with RS256.

Usage
-----

::

    store = KeyStore.load(Path(".data/auth-keys"), generate_if_empty=True)
    token = store.sign({"sub": "u1", "aud": "jobyard", ...})
    store.jwks()["keys"][0]["kty"]
    # → 'OKP'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


class KeyStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: PrivateKey

    @property
    def algorithm(self) -> str:
        return "EdDSA" if isinstance(self.private_key, ed25519.Ed25519PrivateKey) else "RS256"

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        jwk = (
            OKPAlgorithm.to_jwk(public, as_dict=True)
            if isinstance(public, ed25519.Ed25519PublicKey)
            else RSAAlgorithm.to_jwk(public, as_dict=True)
        )
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


class KeyStore:
    def __init__(self, keys: list[SigningKey], active_kid: str | None = None) -> None:
        if not keys:
            raise KeyStoreError("no signing keys")
        self.keys = {k.kid: k for k in keys}
        kid = active_kid or sorted(self.keys)[-1]
        if kid not in self.keys:
            raise KeyStoreError(f"signing key {kid!r} not found among {sorted(self.keys)}")
        self.active = self.keys[kid]

    @classmethod
    def load(
        cls, folder: Path, *, active_kid: str | None = None, generate_if_empty: bool = False
    ) -> KeyStore:
        paths = sorted(folder.glob("*.pem")) if folder.is_dir() else []
        if not paths:
            if not generate_if_empty:
                raise KeyStoreError(
                    f"no signing keys in {folder}: create one with `jobyard-auth generate-key`"
                )
            paths = [write_new_key(folder)]
        return cls([read_key(p) for p in paths], active_kid)

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(sorted({k.algorithm for k in self.keys.values()}))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.keys[kid].public_jwk() for kid in sorted(self.keys)]}

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.active
        return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})


def read_key(path: Path) -> SigningKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise KeyStoreError(f"{path}: only Ed25519 and RSA keys are supported")
    return SigningKey(path.stem, key)


def write_new_key(folder: Path, kid: str | None = None, *, algorithm: str = "EdDSA") -> Path:
    """Write a new private key readable by its owner only; return its path."""
    kid = kid or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key: PrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if algorithm == "EdDSA"
        else rsa.generate_private_key(public_exponent=65537, key_size=3072)
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kid}.pem"
    if path.exists():
        raise KeyStoreError(f"{path} exists already")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path
