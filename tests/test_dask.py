"""The estimators on a real dask.distributed cluster: a GridSearchCV run under
joblib's "dask" backend gives exactly the local result."""

import numpy as np
import pytest

pytest.importorskip(
    "distributed", reason="the Dask test needs the optional extra 'distributed' (pip install 'bpcore[distributed]')"
)
pytest.importorskip("sklearn", reason="the Dask test needs scikit-learn (optional extra 'distributed')")

import joblib
from distributed import Client, LocalCluster, get_task_stream
from sklearn.model_selection import GridSearchCV

from bpcore.datasets import load_digits
from bpcore.sklearn import BackpropClassifier


@pytest.fixture(scope="module")
def client():
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster, Client(cluster) as client:
        yield client


def search():
    X, y = load_digits()
    grid = GridSearchCV(
        BackpropClassifier(hidden_layer_sizes=(16,), activation="logistic", max_iter=30,
                           random_state=0, n_iter_no_change=2),
        {"learning_rate_init": [0.01, 0.1], "alpha": [0.0, 1e-3]},
        cv=3,
    )
    return grid.fit(X, y)


# Some candidates run all 30 epochs: a ConvergenceWarning, which the
# workers print but the local run would turn into an error.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_on_a_dask_cluster_equals_the_local_run(client):
    local = search()
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = search()
    # The 12 cross-validation fits (4 candidates x 3 folds) ran as tasks on
    # both worker processes (GridSearchCV refits the best one locally).
    workers = {task["worker"] for task in tasks.data}
    assert workers == set(client.scheduler_info()["workers"]) and len(workers) == 2
    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    np.testing.assert_array_equal(
        remote.best_estimator_.network_.params_vector(), local.best_estimator_.network_.params_vector()
    )


def test_incremental_streams_blocks_through_partial_fit(client):
    """dask_ml's Incremental runs partial_fit once per block, in block order,
    on the workers: the same network as calling partial_fit on each block here."""
    da = pytest.importorskip("dask.array", reason="needs dask.array (optional extra 'distributed')")
    Incremental = pytest.importorskip(
        "dask_ml.wrappers", reason="needs dask-ml (optional extra 'distributed')"
    ).Incremental
    X, y = load_digits()
    classes = np.arange(10)
    args = dict(hidden_layer_sizes=(16,), learning_rate_init=0.05, random_state=0)
    with get_task_stream(client) as tasks:
        streamed = Incremental(BackpropClassifier(**args), shuffle_blocks=False).fit(
            da.from_array(X, chunks=(300, 64)), da.from_array(y, chunks=300), classes=classes
        )
    fits = [task for task in tasks.data if str(task["key"][0]).startswith("fit")]
    assert len(fits) >= 6  # 1797 rows in blocks of 300: a partial_fit task per block
    local = BackpropClassifier(**args)
    for start in range(0, len(X), 300):
        local.partial_fit(X[start : start + 300], y[start : start + 300], classes=classes)
    assert streamed.estimator_.t_ == local.t_ == len(X)
    np.testing.assert_array_equal(
        streamed.estimator_.network_.params_vector(), local.network_.params_vector()
    )
