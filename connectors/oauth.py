"""An OAuth 2 client-credentials token, as a source's `Authorization` header.

The client-credentials grant (RFC 6749, section 4.4) gives no refresh token: the token
is fetched lazily, fetched again `margin` seconds before it expires, and once more when
the API answers 401 (revoked or expired early).  The token endpoint has an HTTP client
of its own, without the 401 hook, so a refused token request cannot recurse into
fetching another token.  The secrets stay private to this object and never reach a
message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import SecretStr

from connectors.base import RetriableError
from connectors.http import Clock, HttpClient, RetryPolicy, Sleep
from connectors.rest import decode_json

DEFAULT_LIFETIME = 7200.0  # seconds, when the endpoint does not say (`expires_in`)


class ClientCredentials:
    """A bearer token for one app, shared by the poll and the outbox (thread-safe)."""

    def __init__(self, token_url: str, client_id: SecretStr, client_secret: SecretStr, *,
                 vendor: str, margin: float, policy: RetryPolicy, clock: Clock, sleep: Sleep,
                 retry_after_headers: tuple[str, ...]) -> None:
        self.token_url = token_url
        self.__client_id = client_id
        self.__client_secret = client_secret
        self.__token: str | None = None
        self._expires = 0.0
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._vendor = vendor
        self.fetches = 0  # for tests and metrics: how often a token was requested
        self.http = HttpClient(token_url, vendor=vendor, policy=policy, clock=clock,
                               sleep=sleep, retry_after_headers=retry_after_headers)

    def __repr__(self) -> str:
        return f"ClientCredentials(token_url={self.token_url!r})"

    def headers(self) -> Mapping[str, str]:
        """The `Authorization` header, fetching a token first when it is due."""
        # The poll and the outbox may call at once: one of them fetches, the other waits.
        with self._lock:
            if self.__token is None or self._clock() >= self._expires - self._margin:
                self._fetch()
            return {"Authorization": f"Bearer {self.__token}"}

    def renew(self) -> bool:
        """After a 401: a new token now; True, so the refused request is tried again."""
        with self._lock:
            self.__token = None
            self._fetch()
        return True

    def _fetch(self) -> None:
        self.fetches += 1
        response = self.http.request(
            "POST", self.token_url, authenticated=False,
            data={"grant_type": "client_credentials",
                  "client_id": self.__client_id.get_secret_value(),
                  "client_secret": self.__client_secret.get_secret_value()})
        body = decode_json(response, self._vendor, "POST", urlsplit(self.token_url).path)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RetriableError(f"{self._vendor}: the token endpoint answered without a token")
        try:
            lifetime = float(body.get("expires_in", DEFAULT_LIFETIME))
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME
        self.__token = token
        self._expires = self._clock() + lifetime
