"""A scikit-learn-compatible transformer base that does not import scikit-learn.

The feature families and :class:`~cjml.JourneyFeaturizer` follow scikit-learn's
estimator contract (``get_params``/``set_params``, ``fit``/``transform``,
``fit_transform``, ``set_output``, tags, :func:`sklearn.base.clone`, Pipelines),
but importing scikit-learn takes about 1.6 s, more than ``cjml features`` needs
to featurize a million events. This base implements the contract by hand;
scikit-learn is imported only when scikit-learn itself asks (tags) or when an
error it defines is raised (``NotFittedError``).
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["Transformer", "check_fitted"]


def check_fitted(estimator: Any) -> None:
    """Raise scikit-learn's ``NotFittedError`` unless ``estimator`` was fitted.

    Fitted means, as in :func:`sklearn.utils.validation.check_is_fitted`, that
    it has an attribute ending in ``_`` (set by ``fit``).

    Parameters
    ----------
    estimator : object
        The estimator to check.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When it has no fitted attribute (a ``ValueError`` and an ``AttributeError``).
    """
    if any(k.endswith("_") and not k.startswith("__") for k in vars(estimator)):
        return
    from sklearn.exceptions import NotFittedError  # only on this error path

    raise NotFittedError(
        f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
        "appropriate arguments before using this estimator."
    )


class Transformer:
    """Base of cjml's transformers: scikit-learn's estimator contract, without scikit-learn.

    Parameters are the keyword arguments of the subclass's ``__init__``, stored
    unchanged as attributes of the same name (scikit-learn's convention), so
    ``get_params``, ``set_params`` and :func:`sklearn.base.clone` work; fitted
    attributes end in ``_``. ``transform`` always returns a pandas DataFrame.
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        skipped = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        return sorted(p.name for p in params if p.name != "self" and p.kind not in skipped)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get the parameters of this transformer.

        Parameters
        ----------
        deep : bool, default True
            Also return the parameters of parameters that are estimators, as
            ``name__parameter``.

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Transformer:
        """Set parameters, as ``name=value`` or ``name__parameter=value`` for a nested one.

        Parameters
        ----------
        **params
            The new values.

        Returns
        -------
        self
            The transformer, changed in place.

        Raises
        ------
        ValueError
            For a name that is not a parameter.
        """
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(self._get_param_names())!r}."
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then transform ``X`` at the cutoff it was fitted up to.

        Parameters
        ----------
        X : EventLog, DataFrame or path
            The events.
        y : None
            Ignored; present for scikit-learn compatibility.
        **fit_params
            Passed to ``fit``; its ``cutoff`` (default: the log's end) is also
            the cutoff of the features returned.

        Returns
        -------
        DataFrame
            The features.
        """
        return self.fit(X, y, **fit_params).transform(X, cutoff=fit_params.get("cutoff"))

    def set_output(self, *, transform: str | None = None) -> Transformer:
        """Choose the container ``transform`` returns; it is always a pandas DataFrame.

        Parameters
        ----------
        transform : {"default", "pandas"} or None
            Both mean a DataFrame; None leaves the setting unchanged.

        Returns
        -------
        self
            The transformer.

        Raises
        ------
        ValueError
            For another container (e.g. "polars").
        """
        if transform not in (None, "default", "pandas"):
            raise ValueError(
                f"{type(self).__name__}.transform returns a pandas DataFrame; "
                f"set_output(transform={transform!r}) is not supported (use 'pandas')."
            )
        if transform is not None:
            self._sklearn_output_config = {"transform": transform}
        return self

    def __sklearn_tags__(self):
        """The tags of a transformer that needs no target, for scikit-learn."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(),
            input_tags=InputTags(),
        )

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state.pop("_sklearn_version", None)  # left by bundles saved while this was sklearn's
        self.__dict__.update(state)

    def __repr__(self) -> str:
        # scikit-learn's style: only the parameters that differ from their defaults
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = []
        for name in sorted(self._get_param_names()):
            value = getattr(self, name)
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = bool(value is default or value == default)
            except Exception:  # e.g. arrays: show them
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"
