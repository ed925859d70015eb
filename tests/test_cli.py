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
    monkeypatch.setattr(cli.signal, "signal", lambda *a: None)  # keep pytest's handlers
    with pytest.raises(SystemExit) as exc:
        cli.entry()
    assert exc.value.code == 0


def test_sigterm_is_handled_like_ctrl_c(monkeypatch):
    # entry() turns SIGTERM into KeyboardInterrupt, so cleanup runs (the stage is recorded as
    # failed, finished work kept) and the status is 130; checked in a child process.
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import os, signal, sys, time
        from genrelens import cli

        def fake_main(argv=None):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
            except KeyboardInterrupt:
                print("cleanup ran")
                return 130
            return 0

        cli.main = fake_main
        sys.argv = ["genrelens"]
        cli.entry()
    """)
    env = {**os.environ, **cli.MALLOC_ENV, "GENRELENS_NO_REEXEC": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 130 and done.stdout.strip() == "cleanup ran", done.stderr
