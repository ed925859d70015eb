"""`genrelens completion bash`: the generated script completes in a real bash."""

import shutil
import subprocess

import pytest

from genrelens import cli
from genrelens.completion import bash_completion
from genrelens.errors import ParameterError

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("completion") / "genrelens.bash"
    path.write_text(bash_completion(cli.build_parser(), prog="genrelens"))
    return path


def _complete(script, line: str) -> list[str]:
    """What bash offers for ``line`` (the last word is the one being completed)."""
    words = line.split(" ")
    program = (f"source {script}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
               f"COMP_CWORD={len(words) - 1}; _genrelens; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return sorted(filter(None, done.stdout.split("\n")))


@pytest.mark.parametrize(("line", "expected"), [
    ("genrelens tr", ["train"]),
    ("genrelens ev", ["evaluate", "evaluate-xai"]),
    ("genrelens data ", ["check", "fetch-split", "split", "synth"]),
    ("genrelens train --ep", ["--epochs"]),
    ("genrelens train --class-weight ", ["balanced", "none"]),
    ("genrelens data split --method k", ["kfold"]),
    ("genrelens --max-duration 5 predict --t", ["--top"]),
    ("genrelens tabular train --ma", ["--max-iter"]),  # tabular's train, not the top level's
    ("genrelens completion ", ["bash"]),
    ("genrelens data fetch-split ", ["gtzan-ff"]),
    ("genrelens predict run.pt ", []),  # files: left to bash's default completion
])
def test_script_completes_commands_options_and_choices(script, line, expected):
    assert _complete(script, line) == expected


def test_every_option_of_a_command_is_offered(script):
    parser = cli.build_parser()
    explain = parser._subparsers._group_actions[0].choices["explain"]
    options = sorted(s for a in explain._actions for s in a.option_strings)
    assert _complete(script, "genrelens explain -") == options


def test_cli_prints_the_script(capsys, script):
    assert cli.main(["completion", "bash"]) == 0
    assert capsys.readouterr().out == script.read_text()


def test_prog_must_be_a_command_name():
    with pytest.raises(ParameterError, match="prog='gen relens' is invalid"):
        bash_completion(cli.build_parser(), prog="gen relens")
