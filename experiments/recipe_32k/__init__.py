"""The 32k-batch recipe (Akiba, Suzuki & Fukuda, arXiv 1711.04325): RMSprop warm-up, slow start, BN without
moving averages and fp16 gradient communication, ablated at cpu scale (see README.md)."""
