"""Connecting to a dask.distributed cluster (scoring and training share it)."""

from __future__ import annotations

import os


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
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError('engine="dask" needs dask and distributed: '
                          'pip install "cjml[dask]".') from None
    if scheduler is None:
        import logging

        cluster = LocalCluster(dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
        return client, [client, cluster]
    if isinstance(scheduler, str | os.PathLike):
        client = Client(str(scheduler))
        return client, [client]
    if hasattr(scheduler, "submit") and hasattr(scheduler, "compute"):
        return scheduler, None
    raise TypeError(f"scheduler must be an address such as 'tcp://host:8786' or a "
                    f"distributed.Client, got {type(scheduler).__name__}.")
