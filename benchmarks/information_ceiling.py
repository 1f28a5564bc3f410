"""How much of the churn model's gap to the oracle is information the log does not hold.

The suite's oracle (``risk_no_action``) knows each customer's latent state: the
persona, and every experience's outcome, good or bad, where the log records a
satisfaction score only when the customer was asked. Issue 17 asks for a churn
ROC AUC within 0.02 of that oracle on the customers active before the cutoff.
This script trains cjml exactly as ``quality.py --suite --models-only`` does on
three versions of the same simulated world (the same random draws, so the
same customers, events and truth):

``log``
    the world as simulated (satisfaction asked on some events; the CRM
    segment right for most customers);
``persona``
    the ``segment`` column replaced by the true persona;
``revealed``
    the true persona, and a satisfaction score on every event (the same noisy
    reading of the hidden good or bad experience the log gives when asked).

If the gap closes from ``log`` to ``revealed``, what is missing is the
information, not the model: no model of the log as given can close it.

    python benchmarks/information_ceiling.py [--worlds NAME ...] [--seeds 0] [--scale 1.0]
                                             [--recommender]

Each (world, seed, version) trains once (about a minute at full size, one
thread per model); the table prints the active customers' churn ROC AUC and
Brier score of the model against the oracle's, and the goals met of the
suite's eight model checks. With ``--recommender`` the recommender is trained
and measured too (the suite's regret shares over the top 20% by risk, harmful
share, Spearman and goals): whether knowing the latent state (which confounds
how business as usual picked touchpoints) helps it as well.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _suite  # noqa: E402

VERSIONS = ("log", "persona", "revealed")
WORLDS = (
    "experience_memory",
    "contact_fatigue",
    "price_sensitivity",
    "rare_touchpoint",
    "small_shop",
)


def make_version(name: str, n_customers: int, seed: int, version: str) -> Bunch:
    """One world in the shape ``_suite.run_world`` reads, in the chosen ``version``."""
    from cjml.datasets import _scenarios

    if version == "revealed":
        original = _scenarios._World.__init__

        def every_answer(self, raw):
            original(self, raw)
            # the ask draw happens whatever the rate, so every other draw is unchanged
            self.ask = np.ones_like(self.ask)
            self.cfg = {**self.cfg, "satisfaction": True}

        with mock.patch.object(_scenarios._World, "__init__", every_answer):
            data = _scenarios.make_scenario(name, n_customers=n_customers, seed=seed)
    else:
        data = _scenarios.make_scenario(name, n_customers=n_customers, seed=seed)
    events = data.events
    if version in ("persona", "revealed"):
        persona = data.customers.set_index("customer_id")["persona"]
        events = events.assign(segment=events["customer_id"].map(persona).to_numpy())
    return Bunch(
        events=events,
        truth=data.truth,
        journey_map=data.journey_map,
        test_cutoff=pd.Timestamp(data.test_cutoff),
        horizon_days=int(data.horizon_days),
    )


def check_same_world(a: Bunch, b: Bunch) -> None:
    """The versions differ only in what the log reveals: same events, same truth."""
    cols = ["customer_id", "timestamp", "touchpoint", "stage"]
    pd.testing.assert_frame_equal(a.events[cols], b.events[cols])
    pd.testing.assert_series_equal(a.truth["risk_no_action"], b.truth["risk_no_action"])
    if "satisfaction" in a.events and "satisfaction" in b.events:
        asked = a.events["satisfaction"].notna()
        assert (a.events["satisfaction"][asked] == b.events["satisfaction"][asked]).all()


def run(worlds, seeds, scale: float, recommender: bool = False) -> pd.DataFrame:
    available = _suite.available_worlds()
    rows = []
    for world in worlds:
        n = max(int(round(available[world]["n_customers"] * scale)), 100)
        for seed in seeds:
            made = {v: make_version(world, n, seed, v) for v in VERSIONS}
            for v in VERSIONS[1:]:
                check_same_world(made["log"], made[v])
            for v in VERSIONS:
                with mock.patch.object(_suite, "load_world", lambda *a, _d=made[v]: _d):
                    row = _suite.run_world(
                        world, n, seed, log_progress=lambda m: None, models_only=not recommender
                    )
                rows.append(summary(world, seed, v, row, recommender))
                print(line(rows[-1], recommender), flush=True)
    return pd.DataFrame(rows)


def summary(world: str, seed: int, version: str, row: dict, recommender: bool) -> dict:
    """The figures this script prints, from one row of ``_suite.run_world``."""
    out = {
        "world": world,
        "seed": seed,
        "version": version,
        "n_active": row["n_active"],
        "auc_model": row["auc_model_act"],
        "auc_oracle": row["auc_oracle_act"],
        "gap": row["auc_oracle_act"] - row["auc_model_act"],
        "brier_over_oracle": row["brier_model_act"] / row["brier_oracle_act"] - 1,
        "auc_gap_all": row["auc_oracle"] - row["auc_model"],
        "goals": sum(bool(row[k]) for k in _suite.MODEL_GOAL_KEYS),
    }
    if recommender:
        for key in ("policy", "regret_cjml", "regret_rank", "regret_single", "regret_naive"):
            out[key] = row.get(key, np.nan)
        out["harmful"] = row.get("harmful", np.nan)
        out["harmful_rank"] = row.get("harmful_rank", np.nan)
        out["spearman"] = row.get("spearman", np.nan)
        out["rec_goals"] = f"{row['goals_met']}/{row['goals_total']}"
    return out


def line(r: dict, recommender: bool) -> str:
    text = (
        f"{r['world']:>18} {r['seed']} {r['version']:>9} active {r['n_active']:>6,}: AUC "
        f"{r['auc_model']:.3f} vs oracle {r['auc_oracle']:.3f} (gap {r['gap']:.3f}), "
        f"Brier {r['brier_over_oracle']:+.1%}, lookback gap {r['auc_gap_all']:.3f}, "
        f"model goals {r['goals']}/{len(_suite.MODEL_GOAL_KEYS)}"
    )
    if recommender:
        text += (
            f"; policy {r['policy']}, regret cjml/rank/single/naive "
            f"{r['regret_cjml']:.2f}/{r['regret_rank']:.2f}/{r['regret_single']:.2f}/"
            f"{r['regret_naive']:.2f}, harm cjml/rank {r['harmful']:.1%}/{r['harmful_rank']:.1%}, "
            f"Spearman {r['spearman']:.2f}, recommendation goals {r['rec_goals']}"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=list(WORLDS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--recommender",
        action="store_true",
        help="train and measure the recommender too (the suite's policy figures)",
    )
    args = parser.parse_args()
    table = run(args.worlds, args.seeds, args.scale, args.recommender)
    print()
    print(
        table.pivot_table(index=["world", "seed"], columns="version", values="gap")[list(VERSIONS)]
        .round(3)
        .to_string()
    )


if __name__ == "__main__":
    main()
