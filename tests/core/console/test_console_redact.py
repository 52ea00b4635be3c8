"""What the console shows of a configuration never includes a secret, and keeps its lines."""

from __future__ import annotations

from core.console.redact import MASK, is_secret_key, redact, redact_yaml

TEXT = """\
engines:
  cloud:
    settings:
      api_key: sk-live-1234   # pasted here by mistake
      api_key_env: OPENAI_API_KEY
      api_key_header: Authorization
      max_output_tokens: 256
  other: {settings: {auth_token: "tok-9", model: small}}
  gateway: {settings: {headers: {Authorization: "Bearer gw-77", OpenAI-Project: proj-1}}}
state:
  url: valkey://:hunter2@127.0.0.1:6379/0
# password: a comment is shown as written
"""


def test_secret_names_end_in_a_secret_word() -> None:
    secrets = ("api_key", "apikey", "auth_token", "password", "client_secret", "credentials")
    for key in (*secrets, "Authorization", "Proxy-Authorization", "Cookie"):
        assert is_secret_key(key), key
    for key in ("api_key_env", "api_key_header", "max_output_tokens", "key_prefix", "tokens"):
        assert not is_secret_key(key), key


def test_yaml_values_are_masked_line_for_line() -> None:
    shown = redact_yaml(TEXT)
    for secret in ("sk-live-1234", "tok-9", "gw-77", "hunter2"):
        assert secret not in shown
    assert len(shown.splitlines()) == len(TEXT.splitlines())
    lines = shown.splitlines()
    assert lines[3] == f"      api_key: {MASK}   # pasted here by mistake"
    assert lines[4] == "      api_key_env: OPENAI_API_KEY"
    assert lines[6] == "      max_output_tokens: 256"
    assert lines[7] == f"  other: {{settings: {{auth_token: {MASK}, model: small}}}}"
    assert lines[8] == (
        f"  gateway: {{settings: {{headers: {{Authorization: {MASK}, OpenAI-Project: proj-1}}}}}}"
    )
    assert lines[10] == f"  url: valkey://:{MASK}@127.0.0.1:6379/0"
    assert lines[11] == TEXT.splitlines()[11]


def test_resolved_values_are_masked() -> None:
    data = {
        "engines": [
            {"settings": {"api_key": "sk-1", "api_key_env": "X", "model": "m"}},
            {"settings": {"headers": {"Authorization": "Bearer gw-77", "OpenAI-Project": "p"}}},
        ],
        "state": {"url": "valkey://user:pw@host/0", "password_env": "P"},
        "token": None,
    }
    assert redact(data) == {
        "engines": [
            {"settings": {"api_key": MASK, "api_key_env": "X", "model": "m"}},
            {"settings": {"headers": {"Authorization": MASK, "OpenAI-Project": "p"}}},
        ],
        "state": {"url": f"valkey://user:{MASK}@host/0", "password_env": "P"},
        "token": None,
    }
