"""``tao-sparse4d-fix inspect``: is my model affected? Read TAO's ``results_nusc.json``.

Standard library only (no torch, no numpy, no TAO): it runs on any host that
has the files. One job per module:

* ``problems``: the one exception for bad input (one line, exit status 2);
* ``results_file``: reads and validates TAO's ``results_nusc.json``;
* ``numpy_free``: unpickles TAO's dataset info ``.pkl`` without numpy;
* ``ground_truth``: the GT boxes per frame from that ``.pkl``;
* ``spec``: the decoder's output cap ``model.head.num_output``;
* ``thresholds``: every number the metrics and the verdict use;
* ``metrics``: the numbers per file (and the common-recall comparison);
* ``verdict``: affected / not_affected / unclear, with its reasons;
* ``render``: the side-by-side table and the ``--json`` list;
* ``plot``: ``--plot`` (matplotlib, only when asked);
* ``command``: the argument parser and the run.
"""
