"""The API key: ``Authorization: Bearer KEY`` on every request, compared in constant time.

Viewer pages (any path outside ``/v1``) also take HTTP Basic credentials whose
password is the key (any user name), because a browser cannot send a bearer
token but asks for Basic credentials when a 401 says ``WWW-Authenticate:
Basic``. Basic is refused on the API: browsers send cached Basic credentials
with cross-site requests too, and only the viewer's read-only GET pages may be
reached that way (a foreign page cannot read their responses).
"""

from __future__ import annotations

import base64
import binascii
import hmac

API_PREFIX = "/v1"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="thinktree", charset="UTF-8"'}
MISSING_KEY = "missing or wrong API key: send Authorization: Bearer KEY"
MISSING_KEY_PAGE = (
    "missing or wrong API key: send Authorization: Bearer KEY, or sign in with any user "
    "name and the key as the password"
)


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def key_matches(header: str, key: str, *, allow_basic: bool) -> bool:
    """Whether the ``Authorization`` header ``header`` carries ``key``."""
    scheme, _, token = header.partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if scheme == "bearer":
        offered = token
    elif scheme == "basic" and allow_basic:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _user, sep, offered = decoded.partition(":")
        if not sep:
            return False
    else:
        return False
    return hmac.compare_digest(offered.encode(), key.encode())
