"""Training, export and evaluation of the request classifier. The service never imports this package.

Modules: ``data`` (loaders for ../shared/data), ``labels`` (source → task label decisions), ``synth`` and
``synth_vocab`` (generated requests), ``model`` (features → linear heads), ``export`` (ONNX + bundle),
``evaluate`` (group folds, metrics), ``card`` (model card), ``pipeline`` (the whole run), ``cli``.
"""
