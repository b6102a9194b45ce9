"""Layer types, one class each (see base.LayerType for the contract)."""
