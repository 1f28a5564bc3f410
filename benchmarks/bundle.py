"""Saving and loading a model bundle: the safe format against a joblib pickle of the same bundle.

The bundle is trained once on the sample (cjml's defaults: churn, next stage and the
recommender's models) and cached under ``benchmarks/.cache/``. Cases, each in a fresh
process (time and peak memory):

Times include importing cjml, LightGBM and scikit-learn in the fresh process, as a
command's first load does.

- ``load joblib`` (reference): ``joblib.load`` of the same object graph, what cjml's first
  format did after checking the manifest (unsafe: unpickling runs code);
- ``load safe``: ``ModelBundle.load`` of the ``.cjml`` file: manifest, sha256, then the zip
  of JSON, arrays, tables and LightGBM text, rebuilding only allow-listed classes;
- ``save joblib`` / ``save safe``: the same in the other direction.

File sizes are printed beside. Issue 18 asks for safety, not speed; this script shows what
the safety costs.

    python benchmarks/bundle.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os

from _measure import CACHE, repeat


def _paths() -> tuple[str, str]:
    return str(CACHE / "bundle_bench.cjml"), str(CACHE / "bundle_bench.joblib")


def prepare() -> None:
    """Train the bundle once and write it in both formats."""
    import joblib

    import cjml
    from cjml.bundle import ModelBundle
    from cjml.datasets import load_sample

    safe, pickled = _paths()
    if not os.path.exists(safe):
        CACHE.mkdir(parents=True, exist_ok=True)
        bundle, _ = cjml.train(load_sample(), n_jobs=1)
        bundle.save(safe, force=True)
    bundle = ModelBundle.load(safe)
    joblib.dump(_payload(bundle), pickled, compress=3)


def _payload(bundle) -> dict:
    return {
        "featurizer": bundle.featurizer,
        "journey_map": bundle.journey_map.to_dict(),
        "models": bundle.models,
        "metadata": bundle.metadata,
    }


def load_joblib() -> int:
    import joblib

    return len(joblib.load(_paths()[1])["models"])


def load_safe() -> int:
    from cjml.bundle import ModelBundle

    return len(ModelBundle.load(_paths()[0]).models)


def setup_save_joblib():
    from cjml.bundle import ModelBundle

    return ModelBundle.load(_paths()[0])


def save_joblib(bundle) -> int:
    import joblib

    target = CACHE / "bundle_bench_out.joblib"
    joblib.dump(_payload(bundle), target, compress=3)
    return os.path.getsize(target)


setup_save_safe = setup_save_joblib


def save_safe(bundle) -> int:
    target = CACHE / "bundle_bench_out.cjml"
    bundle.save(target, force=True)
    return os.path.getsize(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    prepare()
    safe, pickled = _paths()
    print(
        f"bundle: {os.path.getsize(safe) / 1e6:.2f} MB safe, "
        f"{os.path.getsize(pickled) / 1e6:.2f} MB joblib (compress=3)"
    )
    print(f"{'case':<14}{'median s':>10}  {'runs (s)':<34}{'peak MB':>8}{'vs joblib':>11}")
    for verb in ("load", "save"):
        reference = repeat("bundle", f"{verb}_joblib", args.repeats)
        ours = repeat("bundle", f"{verb}_safe", args.repeats)
        for name, result in ((f"{verb} joblib", reference), (f"{verb} safe", ours)):
            ratio = result["seconds"] / reference["seconds"]
            print(
                f"{name:<14}{result['seconds']:>10.3f}  {str(result['all_seconds']):<34}"
                f"{result['peak_mb']:>8.0f}{ratio:>10.2f}x"
            )


if __name__ == "__main__":
    main()
