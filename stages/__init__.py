"""DVC stage entry points: `python -m stages.<name>`; each is a thin main() over mnist_pipeline."""
