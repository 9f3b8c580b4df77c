"""Safe arithmetic expressions for model files (covariate equations, derived parameters).

An expression such as ``"CL_70 * (WT / 70) ** 0.75"`` may use numbers, names (parameters and
covariates), ``+ - * / **``, comparisons, and the functions ``exp log sqrt min max where abs``.
Anything else (attribute access, calls to other names, subscripts, lambdas) is refused when the
expression is compiled, so model files cannot run code. Values may be floats or numpy arrays, so
the same expression evaluates one patient or a whole population at once.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["Expression", "ExpressionError", "compile_expression"]

# numpy is imported at the first evaluation, not at import: reading the catalogue (``ketasim
# models``) does not pay for it.
_NUMPY_NAMES = {
    "exp": "exp",
    "log": "log",
    "sqrt": "sqrt",
    "abs": "abs",
    "min": "minimum",
    "max": "maximum",
    "where": "where",
}
_FUNCTION_NAMES = frozenset(_NUMPY_NAMES)


@lru_cache(maxsize=1)
def _functions() -> dict[str, Any]:
    import numpy as np

    return {name: getattr(np, attr) for name, attr in _NUMPY_NAMES.items()}


_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Call,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Compare,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Eq,
    ast.NotEq,
)


class ExpressionError(ValueError):
    """An expression is malformed, uses a forbidden construct or an unknown name."""


@dataclass(frozen=True)
class Expression:
    """A compiled, validated arithmetic expression.

    >>> Expression("a * (WT / 70) ** 0.75").evaluate({"a": 2.0, "WT": 70.0})
    2.0
    """

    text: str
    names: frozenset[str] = field(init=False)
    _code: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            tree = ast.parse(str(self.text), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"cannot parse expression {self.text!r}: {exc.msg}") from None
        names: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED_NODES):
                raise ExpressionError(
                    f"expression {self.text!r} uses a forbidden construct ({type(node).__name__})"
                )
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTION_NAMES:
                    raise ExpressionError(
                        f"expression {self.text!r} calls an unknown function; allowed: "
                        f"{', '.join(sorted(_FUNCTION_NAMES))}"
                    )
                if node.keywords:
                    raise ExpressionError(f"expression {self.text!r}: keyword arguments refused")
            elif isinstance(node, ast.Name) and node.id not in _FUNCTION_NAMES:
                names.add(node.id)
            elif isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
                raise ExpressionError(f"expression {self.text!r}: only numeric constants allowed")
        object.__setattr__(self, "names", frozenset(names))
        object.__setattr__(self, "_code", compile(tree, f"<expr {self.text}>", "eval"))

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """Evaluate with ``values`` for the names; floats or numpy arrays broadcast together."""
        missing = self.names - set(values)
        if missing:
            raise ExpressionError(
                f"expression {self.text!r} needs {', '.join(sorted(missing))}, which is not defined"
            )
        import numpy as np

        namespace = dict(_functions())
        namespace.update({k: values[k] for k in self.names})
        result = eval(self._code, {"__builtins__": {}}, namespace)
        if isinstance(result, np.ndarray) and result.ndim == 0:
            return float(result)
        if isinstance(result, np.generic):
            return float(result)
        return result


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Expression:
    """The compiled :class:`Expression` for ``text``, parsed once and reused (it is immutable)."""
    return Expression(text)
