"""Between networks and PyTorch: build (Network -> nn.Module), importer (nn.Module ->
Network through torch.fx), codegen (PyTorch source) and resolve (a MODEL argument ->
Network).

Imports core.graph and core.common; torch only inside the modules that need it.
"""
