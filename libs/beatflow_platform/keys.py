"""Ed25519 keys for signing and verifying tokens.

A key setting holds either PEM text or the path of a PEM file, so that a deployment can mount
keys as files (Kubernetes Secrets and ConfigMaps) or pass them in the environment. A public-key
value may hold several PEM blocks (a key rotation); each is a `PUBLIC KEY` or a `CERTIFICATE`
(the chart derives the public half of a generated key as a self-signed certificate).

`python -m beatflow_platform.keys NAME [--dir DIR]` writes a new pair, DIR/NAME.key (mode 0600)
and DIR/NAME.pub.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


class KeyConfigurationError(ValueError):
    """A key setting that is missing, unreadable or not an Ed25519 key; raised at start-up."""


def _pem_text(value: str, setting: str) -> str:
    value = value.strip()
    if not value:
        raise KeyConfigurationError(f"{setting} is not set")
    if value.startswith("-----BEGIN"):
        return value
    path = Path(value)
    try:
        return path.read_text()
    except OSError as error:
        raise KeyConfigurationError(
            f"{setting}: cannot read the key file {path} ({error.strerror}); give PEM text or a readable file"
        ) from None


def load_private_key(value: str, setting: str) -> Ed25519PrivateKey:
    """The Ed25519 private key in `value` (PEM text or a PEM file's path); `setting` names it in errors."""
    text = _pem_text(value, setting)
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise KeyConfigurationError(f"{setting}: not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyConfigurationError(f"{setting}: an Ed25519 key is required, not {type(key).__name__}")
    return key


def load_public_keys(value: str, setting: str) -> list[Ed25519PublicKey]:
    """Every Ed25519 public key in `value` (PEM text or a PEM file's path; one or more blocks)."""
    text = _pem_text(value, setting)
    blocks = list(_PEM_BLOCK.finditer(text))
    if not blocks:
        raise KeyConfigurationError(f"{setting}: no PEM block found")
    keys = []
    for block in blocks:
        data = block.group(0).encode()
        try:
            if block.group(1) == "CERTIFICATE":
                key = x509.load_pem_x509_certificate(data).public_key()
            else:
                key = serialization.load_pem_public_key(data)
        except ValueError as error:
            raise KeyConfigurationError(f"{setting}: unreadable {block.group(1)} block ({error})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyConfigurationError(f"{setting}: an Ed25519 key is required, not {type(key).__name__}")
        keys.append(key)
    return keys


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_key_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def write_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """Writes a new pair as directory/name.key (readable by its owner only) and directory/name.pub;
    FileExistsError if the private key exists."""
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    private.touch(mode=0o600, exist_ok=False)
    private.write_text(private_key_pem(key))
    public.write_text(public_key_pem(key))
    return private, public


def main() -> None:
    parser = argparse.ArgumentParser(description="Writes a new Ed25519 key pair: DIR/NAME.key and DIR/NAME.pub.")
    parser.add_argument("name", help="file name without extension, e.g. the key id users-2027-01 or a service name")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where to write the pair")
    args = parser.parse_args()
    try:
        paths = write_key_pair(args.dir, args.name)
    except FileExistsError as error:
        parser.error(f"{error.filename} exists; a key is never overwritten")
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
