"""Training, export and evaluation of the request classifier. The service never imports this package.

Modules: ``data`` (loaders for ../shared/data), ``labels`` (source → task label decisions), ``synth`` and
``synth_vocab`` (generated requests), ``model`` (features → linear heads), ``export`` (ONNX + bundle),
``evaluate`` (group folds, task metrics), ``card`` (model card), ``pipeline`` (the whole run, hyper-parameters
from ``defaults.toml``), ``cli`` (``triage train``).

Routing evaluation: ``routing_metrics`` (RouteLLM's PGR/APGR/CPT), ``benchmarks`` (the benchmark file formats),
``scoring`` (the live policy's score for a prompt), ``routing_eval`` (the metrics ``triage train`` records),
``task_eval``, ``plot`` and ``eval_cli`` (``triage eval``). Calibration: ``calibrate`` (``triage calibrate``),
``ladder_edit`` (the targeted YAML edit) and ``traffic`` (the mixed traffic sample).
"""
