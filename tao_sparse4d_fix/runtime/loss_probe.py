"""Recognise TAO's ``FocalLoss.forward`` by what it computes, when its text is new.

Runs only when the fingerprint is unknown, once per function and process, on
CPU tensors (milliseconds; torch is imported by then, TAO imported it). The
stock method gets a small batch holding every kind of label (the classes, C,
-1 and -3), with and without ``avg_factor`` and with an element weight; its
value and gradient are compared with the plugin's loss over the rows the stock
code supervises (read from its gradient). Equal on those rows: the contract is
recognised, and the verdict names the background kinds it supervises. Anything
else (another formula, signature, constructor, or an exception) is refused,
naming what differed.
"""
import functools
import inspect
from dataclasses import dataclass
from typing import Optional

from tao_sparse4d_fix.runtime import modes

NUM_CLASSES = 4
LABELS = tuple(range(NUM_CLASSES)) + (NUM_CLASSES, -1, -3)
COPIES = 3
SIGNATURE = ("self", "pred", "target", "weight", "avg_factor")
SETTINGS = {"gamma": 1.5, "alpha": 0.3, "loss_weight": 1.7}  # not TAO's defaults: a hard-coded value shows
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


@dataclass(frozen=True)
class Verdict:
    stock_background: Optional[frozenset]  # the kinds it supervises; None: not the contract we know
    detail: str


def _refuse(detail):
    return Verdict(None, detail)


@functools.lru_cache(maxsize=None)
def probe(focal_loss_class, stock_forward):
    """What ``stock_forward`` (TAO's ``FocalLoss.forward``, unwrapped) supervises, or why it is refused."""
    try:
        return _probe(focal_loss_class, stock_forward)
    except Exception as error:  # a probe never breaks an import: it refuses
        return _refuse(f"the behaviour probe raised {error!r}")


def _signature_problem(stock_forward):
    parameters = inspect.signature(stock_forward).parameters
    names = tuple(parameters)
    defaults = [parameters[name].default for name in names[3:]]
    if names != SIGNATURE or defaults != [None, None]:
        return f"its signature changed: forward{inspect.signature(stock_forward)}, expected (self, pred, target, weight=None, avg_factor=None)"
    return None


def _probe(focal_loss_class, stock_forward):
    from tao_sparse4d_fix.runtime.losses import sigmoid_focal_loss  # imports torch (TAO imported it already)

    problem = _signature_problem(stock_forward)
    if problem:
        return _refuse(problem)
    loss, problem = _built_loss(focal_loss_class)
    if problem:
        return _refuse(problem)
    batch = _Batch.make()
    stock = {}
    for name, kwargs in batch.cases.items():
        try:
            stock[name] = batch.value_and_grad(lambda p, t, **k: stock_forward(loss, p, t, **k), **kwargs)
        except Exception as error:
            return _refuse(f"on the probe batch {name} it raised {error!r}")
    background, problem = _supervised_background(stock["with avg_factor"][1], batch.target)
    if problem:
        return _refuse(problem)

    def ours(p, t, **kwargs):
        return loss.loss_weight * sigmoid_focal_loss(p, t, background=background, alpha=loss.alpha,
                                                     gamma=loss.gamma, **kwargs)

    problem = _difference(batch, stock, ours)
    if problem:
        return _refuse(problem)
    return Verdict(background, f"drops labels {modes.dropped_labels(background)}")


def _built_loss(focal_loss_class):
    """``(a FocalLoss built with SETTINGS, None)``, or ``(None, why)``: it cannot be built or holds other settings."""
    try:
        loss = focal_loss_class(**SETTINGS)
    except Exception as error:
        return None, f"FocalLoss(gamma=, alpha=, loss_weight=) raised {error!r}"
    read = {name: getattr(loss, name, None) for name in (*SETTINGS, "reduction")}
    if read != dict(SETTINGS, reduction="mean"):
        return None, f"a FocalLoss built with {SETTINGS} holds {read}"
    return loss, None


@dataclass(frozen=True)
class _Batch:
    """The probe batch: every kind of label, fixed logits and an element weight, and the calls made on it."""

    target: object  # torch tensors
    pred: object
    cases: dict

    @classmethod
    def make(cls):
        import torch

        generator = torch.Generator().manual_seed(0)
        target = torch.tensor(LABELS * COPIES)
        pred = torch.randn(len(target), NUM_CLASSES, generator=generator) * 2
        weight = torch.rand(len(target), NUM_CLASSES, generator=generator) + 0.5
        cases = {"without avg_factor": {}, "with avg_factor": {"avg_factor": 5.0},
                 "with a weight": {"weight": weight, "avg_factor": 5.0}}
        return cls(target, pred, cases)

    def value_and_grad(self, function, **kwargs):
        """``function``'s value on the batch and its gradient with respect to the logits (zeros where it has none)."""
        import torch

        leaf = self.pred.clone().requires_grad_()
        value = function(leaf, self.target, **kwargs)
        if not (isinstance(value, torch.Tensor) and value.dim() == 0):
            raise TypeError(f"returned {type(value).__name__} {getattr(value, 'shape', '')}, not a scalar tensor")
        grad = torch.autograd.grad(value, leaf, allow_unused=True)[0] if value.requires_grad else None
        return value.detach(), torch.zeros_like(self.pred) if grad is None else grad


def _supervised_background(grad, target):
    """``(the background kinds the stock loss supervises, None)`` read from its gradient, or ``(None, why)``."""
    row_supervised = grad.ne(0).any(dim=1)
    kinds = {"classes": target.ge(0) & target.lt(NUM_CLASSES), "C": target.eq(NUM_CLASSES),
             "-1": target.eq(-1), "-3": target.eq(-3)}
    supervised = {}
    for label, rows in kinds.items():
        count = int(row_supervised[rows].sum())
        if count not in (0, int(rows.sum())):
            return None, f"it supervises some rows labelled {label} and not others"
        supervised[label] = count > 0
    if not supervised["classes"]:
        return None, "it drops rows labelled with a class"
    if supervised["-1"] != supervised["-3"]:
        return None, "it treats labels -1 and -3 differently"
    background = frozenset(kind for kind, label in ((modes.UNMATCHED, "C"), (modes.NEGATIVE, "-1"))
                           if supervised[label])
    return background, None


def _difference(batch, stock, ours):
    """Where the stock loss's value or gradient differs from ours on the rows it supervises, or None."""
    import torch

    for name, kwargs in batch.cases.items():
        value, grad = batch.value_and_grad(ours, **kwargs)
        stock_value, stock_grad = stock[name]
        if not torch.allclose(stock_value.double(), value.double(), **TOLERANCE):
            return (f"another loss on the rows it supervises ({name}: {stock_value.item():.6g}, "
                    f"expected {value.item():.6g})")
        if not torch.allclose(stock_grad.double(), grad.double(), **TOLERANCE):
            return f"another gradient on the rows it supervises ({name})"
    return None
