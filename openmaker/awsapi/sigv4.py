"""AWS Signature Version 4, checked on the server side.

The canonical request is built the way botocore builds it for every service but S3
(path normalised, then quoted with ``/~`` safe; the query string as sent, pairs sorted;
signed headers lower-cased, values trimmed; the payload's SHA-256), so a request signed by
any AWS SDK verifies here. :func:`parse_authorization` reads the ``Authorization`` header,
:func:`verify` checks the date, the scope and the signature, and raises :class:`AwsError`
with the codes AWS answers: ``MissingAuthenticationTokenException``,
``IncompleteSignatureException``, ``InvalidSignatureException`` (bad signature, or a
clock more than 15 minutes off).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from openmaker.awsapi.errors import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _incomplete(message: str) -> AwsError:
    return AwsError("IncompleteSignatureException", message)


def parse_authorization(header: str | None) -> Authorization:
    """The ``Authorization`` header's credential, signed headers and signature."""
    if not header:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'; openmaker takes {ALGORITHM} (Signature Version 4)")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise _incomplete(
            f"Authorization header requires '{missing[0]}' parameter. Authorization={header[:200]}"
        )
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request" or not all(credential):
        raise _incomplete(
            f"Credential should be scoped to a valid region, a service and 'aws4_request', not '{fields['Credential']}'"
        )
    signed = tuple(fields["SignedHeaders"].lower().split(";"))
    return Authorization(credential[0], credential[1], credential[2], credential[3], signed, fields["Signature"].lower())


def request_time(headers: dict[str, str]) -> datetime:
    """The request's ``X-Amz-Date`` (or ``Date``) as an aware datetime."""
    value = headers.get("x-amz-date")
    if value:
        try:
            return datetime.strptime(value, _AMZ_DATE).replace(tzinfo=timezone.utc)
        except ValueError:
            raise _incomplete(f"X-Amz-Date {value!r} is not in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'") from None
    value = headers.get("date")
    if value:
        from email.utils import parsedate_to_datetime

        try:
            return parsedate_to_datetime(value).astimezone(timezone.utc)
        except (TypeError, ValueError):
            raise _incomplete(f"Date header {value!r} is not an HTTP date") from None
    raise _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")


def canonical_path(raw_path: str) -> str:
    from botocore.utils import normalize_url_path

    return quote(normalize_url_path(raw_path or "/"), safe="/~")


def canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = [pair.partition("=")[::2] for pair in query.split("&")]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(
    method: str, raw_path: str, query: str, headers: dict[str, list[str]], signed: tuple[str, ...], payload_hash: str
) -> str:
    lines = [method.upper(), canonical_path(raw_path), canonical_query(query)]
    for name in signed:
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in headers.get(name, []))}")
    return "\n".join(lines + ["", ";".join(signed), payload_hash])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def expected_signature(secret: str, auth: Authorization, amz_date: str, canonical: str) -> str:
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, auth.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac.new(signing_key(secret, auth.date, auth.region, auth.service), string_to_sign.encode(), hashlib.sha256).hexdigest()


def payload_hash(headers: dict[str, str], body: bytes) -> str:
    """The body's SHA-256, checked against ``X-Amz-Content-SHA256`` when the client sent one."""
    actual = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    declared = headers.get("x-amz-content-sha256")
    if declared and declared != "UNSIGNED-PAYLOAD" and declared != actual:
        raise AwsError("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
    return declared if declared == "UNSIGNED-PAYLOAD" else actual


def check_clock(when: datetime, now: datetime | None = None) -> None:
    """Refuse a request signed more than 15 minutes before or after the server's clock."""
    now = now or datetime.now(timezone.utc)
    stamp, current = when.strftime(_AMZ_DATE), now.strftime(_AMZ_DATE)
    if when < now - MAX_SKEW:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier than {(now - MAX_SKEW).strftime(_AMZ_DATE)} ({current} - 15 min.)",
        )
    if when > now + MAX_SKEW:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature not yet current: {stamp} is still later than {(now + MAX_SKEW).strftime(_AMZ_DATE)} ({current} + 15 min.)",
        )


def verify(
    auth: Authorization,
    secret: str,
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, list[str]],
    body: bytes,
    now: datetime | None = None,
) -> None:
    """Check a parsed ``Authorization`` against the request; raises ``AwsError`` when it does not hold."""
    single = {k: v[-1] for k, v in headers.items()}
    when = request_time(single)
    if when.strftime("%Y%m%d") != auth.date:
        raise AwsError(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.date}' != '{when.strftime('%Y%m%d')}', from '{when.strftime(_AMZ_DATE)}'.",
        )
    check_clock(when, now)
    if "host" not in auth.signed_headers:
        raise AwsError("InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    canonical = canonical_request(method, raw_path, query, headers, auth.signed_headers, payload_hash(single, body))
    amz_date = single.get("x-amz-date") or when.strftime(_AMZ_DATE)
    if not hmac.compare_digest(expected_signature(secret, auth, amz_date, canonical), auth.signature):
        raise AwsError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.",
        )
