"""The attribution-method registry and :func:`attribute`, the one entry point every study calls.

A method is a function ``fn(model, inputs, target, **params) -> Tensor[N, C, H, W]`` whose
parameters are keyword-only with defaults and type hints; ``@register_method`` records it with
metadata (zennit/Quantus style). :func:`attribute` gives every method the same contract:

- the method name and parameter names are checked (``ConfigError`` naming the valid ones);
- the model is put in eval mode, its parameters' ``requires_grad`` is switched off while the
  method runs (no weight gradients are computed, which also makes it faster) and restored after;
- the inputs are never modified: a method registered outside interpbench gets a copy, the project's
  own methods (which never write into their inputs: tests check every one) the caller's tensor,
  detached; the maps come back float32, detached, on the CPU, never sharing the inputs' memory;
- the targets are checked against the model's logits ``[N, classes]`` on its first forward pass
  (then remembered per model and parameter set, so later calls check them before any pass);
- every method runs under a torch RNG seeded from ``seed`` (the generators of the model's device:
  the CPU's, and that CUDA device's; except the project's methods registered ``rng_free``, which
  draw no random numbers and run without the fork), stochastic methods and methods registered outside interpbench
  also under seeded NumPy and Python ``random`` RNGs, and the caller's RNG states are restored
  afterwards, so stochastic methods repeat exactly for the same seed (saving and restoring NumPy's
  state takes about 0.15 ms, more than a small model's pass: the project's deterministic methods,
  which draw no random numbers, skip it);
- inside a :func:`shared_work` block, calls on the same model, inputs, target and seed share the
  intermediate results their methods mark with :func:`shared` (SmoothGrad, SmoothGrad-squared and
  VarGrad with the same settings use the same noisy gradients; Saliency and Input x Gradient the
  same gradient; Guided GradCAM the Guided Backprop and GradCAM maps), as if each were computed
  again;
- ``NotApplicableError("<method> is not applicable to <model>: ...")`` only for the known
  incompatibilities of :data:`NOT_APPLICABLE_CAUSES` (an allow-list, each cause a named entry with a
  matcher and a message): the method's own check refused the model (LRP on residual additions or
  unsupported layers, functional ReLUs for the guided methods and DeepLift, no GradCAM layer), or
  Captum failed on a module the forward pass uses more than once, a layer without an LRP rule, or a
  GradCAM layer with several outputs. Any other exception raised while the method runs propagates as
  ``AttributionError("<method> on <model> failed: <original>")`` chained to the original
  (ConfigError and out-of-memory errors as they are).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import inspect
import logging
import os
import random
import traceback
import typing
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.fx
from torch import Tensor, nn

from ..config import parse
from ..errors import AttributionError, ConfigError, InterpbenchError, NotApplicableError, unknown_name

log = logging.getLogger(__name__)

_RESERVED = {"method", "model", "inputs", "target", "seed"}
KINDS = ("gradient", "propagation", "cam", "perturbation", "baseline")

MethodFn = Callable[..., Tensor]


@dataclass(frozen=True)
class MethodSpec:
    """Metadata of a registered method.

    kind: ``gradient`` (plain input gradients), ``propagation`` (modified backward rules),
    ``cam`` (class activation maps), ``perturbation`` (forward passes only) or ``baseline``
    (model-free reference maps). ``params`` maps each parameter to its default.
    """

    name: str
    fn: MethodFn
    kind: str
    stochastic: bool
    needs_gradcam_layer: bool
    description: str
    params: dict[str, Any]
    params_type: type
    seeds_all_rngs: bool = True  #: seed NumPy and ``random`` too (stochastic or a user's method)
    #: runs Captum, whose notices :func:`attribute` silences (a user's method: assumed so)
    uses_captum: bool = True
    #: draws no random numbers at all, so :func:`attribute` calls it without forking and restoring
    #: the four random generators (a noticeable share of a 1 ms pass); only interpbench's own methods
    rng_free: bool = False
    #: called on a copy of the inputs (a user's method: it may write into them); interpbench's own
    #: methods never do and get the caller's tensor, detached
    copies_inputs: bool = True


_METHODS: dict[str, MethodSpec] = {}

# Captum's notices about what it does on purpose (hooks it sets and removes, requires_grad it sets
# on its own copy of the inputs); nothing the caller can act on.
_CAPTUM_NOTICES = (
    r"Input Tensor \d+ did not already require gradients",
    r"Setting backward hooks on ReLU activations",
    r"Setting forward, backward hooks and attributes on non-linear",
)


def register_method(
    name: str,
    *,
    kind: str = "gradient",
    stochastic: bool = False,
    needs_gradcam_layer: bool = False,
    uses_captum: bool = True,
    rng_free: bool = False,
) -> Callable[[MethodFn], MethodFn]:
    """Decorator: ``@register_method("my_method", kind="gradient")`` on ``fn(model, x, target, *, ...)``.

    ``stochastic``: the method draws random numbers (from torch, NumPy or ``random``, all seeded by
    :func:`attribute`). ``rng_free=True`` (interpbench's own methods only): the method draws no random
    numbers at all, so it is called without forking the RNGs. ``uses_captum=False``: the method never
    runs Captum, so :func:`attribute` does not install the filters for Captum's notices around it.
    """
    if kind not in KINDS:
        raise ConfigError(f"register_method({name!r}): kind must be one of {list(KINDS)}, got {kind!r}.")

    def wrap(fn: MethodFn) -> MethodFn:
        own = fn.__module__.startswith(f"{__package__}.")  # interpbench's own method, not a user's
        if name in _METHODS:
            raise ConfigError(f"An attribution method named {name!r} is already registered.")
        clash = sorted(set(_defaults(fn)) & _RESERVED)
        if clash:
            raise ConfigError(f"Method {name!r}: parameter names {clash} are reserved by attribute().")
        _METHODS[name] = MethodSpec(
            name=name,
            fn=fn,
            kind=kind,
            stochastic=stochastic,
            needs_gradcam_layer=needs_gradcam_layer,
            description=(fn.__doc__ or "").strip().split("\n")[0],
            params=_defaults(fn),
            params_type=_params_dataclass(name, fn),
            seeds_all_rngs=stochastic or not own,
            uses_captum=uses_captum or not own,
            rng_free=rng_free and not stochastic and own,
            copies_inputs=not own,
        )
        return fn

    return wrap


def available_methods(kind: str | None = None) -> list[str]:
    """Names of the registered methods (of one ``kind`` when given), sorted."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"Unknown method kind {kind!r}; kinds: {', '.join(KINDS)}.")
    return sorted(n for n, s in _METHODS.items() if kind is None or s.kind == kind)


def method_info(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of ``name``; an unknown name raises ConfigError listing the known ones."""
    if name not in _METHODS:
        raise unknown_name("attribution method", name, _METHODS)
    return _METHODS[name]


def attribute(
    method: str,
    model: nn.Module,
    inputs: Tensor,
    target: Tensor | int,
    *,
    seed: int = 0,
    **params: Any,
) -> Tensor:
    """Attribution maps of ``model`` for ``target`` classes: float32 ``[N, C, H, W]`` on the CPU.

    ``inputs`` are images ``[N, C, H, W]`` in [0, 1]; ``target`` is one class index for all
    images or an int64 tensor ``[N]``. ``params`` are the method's own (see ``method_info``).
    """
    spec = method_info(method)
    if params and not spec.params:
        raise ConfigError(f"attribution method {method!r} takes no parameters, got {', '.join(map(repr, params))}.")
    options = _options(spec, params)
    x = _check_inputs(inputs)
    weights, training = _weights_and_mode(model)
    device = weights[0].device if weights else _model_device(model)
    # interpbench's own methods never write into their inputs (tests/explain check every one), so
    # they get the caller's tensor (detached, on the model's device); a user's method gets a copy.
    x = x.detach().to(device=device, dtype=torch.float32)
    if spec.copies_inputs and x.data_ptr() == inputs.data_ptr():
        x = x.clone()
    y = _check_target(target, x.shape[0])
    # Validate the targets against the model's output on its first forward pass (no extra pass),
    # or at once against the width that pass found for this model before (a forward hook slows
    # every pass of a small model: about 2% of a 1 ms pass).
    handle = _check_width(model, weights, x, y)
    # The shared-work key from the targets as given (on a GPU, reading them back would wait for it).
    key = _call_key(model, inputs, y, seed, weights) if sharing() else None
    y = y.to(device)
    if training:
        model.eval()
    flags = [(p, p.requires_grad) for p in weights]
    call = _CALL.set(key)
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        with contextlib.nullcontext() if spec.rng_free else _seeded(seed, device, spec.seeds_all_rngs), \
                _quiet_captum() if spec.uses_captum else contextlib.nullcontext():
            maps = spec.fn(model, x, y, **options)
    except (MemoryError, torch.OutOfMemoryError):
        raise
    except InterpbenchError as exc:
        if not isinstance(exc, NotApplicableError):
            raise
        cause = not_applicable_cause(exc, model)
        raise NotApplicableError(f"{method} is not applicable to {model_name(model)}: {cause.describe(exc)}") from None
    except Exception as exc:
        cause = not_applicable_cause(exc, model)
        if cause is None:
            raise AttributionError(f"{method} on {model_name(model)} failed: {type(exc).__name__}: {exc}") from exc
        log.debug("%s not applicable (%s):\n%s", method, cause.name, "".join(traceback.format_exception(exc)))
        raise NotApplicableError(f"{method} is not applicable to {model_name(model)}: {cause.describe(exc)}") from None
    finally:
        _CALL.reset(call)
        if handle is not None:
            handle.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
    if tuple(maps.shape) != tuple(x.shape):
        raise RuntimeError(f"{method} returned shape {tuple(maps.shape)} for inputs {tuple(x.shape)}.")
    maps = maps.detach().to(device="cpu", dtype=torch.float32)
    if _borrowed(maps, inputs):  # never hand out the caller's tensor, nor a result shared() keeps
        maps = maps.clone()
    return maps


def _borrowed(maps: Tensor, inputs: Tensor) -> bool:
    """True when ``maps`` is (a view of) memory :func:`attribute` does not own: the caller's
    ``inputs`` or a result of :func:`shared` that later calls in the block may be handed too."""
    ptr = maps.untyped_storage().data_ptr()
    if ptr == inputs.untyped_storage().data_ptr():
        return True
    cache = _SHARED.get()
    return bool(cache) and any(isinstance(t, Tensor) and t.untyped_storage().data_ptr() == ptr
                               for *_, value in cache.values()
                               for t in (value if isinstance(value, tuple) else (value,)))


#: The shared_work() block's results: key -> (model, inputs, value); the model and inputs are kept
#: so that their ids, part of the key, cannot be reused by other objects while the block lasts.
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("interpbench_shared_work", default=None)
#: The running attribute() call's identity (model, inputs, target, seed), for shared().
_CALL: contextvars.ContextVar[tuple | None] = contextvars.ContextVar("interpbench_attribute_call", default=None)


@contextlib.contextmanager
def shared_work() -> Iterator[None]:
    """Let the :func:`attribute` calls inside share intermediate results (see :func:`shared`).

    Two calls share a result only when they explain the same model object (its weights unchanged:
    in-place changes bump the parameters' versions), the same ``inputs`` tensor object (unchanged),
    the same targets and the same seed, so every method returns what it would return alone.
    The results are freed when the block ends.
    """
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared(key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, or its result from an earlier :func:`attribute` call on the same model,
    inputs, target and seed inside the same :func:`shared_work` block (outside one: ``compute()``).

    ``key`` names the result and every setting it depends on besides the call's model, inputs,
    target and seed (e.g. ``("noisy_gradients", n_samples, noise_level)``); ``compute`` must
    depend on nothing else, and it must be the method's first use of the seeded RNG (a method that
    reuses the result does not draw the numbers that computing it would have drawn).
    """
    cache, call = _SHARED.get(), _CALL.get()
    if cache is None or call is None:
        return compute()
    full = (call[0], key)
    hit = cache.get(full)
    if hit is None:
        hit = cache[full] = (*call[1], compute())
    return hit[2]


def sharing() -> bool:
    """True inside a :func:`shared_work` block (a method may then compute a shared result fully, for
    the methods that reuse it; :func:`attribute` copies a map that is a shared result)."""
    return _SHARED.get() is not None


def _call_key(model: nn.Module, inputs: Tensor, target: Tensor, seed: int, weights: list[Tensor]) -> tuple:
    """(hashable identity of an attribute() call, (model, inputs) to keep alive with its results)."""
    identity = (id(model), tuple(p._version for p in weights), id(inputs), inputs._version,
                tuple(target.tolist()), int(seed))
    return identity, (model, inputs)


#: Parsed method parameters by (method, frozen parameters): parsing (type hints, coercion) costs
#: more than a small model's forward pass; only successful parses are kept.
_PARSED: dict[tuple, dict[str, Any]] = {}
_PARSED_MAX = 1024


def _options(spec: MethodSpec, params: dict[str, Any]) -> dict[str, Any]:
    try:
        key = (spec.name, _frozen(params))
        hit = _PARSED.get(key)
    except TypeError:  # an unhashable value
        key, hit = None, None
    if hit is None:
        hit = dataclasses.asdict(parse(spec.params_type, params, where=f"attribution method {spec.name!r}"))
        if key is not None:
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = hit
    return dict(hit)


def _frozen(value: Any) -> Any:
    """A hashable form of a parameter value that tells types apart (``True`` from ``1``, a list
    from a tuple)."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    hash(value)
    return (type(value).__name__, value)


@dataclass(frozen=True)
class NotApplicableCause:
    """A known incompatibility of a method with a model: ``matches(exc, model)`` recognises the
    exception it causes; ``message`` says what it is (the original error is appended for Captum's)."""

    name: str
    matches: Callable[[BaseException, nn.Module], bool]
    message: str

    def describe(self, exc: BaseException) -> str:
        if isinstance(exc, NotApplicableError):
            return str(exc)
        return f"{self.message} (Captum failed with {type(exc).__name__}: {exc})"


def _captum_says(*phrases: str, types: tuple[type[BaseException], ...] = (Exception,)) -> Callable:
    def matches(exc: BaseException, model: nn.Module) -> bool:
        text = str(exc)
        return isinstance(exc, types) and _raised_in_captum(exc) and any(p in text for p in phrases)

    return matches


def _captum_on_reused_module(exc: BaseException, model: nn.Module) -> bool:
    return _raised_in_captum(exc) and ("more than once" in str(exc) or bool(reused_modules(model)))


#: The allow-list: an exception raised while a method runs becomes NotApplicableError only when
#: one of these matches it (first match wins); anything else propagates as AttributionError.
NOT_APPLICABLE_CAUSES: tuple[NotApplicableCause, ...] = (
    NotApplicableCause(
        "refused_by_method",
        lambda exc, model: isinstance(exc, NotApplicableError),
        "the method's own applicability check refused the model (LRP on residual additions, concatenations, "
        "reused or unsupported layers; functional ReLUs for the guided methods, DeepLift and GradCAM; no "
        "GradCAM layer; a user method's NotApplicableError)",
    ),
    NotApplicableCause(
        "reused_module",
        _captum_on_reused_module,
        "a module is used more than once in the forward pass, and Captum's hooks need one module per call",
    ),
    NotApplicableCause(
        "lrp_no_rule",
        _captum_says("has no rule defined", types=(TypeError,)),
        "LRP has no propagation rule for one of the model's layers",
    ),
    NotApplicableCause(
        "gradcam_multi_output_layer",
        _captum_says("multiple inputs / outputs is not supported"),
        "the GradCAM layer has several inputs or outputs",
    ),
)


def not_applicable_cause(exc: BaseException, model: nn.Module) -> NotApplicableCause | None:
    """The allow-listed cause that explains ``exc``, or None (then it is a real failure)."""
    for cause in NOT_APPLICABLE_CAUSES:
        try:
            if cause.matches(exc, model):
                return cause
        except Exception:  # a matcher must never hide the original error
            log.debug("matcher %s failed", cause.name, exc_info=True)
    return None


def reused_modules(model: nn.Module) -> list[str]:
    """Names of the modules the traced forward calls more than once ([] when it cannot be traced)."""
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:
        return []
    seen: set[str] = set()
    again: set[str] = set()
    for node in graph.nodes:
        if node.op == "call_module":
            (again if node.target in seen else seen).add(node.target)
    return sorted(again)


def model_name(model: nn.Module) -> str:
    """The model's zoo name when it carries one (``model.name``), else its class name."""
    name = getattr(model, "name", None)
    return name if isinstance(name, str) else type(model).__name__


def require(condition: bool, method: str, message: str) -> None:
    """Raise ConfigError ``"<method>: <message>"`` unless ``condition`` (parameter range checks)."""
    if not condition:
        raise ConfigError(f"attribution method {method!r}: {message}")


def _defaults(fn: MethodFn) -> dict[str, Any]:
    sig = inspect.signature(fn)
    return {
        n: p.default
        for n, p in sig.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _params_dataclass(name: str, fn: MethodFn) -> type:
    """A dataclass of ``fn``'s keyword-only parameters, so :func:`config.parse` checks names and types."""
    hints = typing.get_type_hints(fn)
    fields = []
    for pname, default in _defaults(fn).items():
        if default is inspect.Parameter.empty:
            raise TypeError(f"Method {name!r}: parameter {pname!r} needs a default.")
        fields.append((pname, hints.get(pname, Any), dataclasses.field(default=default)))
    return dataclasses.make_dataclass(f"{name}_params", fields, frozen=True)


def _check_inputs(inputs: Tensor) -> Tensor:
    if not isinstance(inputs, Tensor) or inputs.dim() != 4:
        shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        raise ConfigError(f"attribute(): inputs must be a tensor [N, C, H, W], got {shape}.")
    if inputs.shape[0] == 0:
        raise ConfigError("attribute(): inputs is an empty batch.")
    if not inputs.is_floating_point():
        raise ConfigError(f"attribute(): inputs must be floating point images in [0, 1], got {inputs.dtype}.")
    return inputs


def _check_target(target: Tensor | int, n: int) -> Tensor:
    if isinstance(target, bool) or not isinstance(target, (int, Tensor)):
        raise ConfigError(f"attribute(): target must be an int or an int64 tensor [N], got {target!r}.")
    if isinstance(target, int):
        target = torch.full((n,), target, dtype=torch.int64)
    if target.dim() == 0:
        target = target.expand(n)
    if target.shape != (n,) or target.is_floating_point():
        raise ConfigError(
            f"attribute(): target must be integer class indices of shape [{n}], "
            f"got {target.dtype} {tuple(target.shape)}."
        )
    return target.detach().to(torch.int64)


def _weights_and_mode(model: nn.Module) -> tuple[list[Tensor], bool]:
    """The model's parameters and whether any module is in training mode, in one breadth-first walk
    over the modules' own dicts (``parameters()`` and ``modules()`` walk twice, building names: on a
    1 ms pass that was 2% of the time). A module used in several places is visited, and its
    parameters listed, once per place: harmless for switching ``requires_grad`` off and back."""
    weights: list[Tensor] = []
    training = False
    modules = [model]
    for module in modules:  # appending while iterating visits the children too
        if module is None:
            continue
        if module.training:
            training = True
        weights.extend(p for p in module._parameters.values() if p is not None)
        modules.extend(module._modules.values())
    return weights, training


#: The logit width each model returned for inputs of a given shape, found by the first call's
#: forward hook: model (weakly held) -> ((its parameters' identities, input shape), width). Replacing
#: a parameter or another input shape checks the width again (resizing one through ``.data`` would
#: not, nor a forward whose width depends on something else than its parameters).
_WIDTHS: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, int]] = weakref.WeakKeyDictionary()


def _check_width(model: nn.Module, weights: list[Tensor], x: Tensor, y: Tensor) -> Any:
    """Check that ``y`` (int64 ``[N]``) holds class indices the model's logits ``[N, classes]``
    have: a negative index at once; the upper bound at once when this model's width is known, else
    by a forward hook on its first pass (returned, for the caller to remove; None otherwise)."""
    low, high = (int(v) for v in torch.aminmax(y))
    if low < 0:
        raise ConfigError(f"attribute(): target has a negative class index {low}.")
    key = (tuple(map(id, weights)), tuple(x.shape[1:]))
    try:
        known = _WIDTHS.get(model)
    except TypeError:  # a model class that is not hashable (or not weakly referable): checked every call
        known = None
    if known is not None and known[0] == key:
        _check_high(high, known[1])
        return None
    checked = False

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        nonlocal checked
        if checked:
            return
        checked = True
        if not isinstance(output, Tensor) or output.dim() != 2:
            shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise ConfigError(f"attribute(): the model must return logits [N, classes], got {shape}.")
        _check_high(high, output.shape[1])
        with contextlib.suppress(TypeError):
            _WIDTHS[module] = (key, output.shape[1])

    return model.register_forward_hook(hook)


def _check_high(high: int, width: int) -> None:
    if high >= width:
        raise ConfigError(f"attribute(): target class {high} is out of range for a model with {width} outputs.")


@contextlib.contextmanager
def _quiet_captum() -> Iterator[None]:
    """Captum's notices about what it does on purpose silenced (the caller's filters restored)."""
    with warnings.catch_warnings():
        for message in _CAPTUM_NOTICES:
            warnings.filterwarnings("ignore", message=message)
        yield


def _model_device(model: nn.Module) -> torch.device:
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device, all_rngs: bool = True) -> Iterator[None]:
    """Seed torch (the CPU generator, and the model's CUDA device's) and, with ``all_rngs``, NumPy
    and ``random`` from ``seed``; restore the caller's RNG states on exit.

    Not :func:`runtime.seed_everything`: that also switches on deterministic algorithms globally,
    a side effect an attribution call should not have. Not ``torch.manual_seed`` either: it also
    (lazily) reseeds every CUDA device, a change ``fork_rng`` does not undo, and records a stack
    trace for that on every call (about 1 ms, the cost of a small model's pass).
    """
    py_state, np_state = (random.getstate(), np.random.get_state()) if all_rngs else (None, None)
    cpu_state = torch.default_generator.get_state()
    cuda = None
    if device.type == "cuda":
        cuda = device.index if device.index is not None else torch.cuda.current_device()
    cuda_state = torch.cuda.get_rng_state(cuda) if cuda is not None else None
    if device.type not in ("cpu", "cuda"):  # e.g. MPS, which torch.manual_seed seeds
        torch.manual_seed(seed)
    torch.default_generator.manual_seed(seed)
    if cuda is not None:
        torch.cuda.default_generators[cuda].manual_seed(seed)
    if all_rngs:
        random.seed(seed)
        np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        torch.default_generator.set_state(cpu_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state(cuda_state, cuda)
        if all_rngs:
            random.setstate(py_state)
            np.random.set_state(np_state)


_CAPTUM_DIR = f"{os.sep}captum{os.sep}"
_TORCH_DIR = f"{os.sep}torch{os.sep}"


def _raised_in_captum(exc: BaseException) -> bool:
    """True when the innermost frame outside torch itself is Captum's.

    A model that fails in its own ``forward`` (wrong input size, say) fails for every method, never
    a known incompatibility; the allow-listed causes are Captum's failures.
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _TORCH_DIR not in f.filename]
    return bool(frames) and _CAPTUM_DIR in frames[-1].filename
