"""What every assignment's hidden tests share: the check that an answer is the student's own.

An answer "uses mlcore's implementation" when its code (or a helper function of the notebook
that it calls) reaches an object defined in one of the forbidden modules, e.g.
`ml.methods.ProtoNet`, `from mlcore.methods.protonet import prototypes`, or
`import mlcore.functional` inside the function. Helpers from other modules (samplers, plots,
networks) stay allowed. Shipped in every autograder; the tests of the repository import it.
"""
import inspect
import types


def own_work(answer, forbidden):
    """Fail with one clear message when `answer` uses an object of a `forbidden` module."""
    used = sorted(_forbidden_uses(answer, tuple(forbidden), set()))
    assert not used, (f"{answer.__name__} uses mlcore's own implementation ({', '.join(used)}): "
                      "write it yourself; this part scores 0 otherwise")


def _forbidden_uses(function, forbidden, seen):
    if id(function) in seen or not inspect.isfunction(function):
        return set()
    seen.add(id(function))
    found, code = set(), function.__code__
    names = _names(code)
    found |= {n for n in names if n.startswith(forbidden)}  # `import mlcore.methods` inside
    for name in names:
        value = function.__globals__.get(name)
        for reached in _reachable(value, names):
            module = _module_of(reached)
            if module.startswith(forbidden):
                found.add(f"{name} -> {module}")
            elif inspect.isfunction(reached) and module == function.__module__:
                found |= _forbidden_uses(reached, forbidden, seen)  # the notebook's helpers
    return found


def _names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _reachable(value, names, depth=3):
    """`value`, and what the attribute names used in the code reach from it."""
    reached, frontier = [value], [value]
    for _ in range(depth):
        frontier = [getattr(v, n) for v in frontier if isinstance(v, types.ModuleType)
                    for n in names if hasattr(v, n)]
        reached += frontier
    return [v for v in reached if v is not None]


def _module_of(value):
    if isinstance(value, types.ModuleType):
        return value.__name__
    return getattr(value, "__module__", None) or ""
