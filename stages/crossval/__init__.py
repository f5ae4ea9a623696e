"""The cross-validation pipeline's stages (crossval/dvc.yaml): folds@<model> (its folds, on Ray) -> report."""
