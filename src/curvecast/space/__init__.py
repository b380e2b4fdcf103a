"""Search spaces: hyperparameter spaces and the MetaQNN CNN layer space."""

from curvecast.space.params import Categorical, Float, Int, Param, ParamSpace, SearchSpace

__all__ = ["Categorical", "Float", "Int", "Param", "ParamSpace", "SearchSpace"]
