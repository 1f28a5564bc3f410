"""Connecting to a dask.distributed cluster (scoring and training share it), and the faults
of a cluster told apart from errors of the work itself."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

from cjml.exceptions import ClusterError

#: Seconds a cluster may have no worker at all (none started yet, or all died and none
#: restarted) before a run gives up instead of waiting forever.
NO_WORKERS_TIMEOUT = 300.0


def connect(scheduler):
    """A dask.distributed client for ``scheduler``, and what to close afterwards.

    Parameters
    ----------
    scheduler : str, distributed.Client or None
        A scheduler address (``"tcp://host:8786"``), a connected client, or
        None for a new LocalCluster on this machine.

    Returns
    -------
    client : distributed.Client
        The connected client.
    owned : list or None
        What was opened here, to close when done: the client and the
        LocalCluster, or the client made from an address; None for the
        caller's own client.

    Raises
    ------
    ClusterError
        No scheduler answers at the address (after dask's connect timeout,
        ``distributed.comm.timeouts.connect``).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(
            'engine="dask" needs dask and distributed: pip install "cjml[dask]".'
        ) from None
    if scheduler is None:
        cluster = LocalCluster(dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
        return client, [client, cluster]
    if isinstance(scheduler, str | os.PathLike):
        address = str(scheduler)
        try:
            client = Client(address)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"No Dask scheduler answers at {address!r} ({_reason(exc)}). Start one "
                f"(dask scheduler) with its workers (dask worker {address}), or pass the "
                "address it prints with --scheduler."
            ) from None
        return client, [client]
    if hasattr(scheduler, "submit") and hasattr(scheduler, "compute"):
        return scheduler, None
    raise TypeError(
        f"scheduler must be an address such as 'tcp://host:8786' or a "
        f"distributed.Client, got {type(scheduler).__name__}."
    )


def close(owned) -> None:
    """Close what :func:`connect` opened; a client whose scheduler is gone closes quietly."""
    unhush = hush_client()
    try:
        for obj in owned or ():
            with contextlib.suppress(Exception):
                obj.close()
    finally:
        unhush()


def hush_client():
    """Keep distributed's own log off the screen until the returned function is called:
    a lost scheduler would print a traceback per failed send and reconnect, and is
    reported once, as a :class:`ClusterError`."""
    # distributed's logging config gives some of its loggers levels of their own
    # ("distributed.client": warning): each such one is set, not just the parent.
    loggers = [logging.getLogger("distributed")] + [
        logger
        for name, logger in list(logging.root.manager.loggerDict.items())
        if name.startswith("distributed.")
        and isinstance(logger, logging.Logger)
        and logger.level != logging.NOTSET
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)

    def unhush():
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)

    return unhush


def completed(client, futures) -> Iterator:
    """Yield ``futures`` as they finish, like ``distributed.as_completed``, but raise
    :class:`ClusterError` once the cluster has had no worker for
    :data:`NO_WORKERS_TIMEOUT` seconds (dask itself waits for workers forever)."""
    from distributed import as_completed

    pending = as_completed(futures)
    last_worker = checked = time.monotonic()
    while not pending.is_empty():
        batch = pending.next_batch(block=False)
        if batch:
            yield from batch
            continue
        now = time.monotonic()
        if now - checked >= 1.0:
            checked = now
            if client.nthreads():
                last_worker = now
            elif now - last_worker >= NO_WORKERS_TIMEOUT:
                raise _NoWorkers(
                    f"The Dask scheduler at {client.scheduler.address} has had "
                    f"no worker for {NO_WORKERS_TIMEOUT:.0f} s"
                )
        time.sleep(0.02)


class _NoWorkers(ClusterError):
    pass


def cluster_fault(
    exc: BaseException, client, tasks: dict[str, str] | None = None
) -> tuple[str, str] | None:
    """If ``exc`` is a fault of the cluster (and not an error of a task, raised as it
    is): what went wrong, and what to do before running again, in two phrases.

    ``tasks`` names the run's tasks for the user, by the prefix of their keys.
    """
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError
    from distributed.comm import CommClosedError

    address = getattr(getattr(client, "scheduler", None), "address", None) or "?"
    again = "start the scheduler and workers again"
    if isinstance(exc, _NoWorkers):
        return str(exc), f"start workers (dask worker {address})"
    if isinstance(exc, ClusterError):
        return str(exc), again
    if isinstance(exc, KilledWorker):
        name = _key_name(exc.task)
        last = getattr(exc.last_worker, "address", exc.last_worker)
        n = exc.allowed_failures + 1
        who = "A Dask worker" if n == 1 else f"{n} Dask workers in turn"
        what = (
            f"{who} died running one task of the run ({(tasks or {}).get(name, name)}; "
            f"{'at' if n == 1 else 'the last at'} {last}): usually a worker out of memory"
        )
        return what, "give the workers more memory (dask worker --memory-limit)"
    if isinstance(exc, FutureCancelledError) and "scheduler" not in str(exc.reason):
        why = "" if exc.reason in ("", "unknown") else f" ({exc.reason})"
        return f"The Dask cluster cancelled a task of the run{why}", again
    if isinstance(exc, FutureCancelledError | CommClosedError) or client.status != "running":
        # (a closed comm may be seen before the client marks itself disconnected)
        return f"Lost the connection to the Dask scheduler at {address}", again
    return None


def _key_name(key) -> str:
    """A task key without its hash: ``"_score_frame"`` for ``"_score_frame-5462..."``."""
    from dask.utils import key_split

    return key_split(key)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "...") if len(text) > 200 else text or type(exc).__name__
