"""cliff commands, one module per noun; registered under ``directord.cli``."""
