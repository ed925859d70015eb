import pytest

from genrelens import cli


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "genrelens" in capsys.readouterr().out


class _Execd(Exception):
    pass


def test_entry_reexecutes_once_with_malloc_settings(monkeypatch):
    for key in (*cli.MALLOC_ENV, "GENRELENS_NO_REEXEC"):
        monkeypatch.delenv(key, raising=False)
    seen = {}

    def fake_execve(path, argv, env):
        seen.update(path=path, argv=argv, env=env)
        raise _Execd

    monkeypatch.setattr(cli.os, "execve", fake_execve)
    monkeypatch.setattr(cli.sys, "argv", ["genrelens", "data", "--help"])
    with pytest.raises(_Execd):
        cli.entry()
    assert seen["argv"][1:] == ["-m", "genrelens", "data", "--help"]
    for key, value in cli.MALLOC_ENV.items():
        assert seen["env"][key] == value
    assert seen["env"]["GENRELENS_NO_REEXEC"] == "1"  # the child does not re-execute again


def test_entry_runs_directly_when_settings_present(monkeypatch):
    for key, value in cli.MALLOC_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GENRELENS_NO_REEXEC", raising=False)
    monkeypatch.setattr(cli.os, "execve", lambda *a: pytest.fail("must not re-execute"))
    monkeypatch.setattr(cli.sys, "argv", ["genrelens", "--version"])
    with pytest.raises(SystemExit) as exc:
        cli.entry()
    assert exc.value.code == 0
