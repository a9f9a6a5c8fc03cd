"""`Settings`: the secrets it holds never show in reprs, dumps or configuration errors."""

from __future__ import annotations

import traceback

import pytest
from pydantic import SecretStr

from lox24_mcp.config import ConfigError, Settings

SECRET = "7654321:FAKE-SECRET-abc123xyz"
KEY_PART = SECRET.partition(":")[2]
NEEDLES = (SECRET, KEY_PART, "FAKE-SECRET")


def assert_clean(text: str, where: str) -> None:
    for needle in NEEDLES:
        assert needle not in text, f"the secret leaked into {where}: {text[:300]!r}"


def assert_exception_clean(exc: BaseException) -> None:
    """Message, args, attributes, and the whole printed traceback with its causes."""
    assert_clean(str(exc), "str(exc)")
    assert_clean(repr(exc), "repr(exc)")
    assert_clean(repr(exc.args), "exc.args")
    assert_clean(repr(vars(exc)), "exception attributes")
    assert_clean("".join(traceback.format_exception(exc)), "the formatted traceback")
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            assert_clean(repr(linked), "a chained exception")
            assert_clean(repr(linked.args), "a chained exception's args")


# ----------------------------------------------------------------------------- fixtures


# ----------------------------------------------------------------------------- the client, end to end


# ----------------------------------------------------------------------------- settings


def test_settings_never_show_the_token() -> None:
    settings = Settings(api_token=SecretStr(SECRET), secret=SecretStr(SECRET), http_token=SecretStr(SECRET))
    for text, where in [
        (repr(settings), "repr(settings)"),
        (str(settings), "str(settings)"),
        (settings.model_dump_json(), "settings JSON"),
        (repr(settings.model_dump()), "settings dump"),
    ]:
        assert_clean(text, where)
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == SECRET


def test_settings_from_env_keep_the_token_secret() -> None:
    settings = Settings.from_env({"LOX24_API_TOKEN": SECRET, "LOX24_MCP_CONFIRM": "token"})
    assert isinstance(settings.api_token, SecretStr)
    assert settings.api_token.get_secret_value() == SECRET
    assert_clean(repr(settings), "repr(settings from env)")


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"LOX24_API_TOKEN": SECRET, "LOX24_MCP_CONFIRM": "bogus"}, "LOX24_MCP_CONFIRM"),
        ({"LOX24_API_TOKEN": SECRET, "LOX24_TIMEOUT": "soon"}, "LOX24_TIMEOUT"),
        ({"LOX24_API_TOKEN": SECRET, "LOX24_BASE_URL": "ftp://x"}, "LOX24_BASE_URL"),
        ({"LOX24_API_TOKEN": SECRET, "LOX24_MCP_SECRET": SECRET, "LOX24_MCP_TOKEN_TTL": "5"}, "LOX24_MCP_TOKEN_TTL"),
    ],
)
def test_invalid_configuration_names_the_variable_without_the_secret(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ)
    assert variable in str(info.value)
    assert "LOX24_API_TOKEN" not in str(info.value)
    assert_exception_clean(info.value)
