"""largebatch: reproductions of large-minibatch data-parallel SGD results on one shared core."""

__version__ = "0.1.0"
