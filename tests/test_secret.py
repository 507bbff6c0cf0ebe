"""The signing secret (issue 8): guessable secrets refused, odd secret paths explained, keys rotate."""

from __future__ import annotations

import os
import secrets

import pytest

from gateway import secret
from gateway.consent import ConsentSigner
from gateway.secret import SecretError, load_secret

NEW, OLD = secrets.token_hex(32), secrets.token_hex(32)


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv(secret.ENV_VAR, raising=False)
    monkeypatch.delenv(secret.FILE_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("weak", [" " * 32, "a" * 32, "password" * 4, "ab" * 20, "test-secret-" + "x" * 40])
def test_a_guessable_secret_is_refused_with_how_to_make_one(weak, monkeypatch) -> None:
    monkeypatch.setenv(secret.ENV_VAR, weak)
    with pytest.raises(SecretError) as raised:
        load_secret()
    message = str(raised.value)
    assert "secrets.token_hex(32)" in message
    assert weak.strip() not in message or not weak.strip()  # the secret itself is never echoed


def test_random_secrets_are_accepted(monkeypatch) -> None:
    for _ in range(200):
        value = secrets.token_hex(16)  # the shortest a README reader may generate
        monkeypatch.setenv(secret.ENV_VAR, value)
        assert load_secret() == (value,)


def test_a_short_secret_names_the_minimum(monkeypatch) -> None:
    monkeypatch.setenv(secret.ENV_VAR, secrets.token_hex(8))
    with pytest.raises(SecretError, match="at least 32 characters"):
        load_secret()


def test_several_secrets_newest_first_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(secret.ENV_VAR, f" {NEW}, {OLD}\n")
    assert load_secret() == (NEW, OLD)
    monkeypatch.setenv(secret.ENV_VAR, f"{NEW},{'a' * 40}")
    with pytest.raises(SecretError, match=r"secret 2 of 2\) is too easy to guess"):
        load_secret()


def test_several_lines_in_the_file_are_several_secrets(no_env) -> None:
    path = no_env / ".tag-gateway-secret"
    path.write_text(f"{NEW}\n{OLD}\n")
    path.chmod(0o600)
    assert load_secret() == (NEW, OLD)


def test_rotation_signs_with_the_newest_and_verifies_the_old(monkeypatch) -> None:
    kwargs = dict(policy_version=1, known_categories=("necessary", "analytics"), max_age=3600)
    before, _ = ConsentSigner((OLD,)).issue(("necessary", "analytics"), 1, offered=("necessary", "analytics"))
    rotated = ConsentSigner((NEW, OLD))
    after, _ = rotated.issue(("necessary",), 1, offered=("necessary", "analytics"))
    assert rotated.read(before, **kwargs).reason == "valid"          # old tokens still verify
    assert ConsentSigner((NEW,)).read(after, **kwargs).reason == "valid"   # new ones are signed with NEW
    assert ConsentSigner((OLD,)).read(after, **kwargs).reason == "invalid"
    assert ConsentSigner((NEW,)).read(before, **kwargs).reason == "invalid"  # once OLD is dropped


def test_a_group_or_world_readable_file_is_warned_about(no_env, capsys) -> None:
    path = no_env / ".tag-gateway-secret"
    path.write_text(NEW + "\n")
    path.chmod(0o644)
    assert load_secret() == (NEW,)
    assert "can be read by other users (mode 0644); restrict it with: chmod 600" in capsys.readouterr().err
    path.chmod(0o600)
    load_secret()
    assert "can be read" not in capsys.readouterr().err


def test_a_dangling_link_is_a_clear_error(no_env) -> None:
    os.symlink(no_env / "missing", no_env / ".tag-gateway-secret")
    with pytest.raises(SecretError, match="is a symbolic link to nothing"):
        load_secret()


def test_a_directory_is_a_clear_error(no_env) -> None:
    (no_env / ".tag-gateway-secret").mkdir()
    with pytest.raises(SecretError, match="is a directory, not a secret file"):
        load_secret()


def test_a_non_utf8_file_is_a_clear_error(no_env) -> None:
    (no_env / ".tag-gateway-secret").write_bytes(b"\xff\xfe" + os.urandom(40))
    with pytest.raises(SecretError, match="is not UTF-8 text"):
        load_secret()


def test_a_generated_secret_is_complete_and_private(no_env, capsys) -> None:
    generated = load_secret()
    path = no_env / ".tag-gateway-secret"
    assert path.read_text().split() == list(generated) and path.stat().st_mode & 0o077 == 0
    assert [p.name for p in no_env.iterdir()] == [".tag-gateway-secret"]  # no draft left behind
    assert load_secret() == generated and "generated a signing secret" in capsys.readouterr().err
