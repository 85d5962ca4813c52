"""bpcore's scikit-learn estimators on a Dask cluster.

1. A hyperparameter search: scikit-learn's GridSearchCV, unchanged, with its
   fits farmed out to the cluster's workers by joblib's "dask" backend.
2. Streaming: dask_ml.wrappers.Incremental feeds a dask array to one
   BackpropClassifier block by block through partial_fit, so the whole
   dataset never has to be in one process's memory.

Run it on a throwaway local cluster (two worker processes):

    python examples/dask_search.py

or on an existing cluster:

    python examples/dask_search.py --scheduler tcp://scheduler-host:8786

Needs: pip install 'bpcore[distributed]'  (scikit-learn, dask[distributed], dask-ml).
See docs/dask.md.
"""

import argparse
import contextlib
import warnings

import dask.array as da
import joblib
import numpy as np
from dask_ml.wrappers import Incremental
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from bpcore.datasets import load_digits
from bpcore.sklearn import BackpropClassifier


def grid_search(X, y):
    """GridSearchCV exactly as without Dask: only the joblib backend changes."""
    search = GridSearchCV(
        BackpropClassifier(hidden_layer_sizes=(32,), activation="logistic", max_iter=40, random_state=0),
        {"learning_rate_init": [0.01, 0.05, 0.2], "alpha": [0.0, 1e-4, 1e-3]},
        cv=5,
    )
    with joblib.parallel_backend("dask"):
        search.fit(X, y)
    print(f"grid search: best {search.best_params_}, cross-validated accuracy {search.best_score_:.3f}")
    return search


def stream(X_train, y_train, X_test, y_test, *, epochs=10, block=200):
    """One network trained on a dask array, one block (``block`` rows) at a time.

    Here the dask array wraps an in-memory array; in real use it would come from
    files (``dask.dataframe.read_parquet(...).to_dask_array(lengths=True)``,
    ``da.from_zarr(...)``) and only the current block would be loaded.
    """
    X_blocks = da.from_array(X_train, chunks=(block, X_train.shape[1]))
    y_blocks = da.from_array(y_train, chunks=block)
    model = Incremental(
        BackpropClassifier(hidden_layer_sizes=(32,), activation="logistic",
                           learning_rate_init=0.1, random_state=0),
        scoring="accuracy",
        shuffle_blocks=True,
        random_state=0,
    )
    classes = np.unique(y_train)
    for epoch in range(1, epochs + 1):  # each partial_fit: one pass over every block
        model.partial_fit(X_blocks, y_blocks, classes=classes)
        if epoch % 5 == 0:
            print(f"streaming: after {epoch} passes, test accuracy {model.score(X_test, y_test):.3f}")
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: start a local cluster)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.scheduler:
            client = stack.enter_context(Client(args.scheduler))
        else:
            cluster = stack.enter_context(
                LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
            )
            client = stack.enter_context(Client(cluster))
        print(f"cluster: {len(client.scheduler_info()['workers'])} workers")
        X, y = load_digits()
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
        with warnings.catch_warnings():
            # Some grid points use all 40 epochs; that is expected here.
            warnings.simplefilter("ignore", ConvergenceWarning)
            search = grid_search(X_train, y_train)
        print(f"grid search: test accuracy of the refitted best model {search.score(X_test, y_test):.3f}")
        stream(X_train, y_train, X_test, y_test)


if __name__ == "__main__":
    main()
