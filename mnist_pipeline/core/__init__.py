"""Plumbing every layer uses: errors, params, paths, atomic files, MNIST facts, the command runner."""
