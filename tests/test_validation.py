"""The shared input checks of genrelens._validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrelens._validation import (
    check_choice,
    check_int,
    check_random_state,
    valid_audio,
    valid_logmel,
)
from genrelens.errors import ParameterError


def test_check_int_accepts_python_and_numpy_integers_within_bounds():
    assert check_int("n", 3) == 3
    value = check_int("n", np.int64(7), minimum=1, maximum=7)
    assert value == 7 and type(value) is int
    assert check_int("n", -4) == -4


@pytest.mark.parametrize("value, bounds, expected", [
    (True, {}, "expected an integer"),
    (2.0, {"minimum": 1}, "expected a positive integer"),
    (0, {"minimum": 1}, "expected a positive integer"),
    (-1, {"minimum": 0}, "expected a non-negative integer"),
    (1, {"minimum": 2}, "expected an integer >= 2"),
    (100000, {"minimum": 0, "maximum": 99999}, r"expected an integer in \[0, 99999\]"),
    (5, {"maximum": 4}, "expected an integer <= 4"),
    ("3", {}, "expected an integer"),
])
def test_check_int_names_the_parameter_value_and_expectation(value, bounds, expected):
    with pytest.raises(ParameterError, match=rf"^n_steps={value!r} is invalid: {expected}\.$"):
        check_int("n_steps", value, **bounds)


def test_check_choice():
    assert check_choice("mode", "deletion", ("deletion", "insertion")) == "deletion"
    with pytest.raises(ParameterError, match=r"mode='x' is invalid: expected one of \['a'\]"):
        check_choice("mode", "x", ("a",))
    with pytest.raises(ParameterError):
        check_choice("mode", ["a"], ("a",))


def test_check_random_state_passes_one_generator_down():
    rng = np.random.default_rng(5)
    assert check_random_state(rng) is rng
    a = check_random_state(3).integers(0, 1000, size=4)
    np.testing.assert_array_equal(a, np.random.default_rng(3).integers(0, 1000, size=4))
    assert isinstance(check_random_state(None), np.random.Generator)
    for bad in (-1, True, 1.5, np.random.RandomState(0)):
        with pytest.raises(ParameterError, match="random_state=.* is invalid"):
            check_random_state(bad)


def test_valid_logmel_one_input_drops_leading_singleton_axes():
    x = np.arange(12, dtype=np.float64).reshape(1, 1, 3, 4)
    out = valid_logmel(x)
    assert out.shape == (3, 4) and out.dtype == np.float64
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    np.testing.assert_array_equal(valid_logmel(t), t.numpy())
    for bad in (np.zeros((2, 3, 4)), np.zeros(5), np.zeros((1, 1, 1, 1, 3, 4)),
                np.zeros((3, 4), dtype=complex), np.zeros((0, 4))):
        with pytest.raises(ParameterError, match="logmel has shape"):
            valid_logmel(bad)
    with pytest.raises(ParameterError, match="NaN or infinite"):
        valid_logmel(np.array([[0.0, np.inf]]))


def test_valid_logmel_batch_checks_the_mel_bands():
    x = np.zeros((2, 8, 5), dtype=np.float32)
    assert valid_logmel(x, batched=True, n_mels=8) is not None
    with pytest.raises(ParameterError, match=r"\(n_segments >= 1, n_mels=16, n_frames\)"):
        valid_logmel(x, batched=True, n_mels=16)
    with pytest.raises(ParameterError, match="has shape"):
        valid_logmel(np.zeros((0, 8, 5)), batched=True)
    with pytest.raises(ParameterError, match="has shape"):
        valid_logmel(np.zeros((1, 1, 8, 5)), batched=True)


def test_valid_audio_arrays_and_tensors():
    y = np.zeros((2, 100), dtype=np.float32)
    assert valid_audio(y) is y
    t = torch.zeros(100)
    assert valid_audio(t, mono=True) is t
    with pytest.raises(ParameterError, match=r"y has shape \(2, 100\): expected a mono"):
        valid_audio(y, mono=True)
    with pytest.raises(ParameterError, match="n_samples >= 1"):
        valid_audio(np.zeros((3, 0)))
    with pytest.raises(ParameterError, match="expected a real-valued waveform"):
        valid_audio(torch.zeros(4, dtype=torch.complex64))
    with pytest.raises(ParameterError, match="wave has dtype bool"):
        valid_audio(np.zeros(4, dtype=bool), name="wave")
