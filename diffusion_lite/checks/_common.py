"""What every checker shares: the error it raises, calling the student's function on
copies of its inputs, comparing an answer with the reference and the usual mistakes, and the
record of each exercise (its kind and the typical wrong answers its checker must name)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import torch


class ExerciseError(AssertionError):
    """The student's answer is wrong; the message says how."""


NOT_IMPLEMENTED = ("not answered yet: replace the line `raise NotImplementedError(...)` with your "
                   "code, run that cell, then run this one again.")

KINDS = ("transcription", "loop", "bug hunt", "prediction", "experiment", "written-checkable",
         "written")


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: ``code`` is the student's cell written with the mistake (it
    defines the function the checker cell passes), and ``names`` a regular expression the
    checker's message must match, the words that name this mistake."""
    names: str
    code: str


@dataclass(frozen=True)
class Exercise:
    """What the exercise with this label is (one of ``KINDS``), the typical wrong answers its
    checker must recognise, ``setup``: code that defines what the checker cell uses from the
    chapter besides the student's function (run before the student's cell by
    ``tools/exercise_audit.py``), and ``reference``: the package's function that answers it
    (``"diffusion_lite.schedules.add_noise"``), which the chapter must not show before the
    checker has run."""
    kind: str
    mistakes: tuple[Mistake, ...] = ()
    setup: str = ""
    reference: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {self.kind!r}")


def _names_used(code) -> set[str]:
    """The global and attribute names a function's code (and the functions inside it) uses."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _names_used(const)
    return names


def _forbidden_call(fn, forbid: tuple[str, ...], seen: set | None = None) -> str | None:
    """The first function of ``forbid`` that ``fn`` calls: by name in its code, through a
    global or closure variable bound to the package's function (``sample = dl.ddim_sample``),
    or inside a function of the student's own that it calls. None if it calls none."""
    seen = set() if seen is None else seen
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return None
    seen.add(code)
    names, globals_ = _names_used(code), getattr(fn, "__globals__", {})

    def own(name: str) -> bool:         # a global of the student's own that happens to share the name
        value = globals_.get(name)
        return inspect.isfunction(value) and not (value.__module__ or "").startswith("diffusion_lite")
    named = sorted(name for name in set(forbid) & names if not own(name))
    if named:
        return named[0]
    bound = [globals_[n] for n in sorted(names) if n in globals_]
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            bound.append(cell.cell_contents)
        except ValueError:              # a cell not yet filled
            pass
    for value in bound:
        module = getattr(value, "__module__", None) or ""
        if callable(value) and getattr(value, "__name__", None) in forbid \
                and module.startswith("diffusion_lite"):
            return value.__name__
        if inspect.isfunction(value) and not module.startswith("diffusion_lite"):
            found = _forbidden_call(value, forbid, seen)
            if found:
                return found
    return None


def checker(check=None, *, forbid: tuple[str, ...] = ()):
    """Decorate a checker (``@checker``, or ``@checker(forbid=("ddpm_sample",))``): the
    student's function must be callable and must not call the package functions named in
    ``forbid`` (the answer itself); an exception from it, or ``NotImplementedError`` from an
    unanswered stub, becomes an ``ExerciseError`` with a hint; and the error is raised afresh
    here, so that its traceback stops at this line and does not show the checker's own lines
    (which spell out the reference answer)."""
    if check is None:
        return functools.partial(checker, forbid=forbid)
    name, signature = check.__name__, inspect.signature(check)

    @functools.wraps(check)
    def wrapped(fn, *args, **kwargs):
        __tracebackhide__ = True        # noqa: F841 (read by IPython and pytest)
        cases = signature.bind(fn, *args, **kwargs).arguments.get("cases", 1)
        if not isinstance(cases, int) or cases < 1:
            raise ValueError(f"cases: expected at least 1 test case, got {cases!r}; nothing "
                             "would be checked")
        if not callable(fn):
            raise ExerciseError(f"{name}: expected your function (the name defined in the cell "
                                f"above), got {type(fn).__name__} {fn!r:.60}")
        called = _forbidden_call(fn, forbid) if forbid else None
        if called:
            raise ExerciseError(f"{name}: your function calls the package's {called}, which "
                                "is the answer; the exercise is to write it yourself.")
        message = None
        try:
            return check(fn, *args, **kwargs)
        except ExerciseError as error:
            cause = error.__cause__
            message = (f"{name}: {NOT_IMPLEMENTED}" if isinstance(cause, NotImplementedError)
                       else str(error))
        except NotImplementedError:
            message = f"{name}: {NOT_IMPLEMENTED}"
        except Exception as error:      # the student's function failed where the checker used it
            message = (f"{name}: your function raised {type(error).__name__}: {error}. Check the "
                       "shapes and types of what you return against the exercise's text.")
        raise ExerciseError(message) from None
    wrapped.forbid = tuple(forbid)
    return wrapped


def _close(a, b, atol: float = 1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, atol=atol)


def _diagnose(name: str, answer, reference: torch.Tensor, mistakes: dict[str, torch.Tensor],
              atol: float = 1e-5) -> None:
    """Raise ExerciseError naming the mistake ``answer`` matches, if it is wrong (beyond ``atol``)."""
    if not isinstance(answer, torch.Tensor):
        raise ExerciseError(f"{name}: expected a torch.Tensor, got {type(answer).__name__}")
    if answer.shape != reference.shape:
        raise ExerciseError(f"{name}: expected shape {tuple(reference.shape)}, got "
                            f"{tuple(answer.shape)}. Check how per-sample values broadcast.")
    if answer.dtype != reference.dtype:
        raise ExerciseError(f"{name}: expected dtype {reference.dtype}, got {answer.dtype}. A "
                            "numpy array, a Python float list or torch.tensor(...) without a "
                            "dtype can make float64, integer steps make int64: build new "
                            f"tensors with dtype={reference.dtype}, or return .to({reference.dtype}).")
    if not torch.isfinite(answer).all():
        raise ExerciseError(f"{name}: your answer contains NaN or infinity where the reference "
                            "is finite: look for a division by zero, the square root or log of a "
                            "negative number, or inputs you assumed to be normalised.")
    if _close(answer, reference, atol):
        return
    for hint, wrong in mistakes.items():
        if _close(answer, wrong, atol):
            raise ExerciseError(f"{name}: not yet. {hint}")
    error = (answer - reference).abs().max().item()
    raise ExerciseError(f"{name}: not yet; the largest difference from the reference is "
                        f"{error:.3g}. Compare your formula with the equation term by term.")


def _passed(name: str, cases: int) -> None:
    if cases < 1:
        raise ValueError(f"cases: expected at least 1 test case, got {cases}; nothing was checked")
    print(f"✅ {name}: correct on all {cases} test cases.")


def _answer_of(name: str, fn, args: tuple, hint: str):
    """The student's ``fn(*args)``, run on copies of the tensor arguments: an exception becomes
    a hint that ends with ``hint``, and an argument changed in place is refused (chapters 3, 4)."""
    copies = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    try:
        answer = fn(*copies)
    except Exception as error:   # the student's error, turned into a hint
        raise ExerciseError(f"{name}: your function raised {type(error).__name__}: {error}. "
                            f"{hint}") from error
    for original, copy in zip(args, copies):
        if isinstance(original, torch.Tensor) and not torch.equal(original, copy):
            raise ExerciseError(f"{name}: your function changed its input in place; compute a "
                                "new tensor instead (no +=, no assignment into an argument).")
    return answer


def _name_the_mistake(name: str, labels: list, answers: list, references: list,
                      mistakes: dict[str, list], atol: float) -> None:
    """Pass if every answer equals its case's reference (within ``atol``). Otherwise name the
    mistake whose wrong answers match the student's in *every* case: one case alone can be
    ambiguous (beta_t and beta_tilde_t, say, agree closely at large t). Chapters 3 and 4."""
    for label, answer, reference in zip(labels, answers, references):
        if not isinstance(answer, torch.Tensor):
            raise ExerciseError(f"{name} ({label}): expected a torch.Tensor, got "
                                f"{type(answer).__name__}")
        if answer.shape != reference.shape:
            raise ExerciseError(f"{name} ({label}): expected shape {tuple(reference.shape)}, got "
                                f"{tuple(answer.shape)}. Check how per-sample values broadcast.")
        if answer.dtype != reference.dtype:
            raise ExerciseError(f"{name} ({label}): expected dtype {reference.dtype}, got "
                                f"{answer.dtype}: build new tensors with dtype={reference.dtype}, "
                                f"or return .to({reference.dtype}).")

    def same(a: torch.Tensor, b: torch.Tensor) -> bool:
        return torch.allclose(a.double(), b.double(), atol=atol, equal_nan=True)

    wrong = [i for i, (a, r) in enumerate(zip(answers, references)) if not same(a, r)]
    if not wrong:
        return
    for hint, candidates in mistakes.items():
        if all(same(a, c) for a, c in zip(answers, candidates)):
            raise ExerciseError(f"{name}: not yet. {hint}")
    first = wrong[0]
    if not torch.isfinite(answers[first]).all():
        raise ExerciseError(f"{name} ({labels[first]}): your answer contains NaN or infinity: "
                            "look for a division by zero, such as 1 - alpha_bar at the clean end "
                            "(schedule.alpha_bars[0] = 1).")
    error = (answers[first].double() - references[first].double()).abs().max().item()
    raise ExerciseError(f"{name} ({labels[first]}): not yet; the largest difference from the "
                        f"reference is {error:.3g}. Compare your formula with the equation term "
                        "by term.")


def _call_student(name: str, fn, *args):
    """Call the student's ``fn`` on copies of ``args``: an exception becomes a hint, and an
    argument changed in place is refused (chapters 7 and 8)."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    try:
        answer = fn(*copies)
    except Exception as error:   # the student's error, turned into a hint
        raise ExerciseError(f"{name}: your function raised {type(error).__name__}: {error}. "
                            "Check the shapes of the arguments, as the exercise gives them.") from error
    for original, copy in zip(args, copies):
        if isinstance(original, torch.Tensor) and not torch.equal(original, copy):
            raise ExerciseError(f"{name}: your function changed its input in place; compute a "
                                "new tensor instead (no +=, no assignment into an argument).")
    return answer
