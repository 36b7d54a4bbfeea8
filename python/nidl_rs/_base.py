"""A stand-in for scikit-learn's estimator API, used only when scikit-learn is not installed.

It gives the probes the same ``get_params`` / ``set_params`` / ``repr`` and estimator type
that :class:`sklearn.base.BaseEstimator` and its mixins give (parameters are the keyword
arguments of ``__init__``, stored under their own names), so code written against
scikit-learn's conventions keeps working without it. With scikit-learn installed the probes
derive from scikit-learn's own classes instead, and ``clone``, ``Pipeline`` and
``cross_validate`` accept them.
"""

import inspect


class NotFittedError(ValueError, AttributeError):
    """Raised when a probe is used before ``fit`` (scikit-learn's exception of that name)."""


class ConvergenceWarning(UserWarning):
    """Warned when the solver stops before converging (scikit-learn's warning of that name)."""


class BaseEstimator:
    """``get_params`` / ``set_params`` over the keyword arguments of ``__init__``."""

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )

    def get_params(self, deep=True):
        """The constructor parameters as a dict (nested ones as ``name__sub`` if ``deep``)."""
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                for sub, v in value.get_params(deep=True).items():
                    out[f"{name}__{sub}"] = v
            out[name] = value
        return out

    def set_params(self, **params):
        """Sets constructor parameters; an unknown name is a ``ValueError``."""
        valid = self._get_param_names()
        for key, value in params.items():
            name, nested, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {self!r}. "
                    f"Valid parameters are: {valid!r}."
                )
            if nested:
                getattr(self, name).set_params(**{sub: value})
            else:
                setattr(self, name, value)
        return self

    def __repr__(self):
        sig = inspect.signature(type(self).__init__)
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name in self._get_param_names()
            if getattr(self, name) is not sig.parameters[name].default
            and getattr(self, name) != sig.parameters[name].default
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


class ClassifierMixin:
    """Marks a classifier (scikit-learn's ``is_classifier``)."""

    _estimator_type = "classifier"


class RegressorMixin:
    """Marks a regressor (scikit-learn's ``is_regressor``)."""

    _estimator_type = "regressor"
