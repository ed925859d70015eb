"""A fast inference copy of a model: batch norm folded into convolutions, channels-last memory.

In evaluation mode a :class:`~torch.nn.BatchNorm2d` is a fixed per-channel affine map
``y = gamma * (x - mean) / sqrt(var + eps) + beta``. When it directly follows a
:class:`~torch.nn.Conv2d` whose output nothing else reads, the map can be folded into the
convolution's weight and bias (Jacob et al. 2018, "Quantization and Training of Neural
Networks for Efficient Integer-Arithmetic-Only Inference", section 3.2)::

    s = gamma / sqrt(var + eps)
    W' = W * s[:, None, None, None]
    b' = (b - mean) * s + beta

and the batch norm is replaced by :class:`~torch.nn.Identity`. One pass over memory per block
disappears; together with the channels-last layout (which oneDNN's CPU convolutions prefer)
this roughly doubles CPU inference throughput on the 4-block CNN (see
``benchmarks/bench_fold.py``).

Finding the pairs
-----------------
The model is traced with :func:`torch.fx.symbolic_trace` *only to find the pairs*; the copy
keeps the model's own class, attributes and module names (folded batch norms become
``Identity`` under the same name), so layer names given to Grad-CAM still resolve. A pair is
folded when, in the traced graph,

* the convolution module is called exactly once, its output's only user is the batch norm;
* the batch norm module is called exactly once, on that output;
* the batch norm uses running statistics (``track_running_stats=True``);
* both are exactly ``nn.Conv2d`` and ``nn.BatchNorm2d``, not subclasses (which may override
  ``forward``); ``padding_mode`` may be anything (padding acts on the input, not the weights).

Reused modules, convolutions whose output also feeds a skip connection, and batch norms
without a preceding convolution are left alone. When tracing fails (data-dependent Python
control flow in ``forward``), the fallback walks :class:`~torch.nn.Sequential` containers:
a ``Conv2d`` immediately followed by a ``BatchNorm2d`` inside one plain ``Sequential`` is folded
if neither module object appears anywhere else in the model.

The folded weights are computed in float64 and cast back to the convolution's dtype, so the
copy's outputs equal the original's to float32 rounding (tested at 1e-4 relative).

Batch norm after ReLU, before a max
-----------------------------------
Networks ported from TensorFlow often normalise *after* the non-linearity: musicnn's and its
vgg's blocks are ``conv -> ReLU -> BatchNorm -> max`` (a max pool, or a max over the mel
axis), so no ``Conv -> BatchNorm`` pair exists. Writing the batch norm as ``s * r + t``
(``s = gamma / sqrt(var + eps)``, ``t = beta - s * mean``) and folding it into the
convolution as above (``c' = s * c + t``), the block's output is a per-channel clamp::

    s * relu(c) + t = max(c', t)     (s > 0)
                    = min(c', t)     (s < 0)
                    = t = c'         (s = 0: no bound)

and a clamp is non-decreasing, so it commutes with any max over positions: the clamp moves
after the max and acts on the pooled map only, the ReLU and the batch norm on the full map
disappear (exact up to float rounding, whatever the signs of ``gamma``). Tracing cannot tell
that a reduction is a max, so a module declares such blocks itself in a class attribute
``max_pooled_blocks``: names of its :class:`~torch.nn.ModuleDict` children holding ``conv``
(``nn.Conv1d`` or ``nn.Conv2d``), ``relu`` (``nn.ReLU``), ``bn`` (batch norm with running
statistics) and ``post`` (``nn.Identity``), its forward computing
``post(max(bn(relu(conv(x)))))``. :func:`inference_copy` folds them (in the model and every
submodule declaring them); ``relu`` and ``bn`` become ``Identity``, ``post`` a
:class:`ChannelClamp`.
"""

from __future__ import annotations

import copy
import threading

import torch
from torch import nn

__all__ = ["inference_copy", "find_conv_bn_pairs", "ChannelClamp"]

#: ``torch.fx.symbolic_trace`` patches ``nn.Module.__call__`` for the whole process while it
#: traces; two threads tracing at once (e.g. Dask's threaded workers) can restore each other's
#: patch and leave it installed, so tracing is done by one thread at a time.
_TRACE_LOCK = threading.Lock()


def inference_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode, batch norm folded, parameters channels-last.

    Parameters
    ----------
    model : torch.nn.Module
        Any model; it is not modified (its mode, parameters and buffers stay as they are).

    Returns
    -------
    torch.nn.Module
        Same class and module names as ``model``, in eval mode, every foldable
        ``Conv2d -> BatchNorm2d`` pair (see :func:`find_conv_bn_pairs`) folded and the folded
        batch norm replaced by ``nn.Identity``, every declared ``conv -> ReLU -> BatchNorm ->
        max`` block folded (see the module docstring); 4-D parameters in
        ``torch.channels_last`` memory format unless a module of the model declares the class
        attribute ``channels_last = False`` (musicnn: its one-channel convolutions with large
        kernels ran about 1.4-2x slower in that layout, measured). Its forward accepts ordinary (contiguous) tensors and returns what the
        original's eval-mode forward returns, up to float rounding.

    Notes
    -----
    Gradients of the copy equal those of the original with respect to the input, so
    Integrated Gradients and every perturbation method give the same explanations. Grad-CAM
    *on a folded convolution* differs: that layer's output is now the batch norm's output.
    """
    folded = copy.deepcopy(model).eval()
    for conv_name, bn_name in find_conv_bn_pairs(folded):
        conv = folded.get_submodule(conv_name)
        bn = folded.get_submodule(bn_name)
        assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)  # as found
        _fold_into(conv, bn)
        _set_submodule(folded, bn_name, nn.Identity())
    counts = _module_counts(folded)
    for block in _max_pooled_blocks(folded):
        if _relu_bn_foldable(block, counts):
            _fold_relu_bn(block)
    if all(getattr(type(module), "channels_last", True) for module in folded.modules()):
        # memory_format is a keyword of Module.to that torch's stubs leave out
        folded = folded.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return folded


class ChannelClamp(nn.Module):
    """Clamp each channel (dimension 1) of ``(batch, channels, ...)`` to ``[lower, upper]``.

    Parameters
    ----------
    lower, upper : torch.Tensor, shape (channels,)
        Bounds (``-inf`` / ``inf``: none), kept as buffers.
    """

    lower: torch.Tensor
    upper: torch.Tensor

    def __init__(self, lower: torch.Tensor, upper: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("lower", lower)
        self.register_buffer("upper", upper)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` clamped channel by channel."""
        shape = (-1,) + (1,) * (x.ndim - 2)
        return torch.clamp(x, self.lower.view(shape), self.upper.view(shape))


def find_conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Names ``(conv, batch_norm)`` of the pairs :func:`inference_copy` folds.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of (str, str)
        Qualified submodule names, in call order (traced) or registration order (fallback).
    """
    counts = _module_counts(model)
    try:
        with _TRACE_LOCK:
            graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # noqa: BLE001 - any tracing failure means: use the Sequential walk
        return _pairs_in_sequentials(model, counts)
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[str(node.target)] = calls.get(str(node.target), 0) + 1
    pairs = []
    for node in graph.nodes:
        bn_name = str(node.target)
        if node.op != "call_module" or type(model.get_submodule(bn_name)) is not nn.BatchNorm2d:
            continue
        source = node.args[0] if node.args else None
        if (
            isinstance(source, torch.fx.Node)
            and source.op == "call_module"
            and type(model.get_submodule(conv_name := str(source.target))) is nn.Conv2d
            and len(source.users) == 1
            and calls[conv_name] == 1
            and calls[bn_name] == 1
            and _foldable(model, conv_name, bn_name, counts)
        ):
            pairs.append((conv_name, bn_name))
    return pairs


def _pairs_in_sequentials(model: nn.Module, counts: dict[int, int]) -> list[tuple[str, str]]:
    pairs = []
    for name, module in model.named_modules():
        if type(module) is not nn.Sequential:  # a subclass may override forward
            continue
        children = list(module.named_children())
        for (conv_key, conv), (bn_key, bn) in zip(children, children[1:]):
            if type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d:
                prefix = f"{name}." if name else ""
                conv_name, bn_name = prefix + conv_key, prefix + bn_key
                if _foldable(model, conv_name, bn_name, counts):
                    pairs.append((conv_name, bn_name))
    return pairs


def _foldable(model: nn.Module, conv_name: str, bn_name: str, counts: dict[int, int]) -> bool:
    conv = model.get_submodule(conv_name)
    bn = model.get_submodule(bn_name)
    return bool(
        counts[id(conv)] == 1
        and counts[id(bn)] == 1
        and bn.track_running_stats
        and bn.running_mean is not None
        and bn.num_features == conv.out_channels
    )


def _module_counts(model: nn.Module) -> dict[int, int]:
    """How many places in the module tree hold each module object (reuse shows as > 1)."""
    counts: dict[int, int] = {}
    for _, module in model.named_modules(remove_duplicate=False):
        counts[id(module)] = counts.get(id(module), 0) + 1
    return counts


def _max_pooled_blocks(model: nn.Module) -> list[nn.ModuleDict]:
    """The blocks that ``model`` and its submodules declare in ``max_pooled_blocks``."""
    blocks = []
    for _, module in model.named_modules():
        for name in getattr(type(module), "max_pooled_blocks", ()):
            block = module.get_submodule(name)
            if not isinstance(block, nn.ModuleDict):
                raise TypeError(f"max_pooled_blocks names a {type(block).__name__}: expected the "
                                "nn.ModuleDict of a conv -> ReLU -> batch norm -> max block.")
            blocks.append(block)
    return blocks


def _relu_bn_foldable(block: nn.ModuleDict, counts: dict[int, int]) -> bool:
    parts = {key: block[key] for key in ("conv", "relu", "bn", "post") if key in block}
    if len(parts) < 4 or any(counts[id(m)] != 1 for m in parts.values()):
        return False
    conv, bn = parts["conv"], parts["bn"]
    return bool(
        type(conv) in (nn.Conv1d, nn.Conv2d)
        and type(parts["relu"]) is nn.ReLU
        and type(bn) in (nn.BatchNorm1d, nn.BatchNorm2d)
        and type(parts["post"]) is nn.Identity
        and bn.track_running_stats
        and bn.running_mean is not None
        and bn.num_features == conv.out_channels
    )


@torch.no_grad()
def _fold_relu_bn(block: nn.ModuleDict) -> None:
    """Fold ``conv -> ReLU -> bn`` into the convolution and a clamp after the block's max."""
    conv, bn = block["conv"], block["bn"]
    assert isinstance(conv, (nn.Conv1d, nn.Conv2d))  # see _relu_bn_foldable
    assert isinstance(bn, nn.modules.batchnorm._BatchNorm)
    scale, shift = _bn_affine(bn)
    _fold_into(conv, bn)
    dtype = conv.weight.dtype
    inf = torch.full_like(shift, torch.inf)
    lower = torch.where(scale > 0, shift, -inf)
    upper = torch.where(scale < 0, shift, inf)
    block["relu"], block["bn"] = nn.Identity(), nn.Identity()
    block["post"] = ChannelClamp(lower.to(dtype), upper.to(dtype))


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluation-mode batch norm as ``scale * x + shift``, float64."""
    assert bn.running_var is not None and bn.running_mean is not None  # see _foldable
    var = bn.running_var.double()
    gamma = bn.weight.double() if bn.affine else torch.ones_like(var)
    beta = bn.bias.double() if bn.affine else torch.zeros_like(var)
    scale = gamma / torch.sqrt(var + bn.eps)
    return scale, beta - scale * bn.running_mean.double()


@torch.no_grad()
def _fold_into(conv: nn.Conv1d | nn.Conv2d, bn: nn.modules.batchnorm._BatchNorm) -> None:
    dtype = conv.weight.dtype
    scale, shift = _bn_affine(bn)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(shift)
    weight = conv.weight.double() * scale.reshape(-1, *(1,) * (conv.weight.ndim - 1))
    requires_grad = conv.weight.requires_grad
    conv.weight = nn.Parameter(weight.to(dtype), requires_grad=requires_grad)
    conv.bias = nn.Parameter((bias * scale + shift).to(dtype), requires_grad=requires_grad)


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    if isinstance(parent, (nn.Sequential, nn.ModuleList)) and attr.isdigit():
        parent[int(attr)] = module
    else:
        setattr(parent, attr, module)
