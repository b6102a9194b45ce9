"""The network editor: palette, canvas, property form, document and undo commands."""
