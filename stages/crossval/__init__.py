"""The cross-validation pipeline's stages (crossval/dvc.yaml): split -> fold@<model>-<fold> -> report."""
