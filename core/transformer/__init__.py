"""The Transformer lab's engine: an encoder-decoder configuration, its runnable torch module
built from explicit blocks, and the ledger of bits crossing between consecutive blocks (with
KV cache, stored activations and tensor-parallel traffic). It may import core.common,
core.graph and core.torchbridge; torch is imported lazily, only where a module is built or run."""
