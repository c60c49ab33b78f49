"""Feedback: decision ids any replica can check, the feedback API, and signals read from traffic itself."""
