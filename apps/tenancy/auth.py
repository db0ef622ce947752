"""Who is calling: the admin secret, per-app tokens (JWT) and the keys that sign them.

The admin secret authorizes /admin/* and acts for any app. App tokens are RS256 JWTs (EdDSA when a
signing seed is configured) bound to one app; `ver` carries the app's token version so regenerating
a token can revoke every older one without a deny list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings
from django.db import transaction

from apps.tenancy import crypto
from apps.tenancy.app_cache import app_cache, refuse_database
from apps.tenancy.models import AdminCredential, App, SigningKey

logger = logging.getLogger(__name__)

TOKEN_AUDIENCE = "hector-api"
LEEWAY_S = 60


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. `app` is set for app tokens: the app the token is bound to."""

    kind: Literal["admin", "app", "anonymous"]
    app: App | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"


ADMIN = Principal("admin")
ANONYMOUS = Principal("anonymous")


class InvalidCredentials(Exception):
    """A bearer credential that is neither the admin secret nor a valid, current app token."""


def authenticate_bearer(token: str) -> Principal:
    if is_admin_secret(token):
        return ADMIN
    if token.count(".") == 2:
        return _authenticate_app_token(token)
    raise InvalidCredentials("unknown credential")


# --- Admin secret -------------------------------------------------------------------------------

_secret_hash_cache: str | None = None


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ensure_admin_secret() -> str | None:
    """Generate and store the admin secret on first start; return it when it is the generated one.

    Returns None when an explicit secret is configured (that one is never stored nor printed).
    """
    if settings.HECTOR_AUTH_SECRET:
        return None
    with transaction.atomic():
        credential = AdminCredential.objects.select_for_update().first()
        if credential is None:
            secret = secrets.token_urlsafe(32)
            AdminCredential.objects.create(
                secret_hash=_hash_secret(secret), secret_encrypted=crypto.encrypt(secret)
            )
            return secret
    return crypto.decrypt(credential.secret_encrypted)


def stored_admin_secret() -> str | None:
    credential = AdminCredential.objects.first()
    return crypto.decrypt(credential.secret_encrypted) if credential else None


def is_admin_secret(candidate: str) -> bool:
    """Constant-time comparison against the configured or the stored (hashed) secret."""
    global _secret_hash_cache
    if settings.HECTOR_AUTH_SECRET:
        return hmac.compare_digest(candidate.encode(), settings.HECTOR_AUTH_SECRET.encode())
    if _secret_hash_cache is None:
        refuse_database()
        credential = AdminCredential.objects.only("secret_hash").first()
        if credential is None:
            return False
        _secret_hash_cache = credential.secret_hash
    return hmac.compare_digest(_hash_secret(candidate), _secret_hash_cache)


def forget_cached_secret() -> None:
    global _secret_hash_cache
    _secret_hash_cache = None


# --- Signing keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    kid: str
    algorithm: str
    private_key: Any
    public_jwk: dict[str, Any]


_keys_lock = threading.Lock()
_keys_by_kid: dict[str, KeyPair] = {}
_active_kid: str | None = None


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _rsa_jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": _b64url_uint(numbers.n),
        "e": _b64url_uint(numbers.e),
    }


def _seed_keypair(seed: str) -> KeyPair:
    """Same seed, same Ed25519 key: replicas and restarts agree without shared rows."""
    private = ed25519.Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"hector-signing-seed:" + seed.encode()).digest()
    )
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    kid = "seed-" + hashlib.sha256(raw_public).hexdigest()[:16]
    jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
        "x": base64.urlsafe_b64encode(raw_public).rstrip(b"=").decode(),
    }
    return KeyPair(kid, "EdDSA", private, jwk)


def _load_row(row: SigningKey) -> KeyPair:
    pem = crypto.decrypt(row.private_key_encrypted).encode()
    private = serialization.load_pem_private_key(pem, password=None)
    return KeyPair(row.kid, row.algorithm, private, row.public_jwk)


def ensure_signing_key() -> KeyPair:
    """The key new tokens are signed with; generated and stored on first use."""
    global _active_kid
    seed = getattr(settings, "HECTOR_AUTH_SIGNING_SEED", None)
    with _keys_lock:
        if seed:
            pair = _seed_keypair(seed)
            _keys_by_kid[pair.kid] = pair
            _active_kid = pair.kid
            return pair
        if _active_kid and _active_kid in _keys_by_kid:
            return _keys_by_kid[_active_kid]
        with transaction.atomic():
            # Serialise first-start key generation across processes sharing the database.
            row = SigningKey.objects.select_for_update().filter(is_active=True).first()
            if row is None:
                private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                kid = uuid.uuid4().hex[:16]
                pem = private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode()
                row = SigningKey.objects.create(
                    kid=kid,
                    algorithm=SigningKey.Algorithm.RS256,
                    private_key_encrypted=crypto.encrypt(pem),
                    public_jwk=_rsa_jwk(kid, private),
                )
        pair = _load_row(row)
        _keys_by_kid[pair.kid] = pair
        _active_kid = pair.kid
        return pair


def _key_for(kid: str) -> KeyPair | None:
    if kid in _keys_by_kid:
        return _keys_by_kid[kid]
    refuse_database()
    seed = getattr(settings, "HECTOR_AUTH_SIGNING_SEED", None)
    if seed and _seed_keypair(seed).kid == kid:
        return ensure_signing_key()
    row = SigningKey.objects.filter(kid=kid).first()
    if row is None:
        return None
    pair = _load_row(row)
    with _keys_lock:
        _keys_by_kid[kid] = pair
    return pair


def jwks() -> dict[str, list[dict[str, Any]]]:
    """Public keys of every signing key (old ones too, so tokens they signed still verify)."""
    ensure_signing_key()
    keys = [row.public_jwk for row in SigningKey.objects.all()]
    seed = getattr(settings, "HECTOR_AUTH_SIGNING_SEED", None)
    if seed:
        keys.insert(0, _seed_keypair(seed).public_jwk)
    return {"keys": keys}


# --- App tokens ---------------------------------------------------------------------------------


def issue_app_token(app: App, *, issuer: str, ttl_s: int | None = None) -> str:
    pair = ensure_signing_key()
    now = int(time.time())
    ttl = ttl_s if ttl_s is not None else settings.HECTOR_APP_TOKEN_TTL_S
    claims = {
        "iss": issuer,
        "aud": TOKEN_AUDIENCE,
        "sub": f"app:{app.id}",
        "app": app.id,
        "tenant_id": app.id,
        "ver": app.token_version,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, pair.private_key, algorithm=pair.algorithm, headers={"kid": pair.kid})


def _authenticate_app_token(token: str) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidCredentials("malformed token") from exc
    kid = header.get("kid")
    pair = _key_for(kid) if isinstance(kid, str) else None
    if pair is None or header.get("alg") != pair.algorithm:
        raise InvalidCredentials("unknown signing key")
    try:
        claims = jwt.decode(
            token,
            pair.private_key.public_key(),
            algorithms=[pair.algorithm],
            audience=TOKEN_AUDIENCE,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidCredentials(str(exc)) from exc
    app_id = claims.get("app") or claims.get("tenant_id")
    app = app_cache.get(app_id) if isinstance(app_id, str) else None
    if app is None:
        raise InvalidCredentials("app no longer exists")
    if claims.get("ver") != app.token_version:
        raise InvalidCredentials("token revoked")
    return Principal("app", app=app, claims=claims)
