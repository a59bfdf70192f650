"""What a run reports: metrics from torchmetrics, PNG plots, and answers printed for predictions.
No training here; the train package and the tasks call it.
"""
