"""The paper's experiments as functions that return tidy records."""
