"""The overlap check's propensity model against the full one, on every world of the suite.

``cjml.effects`` checks overlap with a propensity model of half the rounds at
twice the learning rate (``_OVERLAP_MODEL``), because it scores every customer
of a batch. This script measures what that changes: on each world of the
scenario suite (seed 0, half its customers, at least 2,000), the anchors are
built with a default featurizer, and on one half of the customers a full model
(80 rounds, learning rate 0.1), the overlap model and a third-size one are
fitted; on the other half another full model. Printed: the share of
anchor-by-touchpoint overlap flags (``e_a`` and the reference's ``e_0`` above
0.1 of their arm's share) on which each agrees with the first full model; the
second full model's agreement is the noise of refitting.

    python benchmarks/overlap_model.py [--scale 0.5] [--worlds NAME ...]
"""

from __future__ import annotations

import argparse


def main() -> None:
    import numpy as np
    import pandas as pd

    import cjml
    from cjml.datasets import SCENARIOS, make_scenario
    from cjml.effects import (
        _OVERLAP_MODEL,
        _fit_propensity,
        _matrix,
        _propensities,
        _thresholds,
        build_anchors,
    )
    from cjml.features._featurizer import JourneyFeaturizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--worlds", nargs="+", default=list(SCENARIOS))
    args = parser.parse_args()
    rows = []
    for name in args.worlds:
        spec = SCENARIOS[name]
        world = make_scenario(name, max(2000, int(spec.n_customers * args.scale)), 0)
        log = cjml.read_events(world.events, journey_map=world.journey_map)
        when = pd.to_datetime(log.timestamps_ns, utc=True)
        featurizer = JourneyFeaturizer().fit(log)
        anchors = build_anchors(log, featurizer, start=when.min(), end=when.max(), horizon="30D")
        n_arms = len(anchors.touchpoints) + 1
        customers = np.unique(anchors.customer)
        rng = np.random.default_rng(0)
        half = np.isin(anchors.customer, rng.choice(customers, len(customers) // 2, replace=False))
        M = _matrix(anchors.X)
        thresholds = _thresholds(anchors.arm, n_arms, 0.1)

        def flags(booster, M=M, thresholds=thresholds):
            e = _propensities(booster, M, 2)
            return (e[:, 1:] >= thresholds[1:]) & (e[:, [0]] >= thresholds[0])

        full = flags(_fit_propensity(M[half], anchors.arm[half], n_arms, 80, 2))
        kept = flags(_fit_propensity(M[half], anchors.arm[half], n_arms, 80, 2, _OVERLAP_MODEL))
        third = flags(_fit_propensity(M[half], anchors.arm[half], n_arms, 80, 2, 3))
        refit = flags(_fit_propensity(M[~half], anchors.arm[~half], n_arms, 80, 2))
        rows.append(
            {
                "world": name,
                "split": spec.split,
                "anchors": len(M),
                "overlap model": (kept == full).mean(),
                "third-size": (third == full).mean(),
                "full refit (noise)": (refit == full).mean(),
                "with overlap, full": full.mean(),
                "with overlap, overlap model": kept.mean(),
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print("\nagreement with the full model's overlap flags; the share of cells with overlap")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
