import json

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


def test_help_lists_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out
    for code in (0, 1, 2, cli.EXIT_ERROR, 130):
        assert f"\n  {code:<4} " in out
    assert cli.EXIT_ERROR not in (0, 1, 2, 130)


@pytest.mark.parametrize(("argv", "usage"), [
    (["train", "--data", "d", "--out", "r", "--epochz", "3"], "usage: genrelens train "),
    (["data", "check", "d", "--bogus"], "usage: genrelens data check "),
    (["predict", "r.pt", "a.wav", "--top", "0"], "usage: genrelens predict "),
])
def test_a_wrong_command_line_exits_2_with_the_subcommands_usage(capsys, argv, usage):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    assert "genrelens [-h]" not in err  # not the top-level usage


def test_a_data_error_exits_3_in_one_line(tmp_path, capsys):
    assert cli.main(["predict", str(tmp_path / "none.pt"), "a.wav"]) == cli.EXIT_ERROR == 3
    err = capsys.readouterr().err
    assert err.startswith("genrelens predict: error: ") and err.count("\n") == 1


def test_predict_json_honours_top(tiny_run, capsys):
    argv = ["predict", str(tiny_run), str(tiny_run / "clip.wav"), "--json"]
    assert cli.main(argv) == 0
    (full,) = json.loads(capsys.readouterr().out)
    assert list(full["probabilities"]) == ["blues", "jazz", "metal"]  # class order
    ranked = sorted(full["probabilities"].items(), key=lambda item: -item[1])
    assert cli.main([*argv, "--top", "2"]) == 0
    (top,) = json.loads(capsys.readouterr().out)
    assert list(top["probabilities"].items()) == ranked[:2]  # most probable first
    assert top["label"] == ranked[0][0] and top["n_segments"] == full["n_segments"] == 2
    assert cli.main(argv[:-1] + ["--top", "2"]) == 0
    shown = ", ".join(f"{name} {p:.3f}" for name, p in ranked[:2])
    assert capsys.readouterr().out == f"{tiny_run / 'clip.wav'}: {shown}\n"
