"""The live window's user interface: ``display`` (can a window open here; the window), ``hud`` (the overlay),
``controls`` (the hotkeys)."""
