"""What a LightGBM booster records about its training, on every LightGBM cjml supports."""

from __future__ import annotations

import re


def trained_params(booster) -> dict[str, str]:
    """The parameters written in ``booster``'s model text, as text.

    LightGBM 4.7 also reads them into ``Booster.params`` when a model is loaded from
    text (a saved bundle, a booster grown on a Dask cluster); 4.6 leaves that empty,
    and the model text is what a prediction or a refit uses on both.
    """
    return dict(re.findall(r"^\[(\w+): (.*)\]$", booster.model_to_string(), flags=re.MULTILINE))
