"""jobtui.app."""
