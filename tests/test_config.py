"""`Settings`: the secrets it holds never show in reprs, dumps or configuration errors."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from lox24_mcp.config import ConfigError, Settings
from tests.helpers import PLANTED as SECRET
from tests.helpers import assert_clean, assert_exception_clean

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
