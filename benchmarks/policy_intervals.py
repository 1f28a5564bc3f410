"""How each policy test values the candidate policies: estimates and interval widths.

For a few scenario worlds (seed 0), ``cjml.train`` with its defaults (held-out cutoff; no
survival or value model) is run once per test of ``cjml.effects.choose_policy``, and the
policy table printed: each candidate's estimated drop-off rate, its difference with no
action and the half-width of the one-sided interval (points of drop-off), the share of
held-out decisions it acts on, and which one was kept. The truth's best policy gains 1-2
points on these worlds' active customers.

    python benchmarks/policy_intervals.py [--worlds contact_fatigue rare_touchpoint ...]
                                          [--tests inverse normalised] [--scale 0.5]
"""

from __future__ import annotations

import argparse
import warnings

from _suite import available_worlds, load_world

import cjml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--worlds", nargs="+", default=["contact_fatigue", "rare_touchpoint", "experience_memory"]
    )
    parser.add_argument("--tests", nargs="+", default=["inverse", "normalised"])
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in args.worlds:
        n = int(available_worlds()[name]["n_customers"] * args.scale)
        data = load_world(name, n, args.seed)
        events = data.events[data.events["timestamp"] <= data.test_cutoff]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            log = cjml.read_events(events, journey_map=data.journey_map)
            for test in args.tests:
                bundle, _ = cjml.train(
                    log,
                    horizon=f"{int(data.horizon_days)}D",
                    survival=False,
                    value=False,
                    response_params={"policy_test": test},
                    n_jobs=1,
                )
                choice = bundle.models["touchpoint_policy"]
                table = choice.table
                table = table.assign(
                    vs_no_action=table["vs_no_action"] * 100,
                    half_width=(table["vs_no_action_high"] - table["vs_no_action"]) * 100,
                )
                print(f"\n{name} ({n:,} customers, seed {args.seed}), test {test}: {choice.policy}")
                cols = ["value", "vs_no_action", "half_width", "share_acted", "chosen"]
                print(table[cols].round(3).to_string())


if __name__ == "__main__":
    main()
