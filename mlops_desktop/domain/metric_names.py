"""What the hold-out metrics are called and which way is better: names only, no numpy, so
modules that load before the window paints can use them."""

from __future__ import annotations

#: Metric names follow scikit-learn's, so the API, CLI and GUI speak one language.
CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "log_loss",
)
REGRESSION_METRICS = (
    "mean_absolute_error",
    "root_mean_squared_error",
    "r2",
    "mean_absolute_percentage_error",
)
#: Errors and losses: the smaller the better. Everything else (scores, and scikit-learn's
#: negated ``neg_*`` scorers) is better when larger.
LOWER_IS_BETTER = frozenset(
    {"log_loss", "mean_absolute_error", "root_mean_squared_error", "mean_absolute_percentage_error"}
)


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER
