"""Layer types, one class each (see base.LayerType for the contract); torch_modules holds
the torch modules they build where torch has no single class."""
