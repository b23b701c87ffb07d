"""Figures (matplotlib only here), saved as PNG without a screen."""
