"""Shared, un-namespaced data nodes that several studies read."""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.data_engineering.nodes import make_scenes, prepare_mnist


@functools.cache
def shared_data_pipeline() -> Pipeline:
    # Cached: every study adds the *same* node objects, so unions de-duplicate them.
    return Pipeline(
        [
            Node(prepare_mnist, ["params:mnist", "params:seed"], ["mnist_train", "mnist_test"], name="prepare_mnist"),
            Node(make_scenes, ["params:scenes", "params:seed"], ["scenes_train", "scenes_test"], name="make_scenes"),
        ],
        tags=["data_engineering"],
    )
