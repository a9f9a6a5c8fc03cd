"""Settings read from the environment, once, at startup.

Secrets are `SecretStr` from the moment they are read; they are never taken from argv, and a
failed validation names the variable without echoing its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails

from lox24_mcp.lox24.client import DEFAULT_BASE_URL
from lox24_mcp.lox24.times import InvalidZoneError, load_zone, machine_zone
from lox24_mcp.ops.confirm import Policy as ConfirmPolicy

#: Environment variable -> Settings field. The README's configuration table is checked against this.
ENV_VARS: dict[str, str] = {
    "LOX24_API_TOKEN": "api_token",
    "LOX24_BASE_URL": "base_url",
    "LOX24_TIMEOUT": "timeout",
    "LOX24_MCP_CONFIRM": "confirm",
    "LOX24_MCP_SECRET": "secret",
    "LOX24_MCP_TOKEN_TTL": "token_ttl",
    "LOX24_MCP_HTTP_TOKEN": "http_token",
    "LOX24_MCP_LOG_LEVEL": "log_level",
    "LOX24_MCP_IMPORT_DIRS": "import_dirs",
    "LOX24_MCP_TIMEZONE": "timezone",
    "LOX24_MCP_AUDIT_LOG": "audit_log",
    "LOX24_MCP_REPLICA_ID": "replica_id",
    "LOX24_MCP_SANDBOX": "sandbox",
    "LOX24_MCP_CREDENTIALS": "credentials",
    "LOX24_MCP_NEW_KEYS_PER_MINUTE": "new_keys_per_minute",
}


#: What each variable accepts, in one phrase: used in error messages, and the README's table says the same.
ENV_LIMITS: dict[str, str] = {
    "LOX24_API_TOKEN": "must look like <clientId>:<apiKey>, without spaces or line breaks",
    "LOX24_BASE_URL": "must be an http(s):// URL with a host, a port from 1 to 65535 if any, and no user:password",
    "LOX24_TIMEOUT": "must be a number of seconds, more than 0 and at most 300",
    "LOX24_MCP_CONFIRM": "must be auto, human, elicit, token or off (any case)",
    "LOX24_MCP_SECRET": "must be at least 16 bytes of UTF-8 text",
    "LOX24_MCP_TOKEN_TTL": "must be a whole number of seconds from 30 to 3600",
    "LOX24_MCP_HTTP_TOKEN": "must be printable ASCII without spaces; 16+ characters to guard a non-loopback bind",
    "LOX24_MCP_LOG_LEVEL": "must be DEBUG, INFO, WARNING or ERROR (any case)",
    "LOX24_MCP_IMPORT_DIRS": "must be folder paths separated by the OS path separator (: or ;)",
    "LOX24_MCP_TIMEZONE": "must be an IANA zone name such as Europe/Berlin",
    "LOX24_MCP_AUDIT_LOG": "must be a file path the server can append to",
    "LOX24_MCP_SANDBOX": "must be true or false",
    "LOX24_MCP_CREDENTIALS": "must be server or client",
    "LOX24_MCP_NEW_KEYS_PER_MINUTE": "must be a whole number from 0 to 3",
    "LOX24_MCP_REPLICA_ID": "must be 1–16 of a–z and 0–9",
}
#: Shortest `LOX24_MCP_SECRET`, in bytes: the HMAC key of every confirmation token.
MIN_SECRET_BYTES = 16
#: Shortest `LOX24_MCP_HTTP_TOKEN` accepted to guard a bind beyond loopback.
MIN_HTTP_TOKEN_CHARS = 16


class ConfigError(Exception):
    """The environment does not describe a usable configuration; the message names the variable."""


class Settings(BaseModel):
    """Everything the server can be configured with. Build it with `Settings.from_env()`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_token: SecretStr | None = Field(
        default=None, description="LOX24 API token `<clientId>:<apiKey>` (account.lox24.eu → Settings → API)."
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, pattern=r"^https?://[^\s]+$")
    timeout: float = Field(
        default=30.0, gt=0, le=300, allow_inf_nan=False, description="Seconds to wait for LOX24 to answer."
    )
    confirm: ConfirmPolicy = Field(
        default="auto", description="How cancel_pending_sms gets the user's yes (`elicit` is an alias of `human`)."
    )
    secret: SecretStr | None = Field(
        default=None, description="Key for confirmation tokens; share it across HTTP replicas. Random if unset."
    )
    token_ttl: int = Field(default=600, ge=30, le=3600, description="Seconds a confirmation token stays valid.")
    http_token: SecretStr | None = Field(
        default=None, description="Bearer token required on HTTP; mandatory when bound beyond loopback."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    import_dirs: tuple[str, ...] = Field(
        default=(),
        description="Folders add_phones_from_file may read (os.pathsep-separated); none: reading files is off.",
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone for reading and showing times (e.g. Europe/Berlin); unset: the machine's zone.",
    )
    audit_log: Path | None = Field(
        default=None, description="File that every destructive decision is appended to, one JSON line each."
    )
    sandbox: bool = Field(
        default=False, description="Run against the built-in sandbox, like --sandbox (for the MCP Bundle's settings)."
    )
    credentials: Literal["server", "client"] = Field(
        default="server",
        description="Whose LOX24 token a request uses over HTTP: the server's (LOX24_API_TOKEN) or the caller's "
        "(the X-LOX24-AUTH-TOKEN header of each request). stdio always uses the server's.",
    )
    new_keys_per_minute: int = Field(
        default=3,
        ge=0,
        le=3,
        description="With credentials=client: failed LOX24 logins this process may cause per minute (LOX24 blocks "
        "the IP after more than 3); divide 3 among the processes sharing one IP.",
    )
    replica_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]{1,16}$",
        description="This replica's name behind a load balancer; tags the session ids it mints (HTTP only).",
    )

    @field_validator("import_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        """`LOX24_MCP_IMPORT_DIRS` is one string: split it like PATH, dropping empty parts."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(os.pathsep) if part.strip())
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(load_zone(value).key)
        except InvalidZoneError as exc:
            raise ValueError(str(exc)) from None

    def zone(self) -> tzinfo:
        """The zone times are read and shown in: `timezone`, or the machine's local zone."""
        return load_zone(self.timezone) if self.timezone else machine_zone()

    @field_validator("api_token", mode="before")
    @classmethod
    def _token_shape(cls, value: object) -> object:
        """Strip stray whitespace (a CRLF .env file) and insist on `<clientId>:<apiKey>`; never echo it."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        raw = raw.strip()
        if not re.fullmatch(r"[^\s:]+:[^\s]+", raw) or not raw.isprintable():
            raise ValueError("must look like <clientId>:<apiKey>, without spaces or line breaks")
        return SecretStr(raw)

    @field_validator("secret", mode="before")
    @classmethod
    def _secret_length(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and len(raw.encode("utf-8", "surrogatepass")) < MIN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("http_token", mode="before")
    @classmethod
    def _http_token_shape(cls, value: object) -> object:
        """Strip a trailing CR/LF or spaces (every request would 401 otherwise); refuse what no header can carry."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        raw = raw.strip()
        if not re.fullmatch(r"[\x21-\x7e]+", raw):
            raise ValueError("must be printable ASCII without spaces (it is sent as `Authorization: Bearer <token>`)")
        return SecretStr(raw)

    @field_validator("base_url")
    @classmethod
    def _base_url_parts(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 (raises ValueError for a port outside 0-65535 or not a number)
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        if parts.port == 0:
            raise ValueError("the port must be a number from 1 to 65535")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain user:password (it would appear in error messages); use LOX24_API_TOKEN")
        if not parts.hostname:
            raise ValueError("must name a host, e.g. https://api.lox24.eu")
        return value

    @field_validator("confirm", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the `LOX24_*` variables (empty values count as unset).

        Raises:
            ConfigError: a variable holds a value that cannot be used; its value is not repeated.
        """
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        problems: list[str] = []
        for var, field in ENV_VARS.items():
            value = env.get(var, "")
            try:
                value.encode("utf-8")  # bytes that are not UTF-8 arrive as lone surrogates (surrogateescape)
            except UnicodeEncodeError:
                problems.append(f"{var}: is not valid UTF-8 text")
                continue
            if value.strip():
                values[field] = value
        if not problems:
            try:
                return cls.model_validate(values)
            except ValidationError as exc:
                problems = [_problem(err) for err in exc.errors()]
        names = sorted({problem.split(":", 1)[0] for problem in problems})
        raise ConfigError(f"invalid configuration in {', '.join(names)} ({'; '.join(dict.fromkeys(problems))})")


_FIELD_TO_VAR = {field: var for var, field in ENV_VARS.items()}


def _problem(error: ErrorDetails) -> str:
    """`<VARIABLE> <what is allowed>` for one validation error, without the value."""
    var = _FIELD_TO_VAR.get(str(error["loc"][0]), str(error["loc"][0]))
    if error["type"] == "value_error":  # our own validators: a specific sentence
        return f"{var}: {str(error['msg']).removeprefix('Value error, ')}"
    return f"{var}: {ENV_LIMITS.get(var, 'is not valid')}"
