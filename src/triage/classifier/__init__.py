"""Request classification: bounded-time features, the ONNX model, and a fake for tests."""

from triage.classifier.base import TASK_LABELS, Classifier, Scores
from triage.classifier.fake import FakeClassifier
from triage.classifier.onnx_model import OnnxClassifier, load_default

__all__ = ["TASK_LABELS", "Classifier", "FakeClassifier", "OnnxClassifier", "Scores", "load_default"]
