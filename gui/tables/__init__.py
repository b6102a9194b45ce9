"""Qt item models over core result rows."""
