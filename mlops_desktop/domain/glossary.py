"""Plain-language meanings of the metrics, drift statistics and pipeline steps, for tooltips
and for students who meet a term for the first time."""

from __future__ import annotations

#: Hold-out and cross-validation metrics, by scikit-learn's names.
METRICS: dict[str, str] = {
    "accuracy": "The share of rows the model labelled correctly. 1 is perfect; with rare "
    "classes it flatters a model that always says the common one.",
    "balanced_accuracy": "Accuracy averaged over the classes, each counted equally: a model "
    "that ignores a rare class scores no better than guessing.",
    "precision_macro": "Of the rows the model put in a class, the share that belong there, "
    "averaged over the classes. High precision means few false alarms.",
    "recall_macro": "Of the rows that belong to a class, the share the model found, averaged "
    "over the classes. High recall means few misses.",
    "f1_macro": "Precision and recall combined into one number (their harmonic mean) per class, "
    "averaged over the classes. It is low when either of them is low.",
    "roc_auc": "How well the model's scores rank the rows: the chance that a random row of a "
    "class is scored above a random row of another. 0.5 is guessing, 1 is perfect.",
    "log_loss": "How surprised the model is by the true labels, from its probabilities; "
    "confident mistakes cost most. Smaller is better, 0 is perfect.",
    "mean_absolute_error": "The average size of a prediction's error, in the target's own "
    "units (litres, euros…). Smaller is better.",
    "root_mean_squared_error": "The typical size of an error, in the target's units, with big "
    "errors counting more than small ones. Smaller is better.",
    "r2": "The share of the target's variation the model explains: 1 is perfect, 0 is no "
    "better than always predicting the average, below 0 is worse than that.",
    "mean_absolute_percentage_error": "The average error as a share of the true value (0.1 "
    "means 10 % off). Misleading when true values are near zero. Smaller is better.",
    "fit_seconds": "How long fitting the final model took, in seconds.",
    "predict_seconds": "How long predicting the hold-out rows took, in seconds.",
}

#: What the Monitoring panel and `monitor` report for each column.
DRIFT: dict[str, str] = {
    "column": "An input of the model, or its predictions.",
    "status": "The worst of the checks: green (no real change), amber, red.",
    "test": "ks: Kolmogorov–Smirnov (numbers), the largest gap between the two cumulative "
    "distributions; chi2: chi-square (categories), whether the shares differ more than "
    "chance explains.",
    "statistic": "The test's statistic: for ks the largest gap, from 0 to 1.",
    "p-value": "How likely a difference this large would be by chance alone if nothing had "
    "changed; a change counts only when it is below the p_value threshold.",
    "effect": "How large the change is: for numbers the Wasserstein distance in standard "
    "deviations of the training values (0.5 is like shifting every value by half a standard "
    "deviation); for categories Cramér's V, from 0 (none) to 1 (completely different).",
    "PSI": "Population stability index: how differently the rows spread over the training "
    "bins or categories. Below 0.1 is usually no real change, 0.1 to 0.25 moderate, above "
    "0.25 large.",
    "missing": "The share of missing values in training → now.",
    "new": "The share of values in categories training never saw.",
    "note": "Why a statistic is missing or means something else for this column.",
}

#: The pieces a compiled pipeline is made of, by class name.
STEPS: dict[str, str] = {
    "Pipeline": "Steps run in order: each one's output is the next one's input, and the "
    "whole chain is fitted on training rows only, so no test row leaks into it.",
    "ColumnTransformer": "Prepares groups of columns side by side, each its own way, then "
    "puts the results next to each other as the model's inputs.",
    "passthrough": "These columns reach the model unchanged.",
    "SimpleImputer": "Fills missing values: with the column's mean, median, most frequent "
    "value or a constant, learnt from the training rows.",
    "StandardScaler": "Shifts and stretches each number so the training values have mean 0 "
    "and standard deviation 1: models that compare distances need equal scales.",
    "MinMaxScaler": "Squeezes each number into 0 to 1, from the training minimum and maximum.",
    "RobustScaler": "Centres each number on its median and divides by the spread of its middle "
    "half, so a few extreme values do not set the scale.",
    "OneHotEncoder": "Turns a category into one yes/no column per value; rare values share an "
    "'infrequent' column, and values never seen in training get none.",
    "OrdinalEncoder": "Numbers the categories 0, 1, 2…; compact, but implies an order that "
    "trees cope with and linear models may not.",
    "TargetEncoder": "Replaces a category by the average target of its rows, learnt out of "
    "fold so that a row never sees its own answer.",
    "TfidfVectorizer": "Turns text into word weights: frequent in this row, rare across rows "
    "means important. Only the most frequent words are kept.",
    "DatetimeParts": "Splits a date into numbers a model can use: year, month, day, weekday, hour.",
    "TextColumn": "Hands one text column to the word counter as plain strings.",
    "BooleanColumns": "Reads yes/no, true/false and 1/0 values as 1 and 0.",
    # The estimators of the catalogue.
    "LogisticRegression": "A linear model of the odds of each class: fast, easy to explain, a "
    "good first model.",
    "RidgeClassifier": "A linear classifier fitted like ridge regression on the classes.",
    "LinearRegression": "A straight-line (flat-plane) fit of the target, with no penalty.",
    "Ridge": "Linear regression that shrinks the weights a little, steadier when inputs are "
    "related to each other.",
    "Lasso": "Linear regression that can shrink weights to exactly zero, dropping inputs.",
    "ElasticNet": "Linear regression with both ridge's and lasso's penalties.",
    "KNeighborsClassifier": "Labels a row like the nearest training rows; needs scaled inputs.",
    "KNeighborsRegressor": "Predicts the average of the nearest training rows; needs scaled "
    "inputs.",
    "SVC": "A support vector machine: finds the widest margin between the classes, curved by "
    "its kernel.",
    "SVR": "Support vector regression: a fit that ignores errors smaller than a margin.",
    "DecisionTreeClassifier": "A flowchart of yes/no questions about the inputs, learnt from "
    "the data; easy to read, prone to overfitting when deep.",
    "DecisionTreeRegressor": "A flowchart of yes/no questions ending in an average target; easy "
    "to read, prone to overfitting when deep.",
    "RandomForestClassifier": "Many trees, each on a random sample of rows and inputs, voting: "
    "robust and a strong default.",
    "RandomForestRegressor": "Many trees, each on a random sample of rows and inputs, averaged: "
    "robust and a strong default.",
    "ExtraTreesClassifier": "Like a random forest, with random split points too: faster, often "
    "as good.",
    "ExtraTreesRegressor": "Like a random forest, with random split points too: faster, often "
    "as good.",
    "GradientBoostingClassifier": "Trees added one after another, each correcting the last "
    "ones' mistakes.",
    "GradientBoostingRegressor": "Trees added one after another, each correcting the last "
    "ones' errors.",
    "HistGradientBoostingClassifier": "Gradient boosting on binned inputs: fast on large data "
    "and copes with missing values itself.",
    "HistGradientBoostingRegressor": "Gradient boosting on binned inputs: fast on large data "
    "and copes with missing values itself.",
    "MLPClassifier": "A small neural network; needs scaled inputs and more rows than most.",
    "MLPRegressor": "A small neural network; needs scaled inputs and more rows than most.",
    "DummyClassifier": "A baseline that ignores the inputs (e.g. always the most frequent "
    "class): a real model must beat it.",
    "DummyRegressor": "A baseline that ignores the inputs (e.g. always the mean): a real model "
    "must beat it.",
}

#: How tables and scikit-learn spell a metric: "CV f1_macro", "mean_test_neg_log_loss"...
_PREFIXES = (
    "CV ",
    "hold-out ",
    "mean_test_",
    "std_test_",
    "mean_train_",
    "test_",
    "train_",
    "cv_",
    "neg_",
)


def metric(term: str) -> str | None:
    """The plain-language meaning of a metric, or None; scikit-learn's spellings of it all
    find it: ``neg_mean_absolute_error``, ``mean_test_r2``, ``cv_accuracy``."""
    name = term
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return METRICS.get(name.removeprefix("neg_"))


def step(name: str) -> str | None:
    """What a pipeline step (a class name, or "passthrough") does, or None."""
    return STEPS.get(name)
