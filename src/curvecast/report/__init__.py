"""Figures and the HTML report (matplotlib imported only when a figure is drawn)."""
